"""The package layering, read from the source: shared/ is the contract every service
shares, host/ is how a service touches the machine, and the services stay apart.

- shared/ imports neither host/ nor any service;
- host/ may import shared/, never a service;
- no service imports another (services/stack/, the launcher, imports none of them);
- cli/ (the `warden` command) reaches services only through their entry points, and
  nothing imports it;
- the five services never import the files made from the channel table
  (shared/channel_files.py, shared/bridge.py): those are the launcher's and the tests';
- the governor's rules/ holds rules only, each importing no other rule.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports, at any depth (lazy imports count too)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            # `from services import actuator` imports services.actuator.
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def offenders(package: str, allowed: Callable[[Path, str], bool]) -> list[str]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            if not allowed(path, module):
                found.append(f"{path.relative_to(REPO)} imports {module}")
    return found


def top(module: str) -> str:
    return module.split(".")[0]


def service_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def test_shared_imports_neither_host_nor_services() -> None:
    assert offenders("shared", lambda _p, m: top(m) not in ("host", "services")) == []


def test_host_imports_no_service() -> None:
    assert offenders("host", lambda _p, m: top(m) != "services") == []


def test_no_service_imports_another() -> None:
    def allowed(path: Path, module: str) -> bool:
        parts = path.relative_to(REPO / "services").parts
        own = parts[0] if len(parts) > 1 else None  # None: services/__init__.py
        other = service_of(module)
        return other is None or other == own

    assert offenders("services", allowed) == []


# The `warden` command starts services by their entry points, never their insides.
CLI_MAY_START = ("services.stack", "services.actuator.__main__")


def test_the_command_is_a_client_and_a_launcher() -> None:
    def allowed(_path: Path, module: str) -> bool:
        return top(module) != "services" or module.startswith(CLI_MAY_START)

    assert offenders("cli", allowed) == []
    for package in ("shared", "host", "services"):
        assert offenders(package, lambda _p, m: top(m) != "cli") == []


GENERATORS = ("shared.channel_files", "shared.bridge")


def test_the_services_never_load_the_generators() -> None:
    def allowed(path: Path, module: str) -> bool:
        launcher = path.is_relative_to(REPO / "services" / "stack")
        return launcher or not module.startswith(GENERATORS)

    assert offenders("services", allowed) == []


def test_the_rules_see_real_imports() -> None:
    """The reader finds what each layer does import, so an empty list above means something."""
    plan = imported_modules(REPO / "host" / "processes" / "plan.py")
    assert any(m.startswith("shared.") for m in plan)
    assert any(
        m.startswith("host.")
        for m in imported_modules(REPO / "services" / "actuator" / "applier.py")
    )
    assert "services.actuator.reconcile" in imported_modules(
        REPO / "services" / "actuator" / "service.py"
    )


def test_the_rules_folder_holds_rules_only_and_none_imports_another() -> None:
    rules = REPO / "services" / "governor" / "rules"
    for path in sorted(rules.glob("*.py")):
        if path.name == "__init__.py":
            continue
        assert "\nRULE = " in path.read_text(), f"{path.name} is not a rule"
        others = {m for m in imported_modules(path) if m.startswith("services.governor.rules.")}
        assert others == set(), f"{path.name} imports {others}"
