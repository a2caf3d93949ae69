"""warden-stack: the whole of Warden on one machine under supervisord (cli.py), and the
bare-metal setup for systemd (systemd.py); both make the same users, secrets and modes.

The names below are the launcher's decisions and probes, kept importable from here.
"""

from services.stack.broker import prepare_local_broker
from services.stack.cli import main
from services.stack.plan import (
    StackPaths,
    StackPlan,
    Users,
    describe,
    mosquitto_conf,
    plan_stack,
    stack_env,
)
from services.stack.probe import cgroup_writable, docker_socket_ok, port_taken

__all__ = [
    "StackPaths",
    "StackPlan",
    "Users",
    "cgroup_writable",
    "describe",
    "docker_socket_ok",
    "main",
    "mosquitto_conf",
    "plan_stack",
    "port_taken",
    "prepare_local_broker",
    "stack_env",
]
