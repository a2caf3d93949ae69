"""What Warden's four services cost while nothing happens: 10 managed containers, default
intervals, CPU (% of one core) and RSS per service, measured from /proc.

    .venv/bin/python -m bench.idle_cost [--seconds 60] [--python PATH]

--python runs the services (and the import costs) under another interpreter: a virtualenv
with Warden installed as users install it, without the test extras, measures what users
get (the test extras bring PySocks, which an installed paho would import).

Needs the Docker engine and the test image (tests create it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.rig import HOST, Rig

SERVICES = ("sensors", "governor", "actuator", "notifier")
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
FLOOR = ("pydantic", "shared.mqtt.client", "yaml")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=15)
    parser.add_argument("--python", default=sys.executable, help="the services' interpreter")
    args = parser.parse_args()
    print(f"services run under {args.python}")
    with Rig(with_docker=True) as rig:
        containers, probe = rig.containers, rig.probe
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
            notifications={"outbox_file": str(rig.workdir / "outbox.json")},
        )
        started = {name: rig.service(name, config, args.python) for name in SERVICES}
        for name in ("sensors", "governor", "actuator"):
            probe.wait_for(f"warden/{HOST}/{name}/availability", lambda s: s.text == "online")
        time.sleep(args.warmup)
        pids = {name: s.process.pid for name, s in started.items()}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        start = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - start
        total_cpu = total_rss = total_pss = 0.0
        print(f"idle for {elapsed:.0f} s with 10 managed containers")
        print(f"{'service':10} {'CPU % of a core':>16} {'RSS MB':>8} {'PSS MB':>8}")
        for name, pid in pids.items():
            cpu = 100 * (cpu_seconds(pid) - before[name]) / elapsed
            rss, pss = rss_mb(pid), pss_mb(pid)
            total_cpu += cpu
            total_rss += rss
            total_pss += pss
            print(f"{name:10} {cpu:16.2f} {rss:8.1f} {pss:8.1f}")
        print(f"{'all four':10} {total_cpu:16.2f} {total_rss:8.1f} {total_pss:8.1f}")
        print("targets: at most 0.5 % of one core and 150 MB RSS")
    print()
    print_imports(args.python)


if __name__ == "__main__":
    main()
