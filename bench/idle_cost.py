"""What Warden's five services cost while nothing happens: 10 managed containers, default
intervals, CPU (% of one core), RSS and PSS per service, measured from /proc.

    .venv/bin/python -m bench.idle_cost [--seconds 60] [--python PATH] [--against REF]

--against REF measures another commit (a temporary git worktree of it) in the same run,
first, with the same broker, containers and config, and prints both side by side.

--python runs the services (and the import costs) under another interpreter: a virtualenv
with Warden installed as users install it, without the test extras, measures what users
get (the test extras bring PySocks, which an installed paho would import).

Needs the Docker engine and the test image (tests create it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.rig import HOST, Rig
from tests.support.broker import free_port

SERVICES = ("sensors", "governor", "actuator", "notifier", "web")
REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# Run in a fresh interpreter: what importing a service's entry point costs before it runs,
# and which installed packages (not the standard library) that brings in.
_IMPORTS = """
import json, sys, sysconfig
stdlib = sysconfig.get_paths()["stdlib"]
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
before = rss()
for name in sys.argv[1:]:
    __import__(name)
if "pydantic" in sys.argv[1:]:
    # pydantic loads its schema machinery with the first model, not on import.
    from pydantic import BaseModel
    type("One", (BaseModel,), {"__annotations__": {"x": int}})(x=1).model_dump_json()
packages = sorted({
    m.split(".")[0] for m, mod in list(sys.modules.items())
    if getattr(mod, "__file__", None) and not mod.__file__.startswith(stdlib)
    and not m.startswith(("services", "shared", "_"))
})
print(json.dumps({"before": before, "after": rss(), "modules": len(sys.modules),
                  "packages": packages}))
"""
# What every service needs whatever it does: the models, the bus, the config file.
FLOOR = ("pydantic", "shared.bus", "yaml")


def import_cost(python: str, *modules: str) -> dict[str, object]:
    out = subprocess.run(
        [python, "-c", _IMPORTS, *modules],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def print_imports(python: str) -> None:
    bare = import_cost(python)
    floor = import_cost(python, *FLOOR)
    print(f"a bare interpreter: {bare['before']:.1f} MB RSS, {bare['modules']} modules")
    print(
        f"with {', '.join(FLOOR)} and one model only: {floor['after']:.1f} MB, "
        f"{floor['modules']} modules"
    )
    print(f"{'service':10} {'RSS after imports':>18} {'modules':>8}  packages beyond the stdlib")
    for name in SERVICES:
        cost = import_cost(python, f"services.{name}.__main__")
        packages = " ".join(str(p) for p in cost["packages"])  # type: ignore[attr-defined]
        print(f"{name:10} {cost['after']:15.1f} MB {cost['modules']:>8}  {packages}")


def pss_mb(pid: int) -> float:
    """RSS with each shared page split among the processes mapping it: what they use together."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class Reading:
    cpu: float
    rss: float
    pss: float


def measure(
    rig: Rig, config: Path, python: str, checkout: Path, warmup: float, seconds: float
) -> dict[str, Reading]:
    """The five services of `checkout`, idle: CPU over `seconds` after `warmup`, then memory."""
    logdir = rig.workdir / checkout.name
    logdir.mkdir(exist_ok=True)
    started = {
        name: rig.service(name, config, python, checkout=checkout, logdir=logdir)
        for name in SERVICES
    }
    try:
        for name in ("sensors", "governor", "actuator"):
            rig.probe.wait_for(
                f"warden/{HOST}/{name}/availability",
                lambda s: s.text == "online",
                after=time.monotonic() - 1,
                timeout=60,
            )
        time.sleep(warmup)
        pids = {name: s.process.pid for name, s in started.items()}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        start = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - start
        return {
            name: Reading(
                100 * (cpu_seconds(pid) - before[name]) / elapsed, rss_mb(pid), pss_mb(pid)
            )
            for name, pid in pids.items()
        }
    finally:
        for service in started.values():
            service.stop()


def print_table(runs: dict[str, dict[str, Reading]]) -> None:
    labels = list(runs)
    head = "".join(f" | {label[:26]:>26}" for label in labels)
    print(f"{'':10}{head}")
    print(
        f"{'service':10}" + " | {:>8} {:>8} {:>8}".format("CPU %", "RSS MB", "PSS MB") * len(runs)
    )
    for name in [*SERVICES, "all five"]:
        row = f"{name:10}"
        for label in labels:
            readings = runs[label].values() if name == "all five" else [runs[label][name]]
            cpu = sum(r.cpu for r in readings)
            rss = sum(r.rss for r in readings)
            pss = sum(r.pss for r in readings)
            row += f" | {cpu:8.2f} {rss:8.1f} {pss:8.1f}"
        print(row)
    print("budget: the five at most 0.5 % of one core and 170 MB PSS together")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=15)
    parser.add_argument("--python", default=sys.executable, help="the services' interpreter")
    parser.add_argument("--against", help="a git ref measured first, in the same run")
    args = parser.parse_args()
    print(f"services run under {args.python}")
    checkouts = {"this checkout": REPO}
    with contextlib.ExitStack() as stack:
        if args.against:
            other = Path(tempfile.mkdtemp(prefix="warden-against-")) / "against"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(other), args.against],
                cwd=REPO,
                check=True,
                capture_output=True,
            )
            stack.callback(
                subprocess.run,
                ["git", "worktree", "remove", "--force", str(other)],
                cwd=REPO,
                check=False,
            )
            checkouts = {args.against: other, **checkouts}
        rig = stack.enter_context(Rig(with_docker=True))
        containers = rig.containers
        assert containers is not None
        for n in range(10):
            containers.run(f"c{n}")
        p = containers.prefix
        config = rig.config(
            tiers={
                1: {"containers": [f"{p}-c0", f"{p}-c1"]},
                2: {"containers": [f"{p}-c2", f"{p}-c3", f"{p}-c4", f"{p}-c5"]},
                3: {"containers": [f"{p}-c6", f"{p}-c7", f"{p}-c8", f"{p}-c9"]},
            },
            actuator={"state_file": str(rig.workdir / "state.json")},
            # One destination, as most users have: the notifier loads what sends to it.
            notifications={
                "outbox_file": str(rig.workdir / "outbox.json"),
                "ntfy_url": "http://127.0.0.1:9/warden",
            },
            general={"http_server": {"host": "127.0.0.1", "port": free_port()}},
            web={"database": str(rig.workdir / "web.sqlite3")},
        )
        runs = {
            label: measure(rig, config, args.python, checkout, args.warmup, args.seconds)
            for label, checkout in checkouts.items()
        }
        print(f"idle for {args.seconds:.0f} s each, with 10 managed containers")
        print_table(runs)
    print()
    print_imports(args.python)


if __name__ == "__main__":
    main()
