"""warden-stack --setup-systemd: Warden on bare metal under systemd, as locked down as
compose, in one command that can be run again (after an upgrade, say) and changes nothing
that is already right.

It makes the users (accounts.py), then, as root's alone (0600), the signing key, each
service's broker password and the dashboard's admin token under /etc/warden (the units
hand each service a copy of its own through LoadCredential=), one env file per service
(WARDEN_MQTT_PASSWORD, for a config that names ${WARDEN_MQTT_PASSWORD}), the config
readable by group `warden`; for Debian's Mosquitto a conf.d snippet (a listener without
anonymous clients), the password file and the ACL generated from the channel table,
readable by `mosquitto` alone; the state directories; the HAProxy config of the read-only
Docker proxy; and the units of deploy/systemd, naming the virtualenv it runs from.

Why here, in warden-stack: the stack makes the same users and secrets for supervisord,
from the same code, so the two paths cannot drift apart; and it runs from the checkout
that holds deploy/, where the units and the proxy's config are.
"""

from __future__ import annotations

import argparse
import grp
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from services.stack import probe
from services.stack.accounts import (
    BROKER_USER,
    CONFIG_GROUP,
    Account,
    AccountError,
    engine_group,
    ensure_accounts,
    user_of,
)
from services.stack.broker import SECRET_BYTES, password_file, service_passwords
from services.stack.files import ensure_dir, share_with_group, write_file
from services.stack.plan import STACK_SERVICES
from services.stack.prepare import LEGACY_STATE, adopt, legacy_state_files
from shared.channel_files import acl
from shared.config import ConfigError, WardenConfig, load_config
from shared.config.loader import DEFAULT_ENV_FILES
from shared.config.web import SYSTEMD_ADMIN_TOKEN_FILE
from shared.secrets import SecretFileError, ensure_secret_file

REPO = Path(__file__).resolve().parents[2]
UNITS = (
    "warden.target",
    *(f"warden-{service}.service" for service in STACK_SERVICES),
    "warden-docker-proxy.service",
)
# Where deploy/systemd's units look for the commands, replaced by where they really are.
SHIPPED_BIN = "/opt/warden/bin/"
# Hidden from every unit by ProtectHome=yes.
HIDDEN = (Path("/home"), Path("/root"), Path("/run/user"))
LOOPBACK = (None, "127.0.0.1", "localhost", "::1")
ROOT_ONLY = (0, 0)


@dataclass(frozen=True)
class Layout:
    """Every path the setup writes, under `root` (/ on a live system)."""

    root: Path

    def at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def etc(self) -> Path:
        return self.at("/etc/warden")

    @property
    def config(self) -> Path:
        return self.etc / "config.yaml"

    @property
    def mqtt(self) -> Path:
        return self.etc / "mqtt"

    @property
    def mosquitto(self) -> Path:
        return self.at("/etc/mosquitto")

    @property
    def state(self) -> Path:
        return self.at("/var/lib/warden")

    @property
    def units(self) -> Path:
        return self.at("/etc/systemd/system")


def unit_text(shipped: str, bin_dir: str, docker_group: str) -> str:
    """A shipped unit as installed: the commands where they are, the engine's group."""
    text = shipped.replace(SHIPPED_BIN, bin_dir.rstrip("/") + "/")
    return text.replace("SupplementaryGroups=docker ", f"SupplementaryGroups={docker_group} ")


def mosquitto_snippet(port: int, address: str) -> str:
    """conf.d/warden.conf for Debian's Mosquitto (mosquitto.conf includes conf.d)."""
    return (
        "# Written by `warden-stack --setup-systemd`; it writes it again on every run.\n"
        "# Warden's listener: no anonymous clients; each Warden service logs in as\n"
        "# itself (its password in /etc/warden/mqtt/) and may write only its own topics\n"
        "# (the ACL, generated from shared/channels.py). Home Assistant logs in as\n"
        "# `homeassistant`. Mosquitto applies these to all its listeners unless\n"
        "# per_listener_settings is true.\n"
        f"listener {port} {address}\n"
        "allow_anonymous false\n"
        "password_file /etc/mosquitto/warden/passwd\n"
        "acl_file /etc/mosquitto/warden/acl\n"
    )


class Setup:
    def __init__(self, layout: Layout, bin_dir: str, mqtt_listen: str, source: Path) -> None:
        self.layout = layout
        self.bin_dir = bin_dir
        self.mqtt_listen = mqtt_listen
        self.source = source
        # Debian's Mosquitto is Warden's broker here; restarted when its files changed.
        self.local_broker = False
        self.restart_broker = False

    def say(self, line: str) -> None:
        print(f"warden-stack: {line}", file=sys.stderr)

    def run(self) -> None:
        docker = Path(probe.PROXIED_SOCKET).exists()
        ensure_accounts(broker=False, proxy=True)
        config = self.install_config()
        local = config.mqtt.host in LOOPBACK
        passwords = self.secrets()
        self.env_files(passwords)
        if local:
            self.broker(config, passwords)
        else:
            self.say(
                f"mqtt.host is {config.mqtt.host}: give that broker the logins in "
                f"{self.layout.mqtt} and the ACL (python -m shared.channels --acl)"
            )
        self.state_dirs()
        self.proxy_config()
        self.units(engine_group(probe.PROXIED_SOCKET) or "docker")
        if not docker:
            self.say("no Docker socket here: the sensors see no containers")

    def install_config(self) -> WardenConfig:
        layout = self.layout
        gid = grp.getgrnam(CONFIG_GROUP).gr_gid
        ensure_dir(layout.etc, (0, gid), 0o750)
        if not layout.config.exists():
            write_file(layout.config, self.source.read_text(), (0, gid), 0o640)
            self.say(f"wrote {layout.config} from {self.source}: put your containers in its tiers")
        share_with_group(layout.config, gid)
        for name in DEFAULT_ENV_FILES:
            if (layout.etc / name).exists():
                share_with_group(layout.etc / name, gid)
        try:
            return load_config(layout.config).config
        except ConfigError as exc:
            raise SetupFailed(f"config error:\n{exc}") from None

    def secrets(self) -> dict[str, str]:
        layout = self.layout
        ensure_dir(layout.mqtt, ROOT_ONLY, 0o700)
        passwords = service_passwords(layout.mqtt)
        passwords["homeassistant"] = ensure_secret_file(
            layout.mqtt / "homeassistant.password", SECRET_BYTES, ROOT_ONLY
        )
        ensure_secret_file(layout.etc / "signing.key", SECRET_BYTES, ROOT_ONLY)
        ensure_secret_file(layout.at(SYSTEMD_ADMIN_TOKEN_FILE), SECRET_BYTES, ROOT_ONLY)
        return passwords

    def env_files(self, passwords: dict[str, str]) -> None:
        for service in STACK_SERVICES:
            text = (
                "# Written by `warden-stack --setup-systemd` (again on every run): for a "
                "config that names\n# ${WARDEN_MQTT_PASSWORD}, as compose's does.\n"
                f"WARDEN_MQTT_PASSWORD={passwords[service]}\n"
            )
            write_file(self.layout.etc / f"warden-{service}.env", text, ROOT_ONLY, 0o600)

    def broker(self, config: WardenConfig, passwords: dict[str, str]) -> None:
        try:
            broker = Account.named(BROKER_USER)
        except KeyError:
            raise SetupFailed("Mosquitto is not installed (apt-get install mosquitto)") from None
        directory = self.layout.mosquitto / "warden"
        ensure_dir(directory, broker.owner, 0o700)
        changed = password_file(directory / "passwd", passwords, broker.owner)
        rules = acl(config.mqtt.topic_root, config.home_assistant.discovery_prefix)
        changed |= write_file(directory / "acl", rules, broker.owner, 0o600)
        snippet = mosquitto_snippet(config.mqtt.port, self.mqtt_listen)
        conf_d = self.layout.mosquitto / "conf.d" / "warden.conf"
        changed |= write_file(conf_d, snippet, ROOT_ONLY, 0o644)
        self.local_broker = True
        self.restart_broker = changed

    def state_dirs(self) -> None:
        """/var/lib/warden the actuator's (root), web/ and notifier/ their own
        (StateDirectory=warden/web ...), with what an older install left moved in."""
        layout = self.layout
        ensure_dir(layout.state, ROOT_ONLY, 0o755)
        for service in LEGACY_STATE:
            owner = Account.named(user_of(service)).owner
            directory = layout.state / service
            ensure_dir(directory, owner, 0o700)
            for old in legacy_state_files(service, layout.state):
                adopt(old, directory, owner, self.say)

    def proxy_config(self) -> None:
        text = (REPO / "deploy" / "docker-proxy" / "haproxy.cfg").read_text()
        write_file(self.layout.etc / "docker-proxy.cfg", text, ROOT_ONLY, 0o644)

    def units(self, docker_group: str) -> None:
        for name in UNITS:
            shipped = (REPO / "deploy" / "systemd" / name).read_text()
            text = unit_text(shipped, self.bin_dir, docker_group)
            write_file(self.layout.units / name, text, ROOT_ONLY, 0o644)


class SetupFailed(Exception):
    pass


def check_bin_dir(bin_dir: Path) -> None:
    """The units run the commands found here, under ProtectHome=yes."""
    missing = [f"warden-{s}" for s in STACK_SERVICES if not (bin_dir / f"warden-{s}").exists()]
    if missing:
        raise SetupFailed(
            f"{bin_dir} has no {', '.join(missing)}: install Warden into a virtualenv first "
            "(python3 -m venv /opt/warden && /opt/warden/bin/pip install .) and run its "
            "warden-stack --setup-systemd"
        )
    python = (bin_dir / "python").resolve()
    for place in (bin_dir, python, Path(__file__).resolve()):
        if any(place.is_relative_to(hidden) for hidden in HIDDEN):
            raise SetupFailed(
                f"{place} is under {', '.join(map(str, HIDDEN))}, which the units cannot see "
                "(ProtectHome=yes): install Warden elsewhere, e.g. /opt/warden"
            )


def on_systemd(layout: Layout, setup: Setup) -> None:
    """Tell a running systemd (none in --root mode, or in a container without it)."""
    if layout.root != Path("/") or not Path("/run/systemd/system").exists():
        setup.say(f"units written to {layout.units}; no running systemd to tell here")
        return
    commands = [["systemctl", "daemon-reload"]]
    if setup.local_broker:
        # scripts/run may have disabled it (warden-stack runs a broker of its own).
        commands.append(["systemctl", "enable", "--now", "mosquitto.service"])
    if setup.restart_broker:
        commands.append(["systemctl", "restart", "mosquitto.service"])
    commands.append(["systemctl", "try-restart", *UNITS[1:]])
    for command in commands:
        subprocess.run(command, check=True, timeout=120)
    setup.say("done; start it now and at every boot: systemctl enable --now warden.target")


def run_setup(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("warden-stack: --setup-systemd must run as root", file=sys.stderr)
        return 2
    layout = Layout(Path(args.root).resolve())
    bin_dir = Path(args.bin_dir) if args.bin_dir else Path(sys.executable).parent
    source = Path(args.config) if args.config else REPO / "config.example.yaml"
    setup = Setup(layout, str(bin_dir), args.mqtt_listen, source)
    try:
        if layout.root == Path("/"):
            check_bin_dir(bin_dir)
        setup.run()
        on_systemd(layout, setup)
    except (SetupFailed, AccountError, SecretFileError, OSError) as exc:
        print(f"warden-stack: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"warden-stack: {' '.join(exc.cmd)} failed ({exc.returncode})", file=sys.stderr)
        return 2
    token = layout.at(SYSTEMD_ADMIN_TOKEN_FILE)
    setup.say(f"the dashboard's admin token: sudo cat {token}")
    setup.say(f"Home Assistant's broker login: homeassistant, {layout.mqtt}/homeassistant.password")
    return 0
