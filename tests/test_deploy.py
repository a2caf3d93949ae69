"""The ways to run Warden: warden-stack + supervisord, compose, the shipped broker configs."""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from supervisor.datatypes import RestartUnconditionally
from supervisor.options import ClientOptions, ServerOptions

from services import stack
from shared.config import WardenConfig
from tests.support.acl_broker import AclBroker, login, password, refused, shipped_acl_broker
from tests.support.broker import Mosquitto, free_port
from tests.support.compose_stack import SERVICE_UIDS, compose_command
from tests.support.probe import Probe
from tests.support.processes import REPO, wait_until, write_config
from tests.support.real import missing
from tests.support.service_users import (
    Identity,
    reachable_by_others,
    service_python,
    shared_workdir,
)
from tests.support.stack import SERVICES, Stack, assert_all, service_pid, stack_command

DEPLOY = REPO / "deploy"
SUPERVISORD_CONF = DEPLOY / "supervisord.conf"
ACL = DEPLOY / "mosquitto" / "acl"


def config_of(data: dict) -> WardenConfig:
    return WardenConfig.model_validate(data)


# --- (a) the launcher's decisions --------------------------------------------


def test_a_broker_already_on_the_local_port_is_used_not_fought() -> None:
    plan = stack.plan_stack(config_of({}), True, True, True, local_port_taken=True)
    assert (plan.local_broker, plan.reuse_broker) == (False, True)
    assert "already listens on 127.0.0.1:1883" in stack.describe(plan, config_of({}))[0]
    remote = stack.plan_stack(config_of(REMOTE), True, True, True, local_port_taken=True)
    assert (remote.local_broker, remote.reuse_broker) == (False, False)


def test_port_taken_sees_a_real_listener(broker: Mosquitto) -> None:
    assert stack.port_taken(broker.port)
    assert not stack.port_taken(free_port())


LOCAL: dict[str, object] = {}
REMOTE = {"mqtt": {"host": "broker.lan", "port": 1884}}
CONFIG_DRY = {"actuator": {"dry_run": True}}


@pytest.mark.parametrize(
    ("data", "is_root", "docker_ok", "cgroup_ok", "flag", "local", "port", "reason"),
    [
        (LOCAL, True, True, True, False, True, 1883, None),
        (REMOTE, True, True, True, False, False, 1884, None),
        ({"mqtt": {"port": 2883}}, True, True, True, False, True, 2883, None),
        (LOCAL, True, True, True, True, True, 1883, "--dry-run"),
        (CONFIG_DRY, True, True, True, False, True, 1883, "actuator.dry_run"),
        (REMOTE, False, True, True, False, False, 1884, "not running as root"),
        (LOCAL, True, False, True, False, True, 1883, "Docker socket"),
        (LOCAL, True, True, False, False, True, 1883, "cannot write under /sys/fs/cgroup"),
        # The first reason wins, so the line printed names what the operator asked for.
        (CONFIG_DRY, False, False, False, True, True, 1883, "--dry-run"),
        (LOCAL, False, False, False, False, True, 1883, "not running as root"),
    ],
)
def test_plan_stack(
    data: dict,
    is_root: bool,
    docker_ok: bool,
    cgroup_ok: bool,
    flag: bool,
    local: bool,
    port: int,
    reason: str | None,
) -> None:
    plan = stack.plan_stack(config_of(data), is_root, docker_ok, cgroup_ok, dry_run_flag=flag)
    assert plan.own_users is is_root  # each service its own user only where root makes them
    assert plan.local_broker is local and plan.reuse_broker is False
    assert plan.broker_port == port
    assert plan.dry_run is (reason is not None)
    if reason is None:
        assert plan.dry_run_reason is None
    else:
        assert reason in (plan.dry_run_reason or "")


def test_docker_socket_check(tmp_path: Path) -> None:
    # No socket means no Docker on this host, which is not a reason for dry-run.
    assert stack.docker_socket_ok(f"unix://{tmp_path}/absent.sock")
    assert stack.docker_socket_ok("tcp://docker-socket-proxy:2375")


# The engine's group and a user who is not root, as numbers: the kernel needs no names.
ENGINE_GID, STRANGER = 4242, 4243
AS_ROOT, AS_STRANGER = (0, 0, ()), (STRANGER, STRANGER, ())
IN_ENGINE_GROUP = (STRANGER, STRANGER, (ENGINE_GID,))


@pytest.mark.parametrize(
    ("mode", "owner", "as_ids", "usable"),
    [
        # Docker's own socket: root:docker 0660.
        (0o660, (0, ENGINE_GID), AS_ROOT, True),
        (0o660, (0, ENGINE_GID), IN_ENGINE_GROUP, True),
        (0o660, (0, ENGINE_GID), (STRANGER, ENGINE_GID, ()), True),  # its primary group
        (0o660, (0, ENGINE_GID), AS_STRANGER, False),
        # Reading is not enough: the API is spoken both ways.
        (0o640, (0, ENGINE_GID), IN_ENGINE_GROUP, False),
        (0o600, (0, ENGINE_GID), IN_ENGINE_GROUP, False),
        (0o000, (0, 0), AS_ROOT, True),  # root passes any mode
        # A rootless engine's socket, its user's own.
        (0o600, (STRANGER, STRANGER), AS_STRANGER, True),
        (0o400, (STRANGER, STRANGER), AS_STRANGER, False),
        (0o666, (0, 0), AS_STRANGER, True),
    ],
    ids=lambda value: oct(value) if type(value) is int else None,
)
def test_docker_socket_check_as_the_kernel_answers(
    mode: int, owner: tuple[int, int], as_ids: tuple[int, int, tuple[int, ...]], usable: bool
) -> None:
    """A real socket with a known mode and owner, judged by a process with these ids."""
    if os.geteuid() != 0:
        missing("the check is run as other users and groups, which needs root")
    workdir = shared_workdir("warden-docker-sock-")  # a directory every user passes through
    try:
        path = workdir / "docker.sock"
        with socket.socket(socket.AF_UNIX) as listening:
            listening.bind(str(path))
            os.chown(path, *owner)
            path.chmod(mode)
            assert docker_socket_ok_as(f"unix://{path}", *as_ids) is usable
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# Imports as root, then becomes the given ids for good, as a service started as them is.
AS_IDS = """
import os, sys
from services.stack.probe import docker_socket_ok
uid, gid = int(sys.argv[2]), int(sys.argv[3])
os.setgroups([int(g) for g in sys.argv[4:]])
os.setresgid(gid, gid, gid)
os.setresuid(uid, uid, uid)
print(docker_socket_ok(sys.argv[1]))
"""


def docker_socket_ok_as(url: str, uid: int, gid: int, groups: tuple[int, ...]) -> bool:
    argv = [sys.executable, "-c", AS_IDS, url, str(uid), str(gid), *map(str, groups)]
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return {"True\n": True, "False\n": False}[result.stdout]


def test_cgroup_check(tmp_path: Path) -> None:
    assert not stack.cgroup_writable(tmp_path / "absent")
    assert not stack.cgroup_writable(tmp_path)  # a directory, but no cgroup in it
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "cgroup.procs").touch()  # a v1 controller on a hybrid host
    assert stack.cgroup_writable(tmp_path)


def test_shipped_local_broker_conf_matches_the_generated_one() -> None:
    def settings(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]

    shipped = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    assert settings(shipped) == settings(stack.mosquitto_conf(1883, Path("run"), "mosquitto"))
    assert "listener 2883 127.0.0.1" in settings(stack.mosquitto_conf(2883, Path("run"), "x"))


def test_print_env_starts_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", {"mqtt": {"port": 2999}})
    run_dir = tmp_path / "run"
    result = subprocess.run(
        stack_command(config, "--run-dir", str(run_dir), "--dry-run", "--print-env"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    env = dict(shlex.split(line)[0].split("=", 1) for line in result.stdout.splitlines())
    assert env["WARDEN_CONFIG"] == str(config)
    assert env["WARDEN_RUN_DIR"] == str(run_dir)
    assert env["WARDEN_LOCAL_BROKER"] == "true"
    assert env["WARDEN_ACTUATOR_FLAGS"] == "--dry-run"
    assert env["WARDEN_WEB_ADMIN_TOKEN_FILE"] == str(run_dir / "web-admin.token")
    assert "dry-run: --dry-run was given" in result.stderr
    assert "127.0.0.1:2999" in result.stderr
    assert not run_dir.exists()


def test_bad_config_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", {"mqtt": {"port": "not a port"}})
    result = subprocess.run(
        stack_command(config, "--print-env"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "mqtt.port" in result.stderr


# --- (b) supervisord.conf, read by supervisor itself -------------------------


def stack_paths(run_dir: Path, config: Path) -> stack.StackPaths:
    return stack.StackPaths(REPO, run_dir, config, sys.executable, "/usr/sbin/mosquitto")


def realize(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> ServerOptions:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    options = ServerOptions()  # reads os.environ for %(ENV_X)s here
    options.realize(args=["-c", str(SUPERVISORD_CONF)])
    return options


# Supervisor looks every user= up when it reads the file: users every Debian has stand in
# for warden-sensors & co (the real ones: tests/test_stack_privileges.py).
OWN_USERS = stack.Users(
    {"sensors": "daemon", "governor": "bin", "actuator": "root", "notifier": "sys", "web": "games"},
    "nobody",
    proxy="man",
    engine_group="docker",
)


@pytest.mark.parametrize(("local", "dry_run", "root"), [(True, True, True), (False, False, False)])
def test_supervisord_conf_programs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local: bool, dry_run: bool, root: bool
) -> None:
    config = tmp_path / "my config.yaml"  # a space, to prove the quoting
    plan = stack.StackPlan(
        local, False, 1883, dry_run, "test" if dry_run else None, docker_proxy=root, own_users=root
    )
    users = OWN_USERS if root else stack.Users.everyone("nobody")
    options = realize(monkeypatch, stack.stack_env(plan, stack_paths(tmp_path, config), users))
    programs = {p.name: p for g in options.process_group_configs for p in g.process_configs}

    assert set(programs) == {"mosquitto", "docker-proxy", *SERVICES}
    uids = {name: program.uid for name, program in programs.items()}
    program_users: dict[str, str] = {name: user for name, user in users.services.items()}
    program_users["mosquitto"] = users.broker
    for name, user in program_users.items():
        if name == "actuator":
            assert uids[name] is None  # the stack's own user: root where it is root
        else:
            assert uids[name] == pwd.getpwnam(user).pw_uid, name
    assert uids["docker-proxy"] is None  # binds as root, then drops to its own user
    proxy = programs["docker-proxy"]
    assert proxy.autostart is root
    assert shlex.split(proxy.command) == [
        "/usr/sbin/haproxy",
        "-db",
        "-f",
        str(REPO / "deploy" / "docker-proxy" / "haproxy.cfg"),
    ]
    environments = {name: program.environment or {} for name, program in programs.items()}
    assert environments["web"]["STATE_DIRECTORY"] == ("/var/lib/warden/web" if root else "")
    assert environments["notifier"]["STATE_DIRECTORY"] == (
        "/var/lib/warden/notifier" if root else ""
    )
    signers = {n for n, env in environments.items() if "WARDEN_SIGNING_KEY_FILE" in env}
    assert signers == {"governor", "actuator"}
    for name in SERVICES:
        assert programs[name].umask == 0o077
        program = programs[name]
        # The actuator's stop puts everything back (--cleanup-on-stop), and may take long.
        actuator = name == "actuator"
        extra = [
            *(["--cleanup-on-stop"] if actuator else []),
            *(["--dry-run"] if actuator and dry_run else []),
        ]
        expected = [sys.executable, "-m", f"services.{name}", "--config", str(config), *extra]
        assert shlex.split(program.command) == expected
        assert program.directory == str(REPO)
        assert program.autostart is True
        assert program.autorestart is RestartUnconditionally
        assert (program.startsecs, program.stopwaitsecs) == (1, 120 if actuator else 15)
        assert program.stopsignal == signal.SIGTERM
        assert program.stdout_logfile == "/dev/stdout"
        assert program.redirect_stderr is True
        assert program.priority > programs["mosquitto"].priority
    mosquitto = programs["mosquitto"]
    assert mosquitto.autostart is local
    assert shlex.split(mosquitto.command) == [
        "/usr/sbin/mosquitto",
        "-c",
        str(tmp_path / "mosquitto.conf"),
    ]
    assert options.nodaemon is True
    assert options.serverurl == f"unix://{tmp_path}/supervisor.sock"


def test_supervisorctl_finds_the_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = stack.StackPlan(True, False, 1883, False, None)
    for key, value in stack.stack_env(plan, stack_paths(tmp_path, tmp_path / "c.yaml")).items():
        monkeypatch.setenv(key, value)
    options = ClientOptions()
    options.realize(args=["-c", str(SUPERVISORD_CONF)])
    assert options.serverurl == f"unix://{tmp_path}/supervisor.sock"


# --- (c) the real stack, not root ---------------------------------------------


NOBODY = 65534


def stack_config(workdir: Path, host_id: str, mqtt: dict) -> dict:
    return {
        "host_id": host_id,
        "mqtt": mqtt,
        "actuator": {"dry_run": True, "state_file": str(workdir / "actuator-state.json")},
        # The web service's port and database, away from a real one on this machine.
        "general": {"http_server": {"port": free_port()}},
        "web": {"database": str(workdir / "web.sqlite3")},
    }


def said(running: Stack, words: str) -> bool:
    return words in running.output()


def run_and_stop(probe: Probe, host_id: str, running: Stack) -> None:
    assert_all(probe, host_id, "online", 0.0, running)
    assert running.process.poll() is None
    stopping = time.monotonic()
    assert running.terminate() == 0, running.output()[-4000:]
    assert_all(probe, host_id, "offline", stopping, running)


def printed_env(config: Path, run_dir: Path, python: str) -> dict[str, str]:
    result = subprocess.run(
        stack_command(config, "--run-dir", str(run_dir), "--dry-run", "--print-env", python=python),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
    )
    return dict(shlex.split(line)[0].split("=", 1) for line in result.stdout.splitlines())


def test_stack_without_root_runs_everything_as_its_user(broker: Mosquitto, host_id: str) -> None:
    """A user without root (here `nobody`): every program as that user, the actuator in
    dry-run; supervisord restarts a crashed service and passes SIGHUP on."""
    if os.geteuid() != 0:
        missing("the test starts the stack as `nobody`, which needs root")
    try:
        python = service_python()
    except RuntimeError as exc:
        missing(f"no Python other users can run: {exc}")
    if not reachable_by_others(REPO / "services" / "__init__.py"):
        missing(f"{REPO} is closed to other users")
    workdir = shared_workdir("warden-nobody-")
    os.chown(workdir, NOBODY, NOBODY)
    config = write_config(
        workdir / "config.yaml",
        stack_config(workdir, host_id, {"host": broker.host, "port": broker.port}),
    )
    probe = Probe(broker.host, broker.port, subscribe=f"warden/{host_id}/#")
    topic = f"warden/{host_id}/governor/availability"
    running = Stack(config, workdir / "run", "--dry-run", python=python, user=(NOBODY, NOBODY))
    try:
        assert_all(probe, host_id, "online", 0.0, running)
        for name in SERVICES:
            assert Identity.of(service_pid(name, config)).uid == NOBODY, name
        # A crash: supervisord starts the service again, and it says so on the bus.
        crashed_at = time.monotonic()
        os.kill(service_pid("governor", config), signal.SIGKILL)
        offline = probe.wait_for(topic, lambda s: s.text == "offline", after=crashed_at)
        probe.wait_for(topic, lambda s: s.text == "online", after=offline.at, timeout=30)
        # README's reload under warden-stack: supervisorctl signals the services.
        env = printed_env(config, workdir / "run", python)
        supervisorctl = str(Path(python).parent / "supervisorctl")
        subprocess.run(
            [supervisorctl, "-c", str(SUPERVISORD_CONF), "signal", "HUP", "all"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=30,
        )
        for name in SERVICES:
            wait_until(partial(said, running, f"{name} config.reloaded"), what=name)
        run_and_stop(probe, host_id, running)
        output = running.output()
        assert "actuator in dry-run: --dry-run was given" in output
        assert "spawned: 'mosquitto'" not in output  # the config names a broker
    finally:
        probe.close()
        running.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


# --- (d) compose.yaml ---------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def mounts(service: dict) -> list[tuple[str, str, str]]:
    """(source, target, mode) for each short-syntax volume."""
    result = []
    for volume in service.get("volumes", []):
        parts = volume.split(":")
        result.append((parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"))
    return result


# The directory, not the file: an edit that replaces config.yaml (editors, sed -i)
# reaches the services; a bind mount of the file alone keeps the old inode.
CONFIG_MOUNT = ("./config", "/etc/warden", "ro")


def test_compose_privileges() -> None:
    data = compose()
    services = data["services"]
    assert {"mosquitto", "docker-socket-proxy", *SERVICES} <= set(services)
    assert not [n for n, s in services.items() if s.get("privileged")]
    docker_rw = {
        name
        for name, service in services.items()
        for source, _target, mode in mounts(service)
        if source == "/var/run/docker.sock" and "ro" not in mode.split(",")
    }
    assert docker_rw == {"actuator"}
    actuator = services["actuator"]
    assert ("/sys/fs/cgroup", "/sys/fs/cgroup", "rw") in mounts(actuator)
    assert actuator["pid"] == "host"
    assert actuator["cap_drop"] == ["ALL"]
    assert sorted(actuator["cap_add"]) == ["DAC_OVERRIDE", "KILL", "SYS_NICE"]
    assert actuator["security_opt"] == ["no-new-privileges:true"]
    assert actuator["read_only"] is True
    # A stop is an uninstall; a crash keeps the record for the next start.
    assert actuator["command"][-1] == "--cleanup-on-stop"
    assert actuator["stop_grace_period"] == "2m"
    # docker-compose 1.29 rejects `cgroup`: it is in the override, for cgroup v2 hosts.
    assert "cgroup" not in actuator
    override = yaml.safe_load((DEPLOY / "compose.cgroup-host.yaml").read_text())
    assert override == {"services": {"actuator": {"cgroup": "host"}}}
    assert services["sensors"]["pid"] == "host"
    # The host's /proc through the PID namespace, writable for PSI triggers; no bind mount.
    assert not [m for m in mounts(services["sensors"]) if m[1].endswith("/proc")]


def test_compose_docker_proxy_is_the_shipped_haproxy_on_a_network_of_its_own() -> None:
    data = compose()
    services = data["services"]
    proxy = services["docker-socket-proxy"]
    assert proxy["image"] == "${DOCKER_PROXY_IMAGE:-haproxy:2.8}"
    assert proxy["entrypoint"] == ["haproxy"]
    assert ("./deploy/docker-proxy/haproxy.cfg", proxy["command"][-1], "ro") in mounts(proxy)
    assert ("/var/run/docker.sock", "/var/run/docker.sock", "ro") in mounts(proxy)
    assert proxy["environment"] == {"WARDEN_DOCKER_PROXY_BIND": ":2375"}
    assert proxy["cap_drop"] == ["ALL"] and proxy["read_only"] is True
    assert "cap_add" not in proxy
    joined = {n for n, s in services.items() if "docker-api" in s.get("networks", [])}
    assert joined == {"docker-socket-proxy", "sensors"}
    assert proxy["networks"] == ["docker-api"]
    assert "default" in services["sensors"]["networks"]  # the broker's
    assert data["networks"]["docker-api"] == {"internal": True}


def test_compose_warden_services() -> None:
    services = compose()["services"]
    for name in SERVICES:
        service = services[name]
        assert service["build"]["context"] == "."
        assert set(service["build"]["args"]) >= {"BASE_IMAGE", "PIP_FLAGS"}
        assert service["command"][:3] == [f"warden-{name}", "--config", "/etc/warden/config.yaml"]
        assert CONFIG_MOUNT in mounts(service)
        assert service["restart"] == "unless-stopped"
        assert "mosquitto" in service["depends_on"]
        assert service["environment"]["WARDEN_MQTT_USER"] == name
    for name in ("governor", "notifier"):
        service = services[name]
        assert mounts(service)[0] == CONFIG_MOUNT
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert not {"privileged", "pid", "devices", "cap_add"} & set(service)


def test_compose_runs_each_service_as_its_own_user_as_the_image_and_setup_make_them() -> None:
    services = compose()["services"]
    users = {name: services[name]["user"] for name in SERVICES}
    assert users == {name: f"{uid}:{uid}" for name, uid in SERVICE_UIDS.items()}
    # The image's users, and the owners compose-setup gives the secret files.
    dockerfile = (REPO / "Dockerfile").read_text()
    made = re.search(r"for entry in ((?:\w+:\d+ ?)+); do", dockerfile)
    assert made is not None
    in_image = dict(entry.split(":") for entry in made.group(1).split())
    setup = (REPO / "scripts" / "compose-setup").read_text()
    table = re.search(r"declare -A SERVICE_UID=\(([^)]*)\)", setup)
    assert table is not None
    owners = dict(re.findall(r"\[(\w+)\]=(\d+)", table.group(1)))
    expected = {name: str(uid) for name, uid in SERVICE_UIDS.items()}
    assert owners == expected
    assert in_image == {name: uid for name, uid in expected.items() if name != "actuator"}


def test_compose_hands_each_service_only_its_secrets_as_files() -> None:
    data = compose()
    services = data["services"]
    mounted = {name: set(services[name].get("secrets", [])) for name in SERVICES}
    assert mounted == {
        "sensors": {"sensors_mqtt_password"},
        "governor": {"governor_mqtt_password", "signing_key"},
        "actuator": {"actuator_mqtt_password", "signing_key"},
        "notifier": {"notifier_mqtt_password"},
        "web": {"web_mqtt_password", "web_admin_token"},
    }
    files = {name: secret["file"] for name, secret in data["secrets"].items()}
    assert files == {
        "signing_key": "./secrets/signing.key",
        "web_admin_token": "./secrets/web-admin.token",
        **{f"{n}_mqtt_password": f"./secrets/mqtt/{n}.password" for n in SERVICES},
    }
    for name in SERVICES:
        environment = services[name]["environment"]
        expected = f"/run/secrets/{name}_mqtt_password"
        assert environment["WARDEN_MQTT_PASSWORD_FILE"] == expected
        # Nothing secret in an environment: `docker inspect` shows it to the sensors.
        secret_looking = [
            key
            for key in environment
            if re.search("PASSWORD|TOKEN|KEY", key) and not key.endswith("_FILE")
        ]
        assert secret_looking == [], name
        assert not any("${" in str(value) for value in environment.values()), name
    assert services["web"]["environment"]["WARDEN_WEB_ADMIN_TOKEN_FILE"] == (
        "/run/secrets/web_admin_token"
    )
    for name in ("governor", "actuator"):
        assert services[name]["environment"]["WARDEN_SIGNING_KEY_FILE"] == (
            "/run/secrets/signing_key"
        )


def test_compose_gpu_and_outbox() -> None:
    services = compose()["services"]
    assert services["sensors"]["build"]["args"]["EXTRAS"] == "${WARDEN_SENSORS_EXTRAS:-}"
    # The notifier's outbox and the web service's database on volumes, in the state
    # directories of their own users (the Dockerfile's): their file systems are read-only.
    for name, volume in (("notifier", "notifier-outbox"), ("web", "web-data")):
        directory = f"/var/lib/warden/{name}"
        assert (volume, directory, "rw") in mounts(services[name])
        assert services[name]["environment"]["STATE_DIRECTORY"] == directory
    assert ("actuator-state", "/var/lib/warden", "rw") in mounts(services["actuator"])
    text = (REPO / "compose.yaml").read_text()
    for shown in ("- driver: nvidia", "capabilities: [gpu, utility]", "- /dev/dri:/dev/dri"):
        assert re.search(r"#\s+" + re.escape(shown), text), shown


def test_compose_config_is_valid() -> None:
    """As shipped, with the compose at hand: docker-compose 1.29 too."""
    command = compose_command()
    if command is None:
        missing("neither docker-compose nor the docker compose plugin is installed")
        return
    files = ["-f", "compose.yaml"]
    if command[-1] == "compose":  # v2 reads the cgroup v2 hosts' override too
        files += ["-f", "deploy/compose.cgroup-host.yaml"]
    result = subprocess.run(
        [*command, *files, "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# --- (e) the broker's ACL -----------------------------------------------------


def read_acl(path: Path) -> dict[str, list[tuple[str, str]]]:
    """user -> [(access, topic filter)], as mosquitto reads an acl_file."""
    rules: dict[str, list[tuple[str, str]]] = {}
    user = ""
    for raw in path.read_text().splitlines():
        words = raw.split()
        # Only whole lines are comments: `#` inside a topic is the wildcard.
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
            rules.setdefault(user, [])
        elif words[0] == "topic":
            access, topic = (words[1], words[2]) if len(words) == 3 else ("readwrite", words[1])
            rules.setdefault(user, []).append((access, topic))
    return rules


def allowed(rules: list[tuple[str, str]], access: str, topic: str) -> bool:
    return any(
        (granted == access or granted == "readwrite") and mqtt.topic_matches_sub(pattern, topic)
        for granted, pattern in rules
    )


@pytest.mark.parametrize(
    ("topic", "writers"),
    [
        ("warden/h1/desired", {"governor"}),
        ("warden/h1/actions", {"governor"}),
        ("warden/h1/applied", {"actuator"}),
        ("warden/h1/events", {"governor", "actuator", "notifier"}),
        ("warden/h1/sensors/pressure", {"sensors"}),
        # "": the rules before the first `user` line, for clients without a login.
        ("warden/trigger", {"homeassistant", "web", ""}),
        ("warden/h1/trigger", {"homeassistant", "web", ""}),
        ("warden/h1/governor/decision", {"governor"}),
        ("warden/h1/preset", {"governor"}),
        ("warden/h1/preset/set", {"homeassistant", "web"}),
        ("warden/h1/ha/state", {"notifier"}),
        ("warden/h1/ha/republish", {"homeassistant", "web"}),
        ("homeassistant/sensor/warden_h1/x/config", {"notifier"}),
        ("warden/h1/settings", {"web"}),
        ("warden/h1/overrides", {"web"}),
        *((f"warden/h1/{name}/availability", {name}) for name in SERVICES),
    ],
)
def test_acl_writers(topic: str, writers: set[str]) -> None:
    acl = read_acl(ACL)
    assert set(acl) == {"", *SERVICES, "homeassistant", "web"}
    assert {user for user, rules in acl.items() if allowed(rules, "write", topic)} == writers
    if topic.startswith("warden/"):
        assert all(allowed(rules, "read", topic) for rules in acl.values())


def compose_conf(port: int, passwd: Path, acl: Path) -> str:
    """The shipped compose broker config with only its paths and port moved here."""
    replacements = {
        "listener": f"listener {port} 127.0.0.1",
        "password_file": f"password_file {passwd}",
        "acl_file": f"acl_file {acl}",
        "persistence": "persistence false",
        "persistence_location": "",
    }
    lines = []
    for line in (DEPLOY / "mosquitto" / "compose.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        lines.append(replacements.get(key, line) if not line.startswith("#") else line)
    return "\n".join(lines) + "\n"


@pytest.fixture
def acl_broker() -> Iterator[AclBroker]:
    """deploy/mosquitto/compose.conf on a free loopback port, with a real password file."""
    logins = ("governor", "actuator")
    with shipped_acl_broker(logins, allow_anonymous=False, conf=compose_conf) as broker:
        yield broker


def test_broker_enforces_who_writes_desired(acl_broker: AclBroker) -> None:
    governor = login(acl_broker, "governor")
    actuator = login(acl_broker, "actuator")
    watcher = login(acl_broker, "governor")
    allowed_messages = {
        ("warden/x/applied", b"applied-by-actuator"),
        ("warden/x/desired", b"desired-by-governor"),
    }
    try:
        watcher.subscribe("warden/#")
        actuator.publish("warden/x/desired", b"desired-by-actuator")
        # The actuator's own topic goes through: the refusal above is the ACL, not the login.
        # The broker forwards one client's messages in the order they came, so once the
        # watcher has this later one, the refused write, had it got through, is there too.
        actuator.publish("warden/x/applied", b"applied-by-actuator")
        governor.publish("warden/x/desired", b"desired-by-governor")
        wait_until(lambda: allowed_messages <= watcher.seen(), what="allowed messages")
        assert sorted(watcher.received) == sorted(allowed_messages)
    finally:
        for client in (governor, actuator, watcher):
            client.close()


def test_broker_refuses_anonymous(acl_broker: AclBroker) -> None:
    assert refused(acl_broker.port, None)
    assert refused(acl_broker.port, "governor", "not-its-password")
    assert not refused(acl_broker.port, "governor", password("governor"))
