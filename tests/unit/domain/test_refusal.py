"""A refusal names what was asked for without echoing input of any length."""

from __future__ import annotations

from lfr.domain.refusal import NotFound


def test_not_found_names_an_id_whole_and_a_huge_one_cut() -> None:
    assert NotFound("application", "a1b2").unmet[0].reason == "no application 'a1b2'"
    reason = NotFound("application", "x" * 5000).unmet[0].reason
    assert reason == f"no application {'x' * 80!r}… (5000 characters)"
