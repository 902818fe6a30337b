"""Every public function of `lfr.services` has a caller outside the tests: a page, an API
route, a command, the runtime or another service. A use-case that no door reaches is a rule
nobody can apply (docs/governance.md lists each with its page, route and command).

Like the role matrix, this reads the code: it parses every module under `src/lfr` and
records which service functions each one imports or reaches through its module
(`from lfr.services import alerts` then `alerts.hold_alert(...)`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "lfr"
SERVICES = SOURCE / "services"

WITHOUT_A_DOOR: dict[str, str] = {
    "people.configure_password_hasher": "a test hook: tests use cheap argon2 parameters, "
    "production keeps the defaults",
}
"""`module.function` -> why it has no caller outside the tests. Add a door instead."""


def _module_name(path: Path) -> str:
    relative = path.relative_to(SOURCE.parent).with_suffix("")
    return ".".join(relative.parts)


def public_service_functions() -> set[str]:
    """`module.function` for every top-level public function of a services module."""
    found: set[str] = set()
    for path in sorted(SERVICES.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                found.add(f"{path.stem}.{node.name}")
    return found


def _service_of(module: str | None) -> str | None:
    if module and module.startswith("lfr.services.") and module.count(".") == 2:
        return module.rsplit(".", 1)[1]
    return None


def _references(path: Path) -> Iterator[str]:
    """The service functions `path` imports by name or reaches as `module.function`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}  # local name -> services module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            service = _service_of(node.module)
            for name in node.names:
                if service is not None:
                    yield f"{service}.{name.name}"
                elif node.module == "lfr.services":
                    aliases[name.asname or name.name] = name.name
        elif isinstance(node, ast.Import):
            for name in node.names:
                service = _service_of(name.name)
                if service is not None and name.asname:
                    aliases[name.asname] = service
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            service = aliases.get(node.value.id)
            if service is not None:
                yield f"{service}.{node.attr}"


def _used_at_home(path: Path) -> Iterator[str]:
    """Functions of a services module that the module itself uses (a helper of a
    use-case: its caller is that use-case)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            yield f"{path.stem}.{node.id}"


def referenced(functions: set[str]) -> set[str]:
    """Service functions used anywhere under src/lfr (never counting the tests)."""
    reached: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        reached.update(_references(path))
        if path.parent == SERVICES:
            reached.update(_used_at_home(path))
    return reached & functions


def test_every_public_service_function_has_a_door() -> None:
    functions = public_service_functions()
    reached = referenced(functions)
    unreached = sorted(functions - reached - set(WITHOUT_A_DOOR))
    assert unreached == [], (
        "public service functions with no caller outside the tests (give each a page, an "
        f"API route or a command, or make it private): {unreached}"
    )
    stale = sorted(name for name in WITHOUT_A_DOOR if name in reached or name not in functions)
    assert stale == [], f"listed without a door, but now reached or gone: {stale}"


def test_the_check_reads_the_code() -> None:
    """The reader finds what it must: a known door, and no invented function."""
    functions = public_service_functions()
    assert "alerts.hold_alert" in functions
    assert "alerts._decide" not in functions
    assert "alerts.hold_alert" in referenced(functions)
