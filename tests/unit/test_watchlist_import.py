"""Reading a bulk import's CSV (WL-3, issue 15): several images per subject, every problem
named by its row at once, nothing guessed."""

from __future__ import annotations

from datetime import date

import pytest

from lfr.domain.categories import WatchlistCategory
from lfr.domain.refusal import Refusal
from lfr.services.watchlist_import import ImportRow, parse_import

HEADER = "subject_reference,category,reason,image_source,image,date_of_birth"


def parse(*rows: str, image_ok: bool = True, interest_ok: bool = False) -> list[ImportRow]:
    table = "\n".join([HEADER, *rows]).encode()
    return parse_import(
        table, "list.csv", attests_image_is_subject=image_ok, attests_still_of_interest=interest_ok
    )


def test_a_row_names_several_images_separated_by_semicolons() -> None:
    (row,) = parse("PNC-1,wanted_by_courts,warrant,custody, front.jpg ;side.jpg;;,1990-02-03")
    assert row.number == 2
    assert row.image_names == ("front.jpg", "side.jpg")
    assert row.draft.subject_reference == "PNC-1"
    assert row.draft.category is WatchlistCategory("wanted_by_courts")
    assert row.draft.date_of_birth == date(1990, 2, 3)
    assert row.draft.attests_image_is_subject is True
    assert row.draft.attests_still_of_interest is False


def test_every_unreadable_row_is_named_at_once() -> None:
    with pytest.raises(Refusal) as refused:
        parse(
            "PNC-1,wanted_by_courts,warrant,custody,a.jpg,",
            "PNC-2,nonsense,warrant,custody,b.jpg,",
            "PNC-3,wanted_by_courts,warrant,custody,c.jpg,03/02/1990",
            "PNC-4,wanted_by_courts,warrant,custody, ; ,",
        )
    problems = {(u.rule, u.field) for u in refused.value.unmet}
    assert problems == {
        ("WL-3", "row 3 category"),
        ("WL-3a", "row 4 date_of_birth"),
        ("WL-3", "row 5 image"),
    }


def test_a_file_without_rows_or_columns_is_refused_by_name() -> None:
    with pytest.raises(Refusal, match="no rows"):
        parse()
    with pytest.raises(Refusal, match=r"missing column\(s\): image"):
        parse_import(
            b"subject_reference,category,reason,image_source\n",
            "list.csv",
            attests_image_is_subject=True,
            attests_still_of_interest=True,
        )
    with pytest.raises(Refusal, match="not UTF-8"):
        parse_import(
            b"\xff\xfe\x00",
            "list.csv",
            attests_image_is_subject=True,
            attests_still_of_interest=True,
        )


def test_a_row_longer_than_the_header_is_refused_not_cut_short() -> None:
    """An unquoted comma shifts a row's cells: the cells beyond the header were dropped and
    the rest stored as if nothing was wrong."""
    with pytest.raises(Refusal) as refused:
        parse(
            "PNC-1,wanted_by_courts,warrant,custody,a.jpg,",
            "PNC-2,wanted_by_courts,warrant,custody,b.jpg,,robbery, 2024",
        )
    assert {(u.rule, u.field) for u in refused.value.unmet} == {("WL-3", "row 3 columns")}


def test_a_column_named_twice_is_refused() -> None:
    """Two `subject_reference` columns: which one names the subject cannot be guessed."""
    with pytest.raises(Refusal, match="named more than once: subject_reference"):
        parse_import(
            b"subject_reference,subject_reference,category,reason,image_source,image\n"
            b"PNC-1,PNC-2,wanted_by_courts,warrant,custody,a.jpg\n",
            "list.csv",
            attests_image_is_subject=True,
            attests_still_of_interest=True,
        )
