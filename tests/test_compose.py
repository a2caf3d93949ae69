"""The shipped compose.yaml, up for real on this machine's Docker engine.

Images come from no registry: a Debian base made here (debootstrap | docker
import, cached by tag), the Warden images built from the Dockerfile on it, and
stand-ins for eclipse-mosquitto and docker-socket-proxy from the same base. The
services reach the broker by name on the project's own network; the test, and
Home Assistant in its place, through the published port.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from host.cgroups.control import snapshot
from host.cgroups.view import detect_layout, process_cgroups
from services.notifier.home_assistant.discovery import discovery_messages
from shared import __version__
from shared.config import WardenConfig
from shared.messages import DesiredState
from tests.support import compose_stack as cs
from tests.support.acl_broker import Client, mosquitto_passwd
from tests.support.broker import free_port, wait_for_port
from tests.support.docker_env import ensure_image
from tests.support.processes import REPO, wait_until
from tests.support.real import missing

# The first test carries the build (a few minutes on a fresh machine).
pytestmark = pytest.mark.timeout(1200)
SERVICES = ("sensors", "governor", "actuator", "notifier", "web")


class Stack:
    def __init__(self, command: list[str], workdir: Path, project: str) -> None:
        self.command, self.workdir, self.project = command, workdir, project
        self.host = project
        self.port = 0
        self.web_port = 0
        self.web_token = ""
        self.passwords: dict[str, str] = {}
        self.config: dict = {}
        self.ha: Client | None = None

    def compose(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [*self.command, "-p", self.project, *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"compose {' '.join(args)}:\n{result.stderr[-4000:]}"
        return result.stdout + result.stderr

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service)

    def topic(self, leaf: str) -> str:
        return f"warden/{self.host}/{leaf}"

    def seen(self, topic: str) -> list[bytes]:
        assert self.ha is not None
        return self.ha.payloads(topic)


def write_project(stack: Stack, t2: str, t3: str, images: dict[str, str]) -> None:
    workdir = stack.workdir
    for name in ("Dockerfile", "pyproject.toml"):
        shutil.copy(REPO / name, workdir / name)
    for package in ("shared", "host", "services"):
        shutil.copytree(
            REPO / package, workdir / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    broker_dir = workdir / "deploy" / "mosquitto"
    broker_dir.mkdir(parents=True)
    for name in ("compose.conf", "acl"):
        shutil.copy(REPO / "deploy" / "mosquitto" / name, broker_dir / name)
    cs.compose_file_for(stack.command, workdir)
    if cs.engine_lacks_sys_resource():
        shutil.copy(cs.SUPPORT / "override.yaml", workdir / "compose.override.yaml")

    # As README's compose quick start: config.yaml, .env, the password file.
    stack.config = {
        "host_id": stack.host,
        "mqtt": {
            "host": "mosquitto",
            "port": 1883,
            "username": "${WARDEN_MQTT_USER}",
            "password": "${WARDEN_MQTT_PASSWORD}",
        },
        "sensors": {
            "docker_url": "tcp://docker-socket-proxy:2375",
            "cgroup_root": "/host/sys/fs/cgroup",
        },
        "tiers": {2: {"containers": [t2]}, 3: {"containers": [t3]}},
        "general": {"http_server": {"host": "0.0.0.0", "port": 8765}},
        "web": {"admin_tokens": ["${WARDEN_WEB_ADMIN_TOKEN}"]},
        "media_mode": {"enabled": True, "provider": "none", "cooldown_seconds": 1},
        # Nothing listens there: notifications wait in the outbox.
        "notifications": {"ntfy_url": "http://127.0.0.1:9/warden", "retry_initial_seconds": 60},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(stack.config, sort_keys=False))
    # Step 2 of README's compose quick start, run as it stands.
    subprocess.run(["bash", "-euo", "pipefail", "-c", readme_setup()], cwd=workdir, check=True)
    dotenv = (workdir / ".env").read_text()
    for line in dotenv.splitlines():
        key, value = line.split("=", 1)
        if key == "WARDEN_WEB_ADMIN_TOKEN":
            stack.web_token = value
            continue
        user = key.removeprefix("WARDEN_").removesuffix("_MQTT_PASSWORD").lower()
        stack.passwords[user] = value
    assert set(stack.passwords) == {*SERVICES, "homeassistant"}
    stack.port = free_port()
    stack.web_port = free_port()
    extra = {
        "WARDEN_MQTT_PORT": str(stack.port),
        "WARDEN_WEB_PORT": str(stack.web_port),
        "WARDEN_BASE_IMAGE": images["base"],
        "WARDEN_PIP_FLAGS": "--no-index --no-build-isolation",
        "MOSQUITTO_IMAGE": images["base"],
        "DOCKER_PROXY_IMAGE": images["proxy"],
    }
    (workdir / ".env").write_text(dotenv + "".join(f"{k}={v}\n" for k, v in extra.items()))


def readme_setup() -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index("```sh\n", readme.index("<!-- compose-setup")) + len("```sh\n")
    return textwrap.dedent(readme[start : readme.index("```", start)])


def images() -> dict[str, str]:
    base = cs.base_tag()
    if not cs.image_exists(base):
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
        if not Path(debootstrap).exists():
            missing("debootstrap is not installed (apt-get install debootstrap)")
        with tempfile.TemporaryDirectory(prefix="warden-debootstrap-") as scratch:
            cs.build_base_image(base, Path(scratch), debootstrap)
    proxy = cs.proxy_tag(base)
    if not cs.image_exists(proxy):
        cs.build_proxy_image(base, proxy)
    return {"base": base, "proxy": proxy}


@pytest.fixture(scope="module")
def stack(docker_api: docker.APIClient) -> Iterator[Stack]:
    command = cs.compose_command()
    if command is None:
        missing("no compose: apt-get install docker-compose (or the docker compose plugin)")
        return
    if mosquitto_passwd() is None:
        missing("mosquitto_passwd is not installed (apt-get install mosquitto)")
    built = images()
    project = "wdc" + secrets.token_hex(3)
    workdir = Path(tempfile.mkdtemp(prefix="warden-compose-"))
    running = Stack(command, workdir, project)
    busybox = ensure_image(docker_api)
    made: list[str] = []
    try:
        for suffix in ("t2", "t3"):
            made.append(
                docker_api.create_container(busybox, ["sleep", "3600"], name=f"{project}-{suffix}")[
                    "Id"
                ]
            )
            docker_api.start(made[-1])
        write_project(running, f"{project}-t2", f"{project}-t3", built)
        running.compose("up", "-d", "--build", timeout=900)
        wait_for_port(running.port, timeout=30)
        running.ha = Client(running.port, "homeassistant", running.passwords["homeassistant"])
        running.ha.subscribe("warden/#", "homeassistant/#")
        yield running
    finally:
        if running.ha is not None:
            running.ha.close()
        subprocess.run(
            [*command, "-p", project, "down", "-v"], cwd=workdir, capture_output=True, timeout=180
        )
        for cid in made:
            docker_api.remove_container(cid, force=True)
        shutil.rmtree(workdir, ignore_errors=True)


def state(stack: Stack, suffix: str) -> str:
    return docker.APIClient().inspect_container(f"{stack.project}-{suffix}")["State"]["Status"]


def controls(stack: Stack, suffix: str) -> dict[str, str]:
    api = docker.APIClient()
    pid = api.inspect_container(f"{stack.project}-{suffix}")["State"]["Pid"]
    return snapshot(process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", pid))


def trigger(stack: Stack, word: str) -> None:
    assert stack.ha is not None
    stack.ha.publish("warden/trigger", word.encode())


def test_five_services_online_with_their_own_users(stack: Stack) -> None:
    for name in SERVICES:
        topic = stack.topic(f"{name}/availability")
        wait_until(lambda t=topic: b"online" in stack.seen(t), timeout=90, what=topic)
    broker_log = stack.logs("mosquitto")
    for name in SERVICES:
        assert f"u'{name}'" in broker_log, f"{name} did not log in as itself"


def test_the_governor_signs_and_the_actuator_checks_with_the_compose_secret(stack: Stack) -> None:
    wait_until(lambda: stack.seen(stack.topic("desired")), timeout=60, what="a desired state")
    desired = DesiredState.model_validate_json(stack.seen(stack.topic("desired"))[-1])
    assert desired.signature is not None
    for service in ("governor", "actuator"):
        assert "signing.off" not in stack.logs(service), service


def test_the_web_service_answers_on_its_published_port(stack: Stack) -> None:
    base = f"http://127.0.0.1:{stack.web_port}"
    wait_until(lambda: _get(f"{base}/health")[0] == 200, timeout=60, what="web /health")
    # Bound beyond loopback inside its container: everything but /health needs a token.
    assert _get(f"{base}/status")[0] == 401
    status, body = _get(f"{base}/status", stack.web_token)
    assert status == 200 and "containers" in json.loads(body)


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def test_media_start_pauses_tier3_and_media_stop_lifts_it(stack: Stack) -> None:
    # The tier baselines are applied before anything is enforced.
    wait_until(lambda: stack.seen(stack.topic("applied")), timeout=60, what="applied")
    baseline = controls(stack, "t2")
    trigger(stack, "media_start")
    wait_until(lambda: state(stack, "t3") == "paused", timeout=30, what="tier 3 paused")
    wait_until(lambda: controls(stack, "t2") != baseline, timeout=30, what="tier 2 limited")
    trigger(stack, "media_stop")
    wait_until(lambda: state(stack, "t3") == "running", timeout=30, what="tier 3 running again")
    wait_until(lambda: controls(stack, "t2") == baseline, timeout=30, what="tier 2 released")


def test_home_assistant_sees_discovery_decision_preset_state_and_events(stack: Stack) -> None:
    config = WardenConfig.model_validate(stack.config)
    configs = set(discovery_messages(config, stack.host, __version__))
    assert len(configs) >= 25
    wait_until(
        lambda: all(stack.seen(topic) for topic in configs), timeout=30, what="discovery configs"
    )
    for leaf in ("governor/decision", "preset", "ha/state", "events"):
        topic = stack.topic(leaf)
        wait_until(lambda t=topic: bool(stack.seen(t)), timeout=30, what=leaf)
    events = b"".join(stack.seen(stack.topic("events")))
    assert b"media_mode_activated" in events


def test_psi_triggers_are_armed_in_the_sensors_container(stack: Stack) -> None:
    logs = stack.logs("sensors")
    assert "pressure.triggers_armed scope=host" in logs, logs[-3000:]
    # Per-container triggers would need the cgroup tree writable, which compose keeps
    # read-only for the sensors: that scope polls instead, and says so once.
    assert logs.count("pressure.triggers_unavailable") <= 1


def test_sighup_reloads_inside_a_container(stack: Stack) -> None:
    stack.compose("kill", "-s", "SIGHUP", "governor")
    wait_until(lambda: "config.reloaded" in stack.logs("governor"), timeout=20, what="reload")


def test_the_outbox_survives_a_notifier_restart(stack: Stack) -> None:
    # media_mode_activated (above) could not be delivered: it waits in the volume.
    wait_until(lambda: "notify.retry" in stack.logs("notifier"), timeout=30, what="a retry")
    stack.compose("restart", "notifier")
    wait_until(
        lambda: "notify.outbox_restored" in stack.logs("notifier"),
        timeout=60,
        what="the outbox read back after the restart",
    )


def test_down_leaves_nothing_paused_or_throttled(stack: Stack) -> None:
    baseline = controls(stack, "t2"), controls(stack, "t3")
    trigger(stack, "media_start")
    wait_until(lambda: state(stack, "t3") == "paused", timeout=30, what="tier 3 paused")
    stack.compose("down", "-v", timeout=180)
    assert state(stack, "t3") == "running"
    assert (controls(stack, "t2"), controls(stack, "t3")) == baseline
