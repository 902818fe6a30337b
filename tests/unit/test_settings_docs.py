"""The settings the operations and web documents tell engineers to set exist, under the
variable named: a renamed setting cannot leave a table pointing at nothing."""

from __future__ import annotations

import re
from pathlib import Path

from lfr.effective_settings import effective_settings
from lfr.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def settable_variables() -> set[str]:
    return {row.variable for row in effective_settings(Settings())}


def test_every_nested_variable_in_the_operations_tables_is_a_setting() -> None:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    named = re.findall(r"`((?:ENGINE|SUPERVISOR|NATS)__[A-Z_]+)`", text, re.MULTILINE)
    assert len(named) >= 8
    assert {f"LFR_{name}" for name in named} - settable_variables() == set()


def test_every_row_of_the_web_table_is_a_web_setting() -> None:
    text = (DOCS / "web.md").read_text(encoding="utf-8")
    table = text.split("## Thresholds and their trade-offs (the `web` settings)")[1]
    named = re.findall(r"^\| `([A-Z_]+)`", table.split("## ")[0], re.MULTILINE)
    assert len(named) >= 5
    assert {f"LFR_WEB__{name}" for name in named} - settable_variables() == set()
