"""One road for configuration (docs/architecture.md, "How configuration flows"): only the
command-line entry points read the process's settings; every other part is handed what
`lfr.system.build(settings)` was given. This reads the code, as the layer test does: a
module outside `lfr.cli` that calls `get_settings()` or builds a `Settings()` of its own
would obey the environment instead of the settings its system was built with."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "lfr"
READERS = {"get_settings", "use_settings_file", "Settings", "StandaloneSettings"}
"""Names whose call reads the process's arguments, environment, `.env` and settings file."""


def settings_readers(path: Path) -> list[str]:
    """Where `path` calls one of `READERS` (``name:line``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        called = node.func
        name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", None)
        if name in READERS:
            found.append(f"{name}:{node.lineno}")
    return found


def test_only_the_command_line_reads_the_process_settings() -> None:
    outside = {
        str(path.relative_to(SOURCE)): readers
        for path in sorted(SOURCE.rglob("*.py"))
        if path.relative_to(SOURCE).parts[0] not in ("cli", "settings.py")
        and (readers := settings_readers(path))
    }
    assert outside == {}


def test_the_check_sees_a_reader() -> None:
    """The scan finds the command line's own reader (so an empty result above means none)."""
    assert settings_readers(SOURCE / "cli" / "_settings.py")
