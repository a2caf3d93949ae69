"""`warden status`, `trigger` and `why` against a real stack (broker, sensors, governor and
actuator as processes, real containers, a host 76 °C hot through a sysfs tree of its
own), read as a person on SSH reads them; the existing console scripts still answer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import Mosquitto, free_port
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import REPO, wait_until, write_config
from tests.support.sysfs_machines import write
from tests.support.web import running, stack_config


def warden(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "cli", *args]
    if config is not None:
        argv += ["--config", str(config)]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.fixture
def hot_stack(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str, containers: Containers
) -> Iterator[tuple[Path, Containers]]:
    sysfs = write(
        tmp_path / "sys",
        {
            "class/thermal/thermal_zone0/type": "x86_pkg_temp\n",
            "class/thermal/thermal_zone0/temp": "76000\n",
        },
    )
    for suffix in ("db", "t3-enc", "other"):
        containers.run(suffix)
    cfg = stack_config(
        tmp_path,
        broker,
        host_id,
        containers,
        free_port(),
        sensors={"sys_root": str(sysfs), "gpu": {"enabled": False}},
        media_mode={"enabled": True, "provider": "webhook", "cooldown_seconds": 2},
        process_groups=[{"name": "encoders", "match_name": ["never-running-xyz"]}],
    )
    with running(cfg, tmp_path, probe, host_id, "sensors", "governor", "actuator"):
        yield cfg, containers


def test_status_trigger_and_why_on_a_real_stack(
    hot_stack: tuple[Path, Containers], host_id: str
) -> None:
    cfg, containers = hot_stack
    t3, db, other = containers.name("t3-enc"), containers.name("db"), containers.name("other")

    def status() -> str:
        done = warden("status", config=cfg)
        assert done.returncode == 0, done.stderr
        return done.stdout

    wait_until(
        lambda: f"{t3}  3" in status() and "thermal_stage1" in status(),
        timeout=60,
        what="the hot host's tier 3 container paused in `warden status`",
    )

    sent = warden("trigger", "media_start", config=cfg)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == f"sent media_start to warden/{host_id}/trigger"
    wait_until(lambda: "media mode:  on (forced by trigger)" in status(), what="media mode on")

    out = status()
    assert "\033[" not in out  # no colours off a terminal
    assert f"Warden on {host_id}" in out and "governor online" in out
    assert "thermal 1" in out
    rows = {
        line.split()[0]: line for line in out.splitlines() if line.startswith(containers.prefix)
    }
    assert rows[t3].split()[1:3] == ["3", "paused"]
    assert (
        "thermal_stage1(temperature_c" in rows[t3] and "media_mode(forced by trigger)" in rows[t3]
    )
    assert rows[db].split()[1:4] == ["1", "running", "-"]
    assert rows[other].split()[1:4] == ["-", "running", "-"]
    assert "encoders" in out and "PROCESS GROUP" in out

    data = json.loads(warden("status", "--json", config=cfg).stdout)
    assert data["media_mode"]["forced"] is True and data["stages"]["thermal_stage"] == 1
    (row,) = [c for c in data["containers"] if c["name"] == t3]
    assert row["tier"] == 3 and row["paused"] is True and len(row["reasons"]) == 2

    why = warden("why", t3, config=cfg)
    assert why.returncode == 0, why.stderr
    text = why.stdout
    assert text.startswith(f"{t3} (tier 3, paused)")
    assert "in force: paused" in text
    assert "thermal_stage1: ends after 30s below 65°C" in text
    assert "reading: temperature_c = 76, threshold 75" in text
    assert "media_mode: forced by trigger" in text
    assert "ends: a media_stop trigger, then a cooldown of 2 s" in text

    calm = warden("why", db, config=cfg).stdout
    assert "no reason in force: it runs at its tier 1 baseline" in calm
    assert "in no tier: Warden leaves it alone" in warden("why", other, config=cfg).stdout
    unknown = warden("why", "nosuch", config=cfg)
    assert unknown.returncode == 1 and t3 in unknown.stderr

    assert warden("trigger", "media_stop", config=cfg).returncode == 0
    wait_until(lambda: "media mode:  off" in status(), timeout=60, what="media mode off")


def test_bad_input_and_no_broker_say_why(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "config.yaml", {"mqtt": {"host": "127.0.0.1", "port": free_port()}}
    )
    bad = warden("trigger", "make_coffee", config=cfg)
    assert bad.returncode == 2 and "media_start" in bad.stderr
    gone = warden("status", "--timeout", "1", config=cfg)
    assert gone.returncode == 1 and "cannot reach the broker at mqtt://127.0.0.1" in gone.stderr


def test_check_config_and_the_old_console_scripts(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "tiers": {3: {"containers": ["tdarr"]}},
            "sensors": {"docker_url": f"unix://{tmp_path}/none.sock"},
        },
    )
    done = warden("check-config", config=cfg)
    assert done.returncode == 0 and f"{cfg}: OK" in done.stdout
    assert "could not be asked" in done.stdout
    help_text = warden("--help").stdout
    for command in ("run", "status", "trigger", "why", "check-config", "cleanup"):
        assert f"    {command}" in help_text
    # The existing entry points, as the console scripts call them.
    for service in ("sensors", "governor", "actuator", "notifier", "web"):
        old = subprocess.run(
            [sys.executable, "-m", f"services.{service}", "--config", str(cfg), "--check-config"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert old.returncode == 0, old.stderr
    scripts = (REPO / "pyproject.toml").read_text()
    assert (
        'warden = "cli.main:main"' in scripts and 'warden-stack = "services.stack:main"' in scripts
    )


def test_run_starts_the_stack_on_the_config_it_is_given(tmp_path: Path) -> None:
    """What scripts/run execs: warden-stack's entry point, here told only to print its plan."""
    cfg = write_config(
        tmp_path / "config.yaml", {"mqtt": {"host": "127.0.0.1", "port": free_port()}}
    )
    done = warden("run", "--config", str(cfg), "--", "--run-dir", str(tmp_path), "--print-env")
    assert done.returncode == 0, done.stderr
    assert f"WARDEN_CONFIG={cfg}" in done.stdout
