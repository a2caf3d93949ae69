"""warden-stack as root, as `scripts/run` starts it: each service under its own user, the
secrets each readable by whom it must be, the sensors on the read-only Docker proxy, and
Warden still working end to end (a trigger pauses a tier-3 container; the dashboard's
admin token changes a setting). What the kernel lets each process open is asked of the
kernel: a file is opened as a process with that process's ids (from /proc) would."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import httpx2
import pytest

from services.stack import accounts
from services.stack.plan import StackPaths, StackPlan
from services.stack.prepare import PrepareError, prepare
from shared.config import WardenConfig
from tests.support.broker import free_port, wait_for_port
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import REPO, wait_until, write_config
from tests.support.real import missing
from tests.support.service_users import (
    Identity,
    pids_named,
    reachable_by_others,
    service_python,
    shared_workdir,
)
from tests.support.stack import SERVICES, Stack, assert_all, service_pid

USERS = {
    "sensors": "warden-sensors",
    "governor": "warden-governor",
    "actuator": "root",
    "notifier": "warden-notifier",
    "web": "warden-web",
}


def needs_root_parts() -> str:
    """The interpreter the services' users run, or the reason the test cannot run here."""
    if os.geteuid() != 0:
        missing("warden-stack makes system users and runs services as them: needs root")
    for program in ("mosquitto", "haproxy", "useradd", "setpriv"):
        if not (shutil.which(program) or Path(f"/usr/sbin/{program}").exists()):
            missing(f"{program} is not installed (apt-get install mosquitto haproxy passwd)")
    try:
        return service_python()
    except RuntimeError as exc:
        missing(f"no Python the services' users can run: {exc}")


def checkout_for_others(workdir: Path) -> Path:
    """This checkout, or a copy of its code where other users can reach it."""
    if reachable_by_others(REPO / "services" / "__init__.py"):
        return REPO
    copy = workdir / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", ".venv", ".git", "run")
    for part in ("shared", "host", "services", "deploy"):
        shutil.copytree(REPO / part, copy / part, ignore=ignore)
    shutil.copy(REPO / "config.example.yaml", copy)
    return copy


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = shared_workdir("warden-stack-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def identities(config: Path, run_dir: Path) -> dict[str, Identity]:
    found = {name: Identity.of(service_pid(name, config)) for name in SERVICES}
    [broker] = pids_named(str(run_dir / "mosquitto.conf"))
    found["broker"] = Identity.of(broker)
    [proxy] = [pid for pid in pids_named("haproxy") if Identity.of(pid).uid != 0]
    found["proxy"] = Identity.of(proxy)
    return found


def uid(name: str) -> int:
    return pwd.getpwnam(name).pw_uid


def connects(identity: Identity, python: str, socket_path: Path) -> bool:
    code = f"import socket; socket.socket(socket.AF_UNIX).connect({str(socket_path)!r})"
    return identity.run([python, "-c", code]).returncode == 0


def test_each_service_runs_as_its_own_user_with_only_its_secrets(
    workdir: Path, containers: Containers, docker_api: docker.APIClient, host_id: str
) -> None:
    python = needs_root_parts()
    checkout = checkout_for_others(workdir)
    tier3 = containers.run("t3")
    port, http_port = free_port(), free_port()
    config = write_config(
        workdir / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"port": port, "reconnect_min_seconds": 0.2, "reconnect_max_seconds": 1},
            "general": {"http_server": {"port": http_port}},
            "tiers": {3: {"containers": [containers.name("t3")]}},
            "actuator": {
                "state_file": str(workdir / "actuator-state.json"),
                "startup_grace_seconds": 1,
            },
        },
    )
    run_dir, state = workdir / "run", workdir / "state"
    running = Stack(config, run_dir, "--state-dir", str(state), python=python, cwd=checkout)
    try:
        try:
            wait_for_port(port, timeout=60)
        except TimeoutError:
            pytest.fail(f"no local broker; stack output:\n{running.output()[-6000:]}")
        probe = Probe("127.0.0.1", port, subscribe=f"warden/{host_id}/#")
        try:
            assert_all(probe, host_id, "online", 0.0, running)
            ids = identities(config, run_dir)
            assert_identities(ids)
            environ = Path(f"/proc/{service_pid('sensors', config)}/environ").read_bytes()
            door = f"WARDEN_SENSORS_DOCKER_URL=unix://{run_dir / 'docker-ro.sock'}"
            assert door.encode() in environ.split(b"\0")
            assert_secrets(ids, run_dir)
            assert_docker_door(ids, python, run_dir, docker_api, tier3, containers)
            # The sensors list the engine's containers through the proxy.
            probe.wait_for(
                f"warden/{host_id}/sensors/containers",
                lambda s: containers.name("t3") in s.text,
                timeout=30,
            )
            # End to end: a trigger, the governor's signed state, the root actuator.
            probe.publish(f"warden/{host_id}/trigger", "tier3_pause")
            wait_until(lambda: containers.state(tier3) == "paused", 30, "tier 3 paused")
            probe.publish(f"warden/{host_id}/trigger", "tier3_resume")
            wait_until(lambda: containers.state(tier3) == "running", 30, "tier 3 running")
            assert_admin_token_changes_a_setting(probe, host_id, run_dir, http_port, running)
            assert_anonymous_only_triggers(probe, host_id, run_dir, port)
        finally:
            probe.close()
        assert running.terminate() == 0, running.output()[-4000:]
    finally:
        running.cleanup()
    with pytest.raises(TimeoutError):
        wait_for_port(port, timeout=1)  # the broker went with the stack
    # The web service kept its settings in its own state directory.
    database = state / "web" / "web.sqlite3"
    assert (database.stat().st_uid, stat.S_IMODE(database.stat().st_mode)) == (
        uid("warden-web"),
        0o600,
    )
    output = running.output()
    assert f"sudo cat {run_dir / 'web-admin.token'}" in output
    assert "the actuator runs as root; sensors as warden-sensors" in output


def assert_identities(ids: dict[str, Identity]) -> None:
    config_group = grp.getgrnam(accounts.CONFIG_GROUP).gr_gid
    for service, user in USERS.items():
        identity = ids[service]
        assert identity.uid == uid(user), service
        if user != "root":
            assert identity.gid == pwd.getpwnam(user).pw_gid, service
            # Its own group and the config's, nothing else (not docker, not another's).
            assert set(identity.groups) == {identity.gid, config_group}, service
    assert ids["broker"].uid == uid("mosquitto")
    assert ids["proxy"].uid == uid("warden-docker-proxy")
    assert ids["proxy"].gid == os.stat("/var/run/docker.sock").st_gid
    assert ids["proxy"].groups in ((), (ids["proxy"].gid,))


def assert_secrets(ids: dict[str, Identity], run_dir: Path) -> None:
    """Each secret opens for its reader alone (and for root, the actuator)."""
    readers = {
        run_dir / "signing.key": {"governor", "actuator"},
        run_dir / "web-admin.token": {"web", "actuator"},
        **{run_dir / "mqtt" / f"{name}.password": {name, "actuator"} for name in SERVICES},
        run_dir / "mosquitto.passwd": {"broker", "actuator"},
        run_dir / "mosquitto.acl": {"broker", "actuator"},
        run_dir / "mosquitto.conf": {"broker", "actuator"},
    }
    for path, allowed in readers.items():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        opened = {name for name, identity in ids.items() if identity.can_open(path)}
        assert opened == allowed, path
    # The run directory is passed through, never listed, by anyone but root.
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o711


def assert_docker_door(
    ids: dict[str, Identity],
    python: str,
    run_dir: Path,
    docker_api: docker.APIClient,
    tier3: str,
    containers: Containers,
) -> None:
    door = run_dir / "docker-ro.sock"
    engine = Path("/var/run/docker.sock")
    assert not connects(ids["sensors"], python, engine)
    assert connects(ids["sensors"], python, door)
    for other in ("governor", "notifier", "web"):
        assert not connects(ids[other], python, door), other
    proxy = docker.APIClient(base_url=f"unix://{door}", version=docker_api.api_version)
    try:
        assert tier3 in {c["Id"] for c in proxy.containers(all=True)}
        assert proxy.inspect_container(tier3)["Id"] == tier3
        with pytest.raises(docker.errors.APIError) as logs:
            proxy.logs(tier3)
        assert logs.value.status_code == 403
        with pytest.raises(docker.errors.APIError) as pause:
            proxy.pause(tier3)
        assert pause.value.status_code == 405
        assert containers.state(tier3) == "running"
    finally:
        proxy.close()


def assert_admin_token_changes_a_setting(
    probe: Probe, host_id: str, run_dir: Path, port: int, running: Stack
) -> None:
    """The newcomer's minute: the token the stack printed, pasted as the page sends it."""
    token = (run_dir / "web-admin.token").read_text().strip()
    url = f"http://127.0.0.1:{port}/api/v1/settings/resources"
    with httpx2.Client(timeout=10) as client:
        refused = client.post(url, json={"preset": "aggressive"})
        assert refused.status_code == 401, refused.text
        changed = client.post(
            url, json={"preset": "aggressive"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert changed.status_code == 200, (changed.text, running.output()[-3000:])
    # The governor took it: the preset in force is the one the dashboard set.
    probe.wait_for(f"warden/{host_id}/preset", lambda s: s.text.lower() == "aggressive")


def assert_anonymous_only_triggers(probe: Probe, host_id: str, run_dir: Path, port: int) -> None:
    """The local broker as the stack wrote it: the probe, logged in as no one, reads the
    bus and fires triggers, and nothing it writes elsewhere goes through."""
    assert (run_dir / "mosquitto.conf").read_text().splitlines() == [
        "# Written by warden-stack for this run; see deploy/mosquitto/mosquitto.conf.",
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        f"password_file {run_dir}/mosquitto.passwd",
        f"acl_file {run_dir}/mosquitto.acl",
        "user mosquitto",
        "persistence false",
        "log_dest stdout",
        "set_tcp_nodelay true",
    ]
    passwd = (run_dir / "mosquitto.passwd").read_text()
    assert sorted(line.split(":")[0] for line in passwd.splitlines()) == sorted(SERVICES)
    forged = (f"warden/{host_id}/desired", f"warden/{host_id}/governor/availability")
    for topic in forged:
        probe.publish(topic, "forged", retain=True)
    # The broker forwards one client's messages in the order they came: once the probe
    # has its later trigger back, a forged write that had got through is there too.
    probe.publish(f"warden/{host_id}/trigger", "tier3_resume")
    probe.wait_for(f"warden/{host_id}/trigger", lambda s: s.text == "tier3_resume")
    assert not [s for s in probe.seen if s.payload == b"forged"]
    # And the broker kept the governor's retained words, not the forged ones: a newcomer
    # is handed them on subscribing.
    newcomer = Probe("127.0.0.1", port, subscribe=f"warden/{host_id}/#")
    try:
        for topic in forged:
            kept = newcomer.wait_for(topic, lambda s: s.retained)
            assert kept.payload != b"forged", topic
        assert newcomer.wait_for(forged[1], lambda s: s.retained).text == "online"
    finally:
        newcomer.close()


# --- the same files on every start --------------------------------------------


def snapshot(*roots: Path) -> dict[str, tuple[int, int, int, str]]:
    found = {}
    for root in roots:
        for path in [root, *sorted(root.rglob("*"))]:
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            found[str(path)] = (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode), digest)
    return found


def test_a_second_start_changes_no_file(workdir: Path) -> None:
    python = needs_root_parts()  # the users and files only: nothing is started
    config_path = write_config(workdir / "config.yaml", {"mqtt": {"port": free_port()}})
    config = WardenConfig.model_validate({"mqtt": {"port": 1883}})
    paths = StackPaths(
        REPO,
        workdir / "run",
        config_path,
        python,
        "/usr/sbin/mosquitto",
        state_dir=workdir / "state",
    )
    plan = StackPlan(True, False, 1883, True, "test", docker_proxy=True, own_users=True)
    users = accounts.own_users("docker")
    said: list[str] = []
    # As an older stack left it: the run directory root's alone, the secrets root's.
    (workdir / "run").mkdir(mode=0o700)
    (workdir / "run" / "signing.key").write_text("k" * 43 + "\n")
    (workdir / "run" / "signing.key").chmod(0o600)
    (workdir / "state").mkdir()
    (workdir / "state" / "web.sqlite3").write_text("settings")
    prepare(paths, plan, config, users, said.append)
    first = snapshot(workdir)
    prepare(paths, plan, config, users, said.append)
    assert snapshot(workdir) == first
    key = workdir / "run" / "signing.key"
    assert key.read_text() == "k" * 43 + "\n"  # kept, given to the governor
    assert key.stat().st_uid == uid("warden-governor")
    moved = workdir / "state" / "web" / "web.sqlite3"
    assert moved.read_text() == "settings" and moved.stat().st_uid == uid("warden-web")
    assert said.count(f"moved {workdir / 'state' / 'web.sqlite3'} to {moved}") == 1
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o640
    assert config_path.stat().st_gid == grp.getgrnam(accounts.CONFIG_GROUP).gr_gid


def test_a_directory_closed_to_the_services_is_named(workdir: Path) -> None:
    """A config (or checkout) under a directory other users cannot pass, as /root is: the
    stack says which one, rather than five services failing to start."""
    python = needs_root_parts()
    closed = workdir / "home"
    closed.mkdir(mode=0o700)
    config_path = write_config(closed / "config.yaml", {})
    paths = StackPaths(
        REPO, workdir / "run", config_path, python, "/usr/sbin/mosquitto", state_dir=workdir / "s"
    )
    plan = StackPlan(False, False, 1883, True, "test", own_users=True)
    with pytest.raises(PrepareError, match=f"cannot reach {config_path}: {closed} is closed"):
        prepare(paths, plan, WardenConfig(), accounts.own_users(None), lambda _line: None)
