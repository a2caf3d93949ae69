"""ADRG's host as it is: /etc/adrg/config.yaml and its adrg.env read when no --config is
given and /etc/warden has none (said once), and --check-config asking Docker which
running containers land in which tier, as ADRG's does; without Docker it says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config.loader import choose_config
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.processes import REPO, wait_until, write_config


def etc(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("tiers: {}\n")


@pytest.mark.parametrize(
    ("present", "given", "environ", "expect", "source"),
    [
        ([], None, {}, "etc/warden/config.yaml", "warden"),
        (["etc/adrg/config.yaml"], None, {}, "etc/adrg/config.yaml", "adrg"),
        (
            ["etc/adrg/config.yaml", "etc/warden/config.yaml"],
            None,
            {},
            "etc/warden/config.yaml",
            "warden",
        ),
        (["etc/adrg/config.yaml"], "mine.yaml", {}, "mine.yaml", "given"),
        (["etc/adrg/config.yaml"], None, {"WARDEN_CONFIG": "env.yaml"}, "env.yaml", "given"),
    ],
)
def test_which_config_is_read(
    tmp_path: Path,
    present: list[str],
    given: str | None,
    environ: dict[str, str],
    expect: str,
    source: str,
) -> None:
    etc(tmp_path, *present)
    choice = choose_config(given, environ, tmp_path)
    assert (choice.source, choice.path) == (
        source,
        tmp_path / expect if source != "given" else Path(expect),
    )


def adrg_root(tmp_path: Path, extra: str = "") -> Path:
    """An ADRG host's /etc/adrg: its config naming ${ADRG_...} secrets, and adrg.env."""
    root = tmp_path / "root"
    (root / "etc/adrg").mkdir(parents=True)
    (root / "etc/adrg/config.yaml").write_text(
        "tiers:\n  3:\n    name: Bulk\n    containers: ['tdarr*']\n"
        "notifications:\n  ntfy_url: ${ADRG_NTFY_URL}\n" + extra
    )
    (root / "etc/adrg/adrg.env").write_text("ADRG_NTFY_URL=https://ntfy.example/warden\n")
    return root


def without_config_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("WARDEN_CONFIG", "WARDEN_ENV_FILE")}


def test_check_config_reads_adrg_s_files_on_a_temp_root(tmp_path: Path) -> None:
    root = adrg_root(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "services.governor", "--check-config"],
        cwd=REPO,
        env={**without_config_env(), "WARDEN_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"{root}/etc/adrg/config.yaml: OK" in done.stdout
    assert f"env file: {root}/etc/adrg/adrg.env" in done.stdout
    assert "read ADRG's" in done.stdout and "there is no /etc/warden/config.yaml" in done.stdout
    assert "set nowhere" not in done.stdout  # ${ADRG_NTFY_URL} came from adrg.env


def test_a_service_says_once_that_it_runs_on_adrg_s_config(
    tmp_path: Path, broker: Mosquitto, host_id: str
) -> None:
    root = adrg_root(
        tmp_path, f"host_id: {host_id}\nmqtt:\n  host: {broker.host}\n  port: {broker.port}\n"
    )
    log = tmp_path / "governor.log"
    with log.open("wb") as out:
        governor = subprocess.Popen(
            [sys.executable, "-m", "services.governor"],
            cwd=REPO,
            env={**without_config_env(), "WARDEN_ROOT": str(root), "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "bus.connected" in log.read_text(), what="the governor up")
        governor.send_signal(signal.SIGHUP)
        wait_until(lambda: "config.reloaded" in log.read_text(), what="a reload")
    finally:
        governor.send_signal(signal.SIGTERM)
        governor.wait(20)
    text = log.read_text()
    assert text.count("config.adrg_fallback") == 1, text
    (line,) = [x for x in text.splitlines() if "config.adrg_fallback" in x]
    assert f"{root}/etc/adrg/config.yaml" in line and f"{root}/etc/adrg/adrg.env" in line


def check_config(config: Path, service: str = "sensors") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}", "--config", str(config), "--check-config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_config_asks_the_real_engine(tmp_path: Path, containers: Containers) -> None:
    for suffix in ("t3-a", "t3-b", "db", "lonely"):
        containers.run(suffix)
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "tiers": {
                1: {"name": "Interactive", "containers": [containers.name("db")]},
                3: {"name": "Bulk", "containers": [f"{containers.prefix}-t3*"]},
            },
            "protected_containers": [containers.name("db"), containers.name("gone")],
        },
    )
    for service in ("sensors", "actuator"):
        done = check_config(cfg, service)
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert f"{containers.name('t3-a')}: tier 3 (Bulk)\n" in out, out
        assert f"{containers.name('t3-b')}: tier 3 (Bulk)\n" in out
        assert f"{containers.name('db')}: tier 1 (Interactive), protected\n" in out
        unmatched = next(x for x in out.splitlines() if "match no tier" in x)
        assert containers.name("lonely") in unmatched
        assert f"protected but not running: {containers.name('gone')}" in out


def test_check_config_without_docker_says_so(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "tiers": {3: {"containers": ["tdarr"]}},
            "sensors": {"docker_url": f"unix://{tmp_path}/no-docker.sock"},
        },
    )
    done = check_config(cfg)
    assert done.returncode == 0, done.stderr
    assert f"{cfg}: OK" in done.stdout
    assert f"Docker at unix://{tmp_path}/no-docker.sock could not be asked" in done.stdout
    # A service with no Docker access says where to ask instead.
    assert "`warden check-config` asks Docker" in check_config(cfg, "governor").stdout
