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


def _loads(node: ast.AST) -> set[str]:
    return {
        name.id
        for name in ast.walk(node)
        if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load)
    }


def _home_uses(path: Path) -> dict[str, set[str]]:
    """For a services module: each top-level function's name -> the names it uses, and
    under "" the names its module-level code uses (tables of functions, defaults)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses: dict[str, set[str]] = {"": set()}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            uses[node.name] = _loads(node)
        else:
            uses[""] |= _loads(node)
    return uses


def _reached_at_home(outside: set[str], homes: dict[str, dict[str, set[str]]]) -> set[str]:
    """What a services module uses on behalf of a function that is itself reached: a
    helper counts as reached only through a use-case that a door reaches, never merely
    because its own module names it."""
    reached = set(outside) | {f"{stem}.{name}" for stem, uses in homes.items() for name in uses[""]}
    frontier = list(reached)
    while frontier:
        stem, _, function = frontier.pop().partition(".")
        for name in homes.get(stem, {}).get(function, set()):
            found = f"{stem}.{name}"
            if found not in reached:
                reached.add(found)
                frontier.append(found)
    return reached


def referenced(functions: set[str]) -> set[str]:
    """Service functions reached from outside their module anywhere under src/lfr (never
    counting the tests), and the helpers those use in their own module."""
    outside: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        outside.update(_references(path))
    homes = {path.stem: _home_uses(path) for path in SERVICES.glob("*.py")}
    return _reached_at_home(outside, homes) & functions


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


def test_a_use_inside_its_own_module_counts_only_through_a_reached_function(
    tmp_path: Path,
) -> None:
    """A helper named only by an unreached function of its own module is not reached; one
    named by a reached function, or by the module's own tables, is."""
    module = tmp_path / "demo.py"
    module.write_text(
        "TABLE = {'x': tabled}\n"
        "def reached_case():\n    return helper()\n"
        "def orphan_case():\n    return lonely_helper()\n"
        "def helper():\n    return deeper()\n",
        encoding="utf-8",
    )
    homes = {"demo": _home_uses(module)}
    reached = _reached_at_home({"demo.reached_case"}, homes)
    assert {"demo.helper", "demo.deeper", "demo.tabled"} <= reached
    assert "demo.lonely_helper" not in reached
    assert "demo.orphan_case" not in reached
