"""One line between services and reports (docs/architecture.md): a report computes from
values and rows; whatever changes and audits is a service. So no module of `lfr.reports`
imports a private module of `lfr.services` (its row-locking and audit helpers)."""

from __future__ import annotations

import ast
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[2] / "src" / "lfr" / "reports"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_report_imports_a_private_service_module() -> None:
    offending = {
        f"{path.name}: {module}"
        for path in REPORTS.glob("*.py")
        for module in _imported_modules(path)
        if module.startswith("lfr.services._")
    }
    assert offending == set()
