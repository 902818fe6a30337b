"""One line between services and reports (docs/architecture.md, docs/reports.md): a report
computes from values and the rows it reads; whatever writes and audits is a service. So no
module of `lfr.reports` imports the audit writer or a private module of `lfr.services` (its
row-locking and audit helpers), nor writes through a session it is given."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[2] / "src" / "lfr" / "reports"

AUDIT_WRITERS = frozenset({"lfr.audit.record", "lfr.audit.log", "lfr.audit.log.record"})
"""The audit log's writer, by each name it can be imported under."""

SESSION_WRITES = frozenset({"add", "add_all", "delete", "flush", "merge", "commit"})
"""What a `Session` does that changes the database."""

SQL_WRITES = frozenset({"insert", "update", "delete"})
"""SQLAlchemy's statement builders that change rows (`sqlalchemy.insert`, ...)."""


def _imported_modules(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _session_names(function: ast.FunctionDef) -> set[str]:
    """The parameters annotated `Session` (the way every report takes its session)."""
    arguments = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]
    return {
        argument.arg
        for argument in arguments
        if isinstance(argument.annotation, ast.Name) and argument.annotation.id == "Session"
    }


def _session_writes(tree: ast.Module) -> Iterator[str]:
    """`session.add(...)`, `session.flush()`, ... on a function's `Session` parameter."""
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef):
            continue
        sessions = _session_names(function)
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in sessions
                and node.func.attr in SESSION_WRITES
            ):
                yield f"{function.name}: {node.func.value.id}.{node.func.attr}"


def writes_of(source: str) -> set[str]:
    """Everything in a module's source that writes or audits, or reaches a service's
    private helpers; empty for a module that only computes."""
    tree = ast.parse(source)
    modules = _imported_modules(tree)
    found = {f"imports {m}" for m in modules if m.startswith("lfr.services._")}
    found |= {f"imports {m}" for m in modules & AUDIT_WRITERS}
    found |= {f"imports {m}" for m in modules if m in {f"sqlalchemy.{w}" for w in SQL_WRITES}}
    found |= set(_session_writes(tree))
    return found


def test_no_report_writes_audits_or_imports_a_private_service_module() -> None:
    offending = {
        f"{path.name}: {write}"
        for path in REPORTS.glob("*.py")
        for write in writes_of(path.read_text(encoding="utf-8"))
    }
    assert offending == set(), "move these into a module of lfr.services"


def test_the_check_finds_each_kind_of_write() -> None:
    """The reader catches what it must, and leaves a computation alone."""
    writer = """
from sqlalchemy import insert, select
from lfr.audit import record
from lfr.services._rows import audited

def keep(session: Session, rows: list[int]) -> None:
    session.add(rows[0])
    session.flush()
    rows.append(1)
"""
    assert writes_of(writer) == {
        "imports lfr.services._rows",
        "imports lfr.services._rows.audited",
        "imports lfr.audit.record",
        "imports sqlalchemy.insert",
        "keep: session.add",
        "keep: session.flush",
    }
    reader = """
from sqlalchemy import select

def count(session: Session, seen: set[str]) -> int:
    seen.add("x")
    return len(session.scalars(select(Row)).all())
"""
    assert writes_of(reader) == set()
