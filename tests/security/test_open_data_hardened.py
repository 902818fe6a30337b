"""Open data and documents (issue 13, PUB-3): spreadsheet formulas defused in the CSV,
document names that cannot break the download header, numeric parameters bounded."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from lfr.reports.transparency import ResultPublic, results_csv, results_from_csv
from lfr.web.downloads import attachment
from tests.db_fixtures import Personas

FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"]


def _result(title: str) -> ResultPublic:
    moment = datetime(2026, 11, 1, 10, tzinfo=UTC)
    return ResultPublic(
        deployment_id="d-1",
        title=title,
        date=date(2026, 11, 1),
        started_at=moment,
        ended_at=moment,
        places='Station; =HYPERLINK("http://x")',
        watchlist_size=3,
        faces_seen=None,
        alerts=1,
        true_alerts=1,
        false_alerts=0,
        engagements=1,
        arrests=0,
        reviewed_on=date(2026, 11, 2),
    )


@pytest.mark.parametrize("title", FORMULAS)
def test_csv_cells_that_a_spreadsheet_would_run_are_defused(title: str) -> None:
    """Issue 13: an application title `=cmd|' /C calc'!A0` went verbatim into the CSV."""
    text = results_csv([_result(title)])
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    cells = [cell for row in rows for cell in row]
    assert "'" + title.replace("\r", "\n") in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert results_from_csv(text)[0].title == title.replace("\r", "\n")  # the round trip


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("Политика LFR.pdf", "________ LFR.pdf"),
        ("policy\".pdf; filename*=UTF-8''evil.exe", "policy_.pdf_ filename*=UTF-8''evil.exe"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        ("../../etc/passwd", "etcpasswd"),
    ],
)
def test_document_names_are_sent_with_rfc_6266_encoding(name: str, fallback: str) -> None:
    header = attachment(name)
    assert header.startswith(f"attachment; filename=\"{fallback}\"; filename*=UTF-8''")
    header.encode("latin-1")  # always sendable as an HTTP header
    assert header.count('"') == 2
    assert "\x00" not in header


def test_a_non_latin_document_name_downloads(
    app_client: TestClient, personas: Personas, client_for
) -> None:
    """Issue 13: a non-Latin-1 name gave 500 on public download; a quote injected
    `filename*`; a NUL dropped the connection."""
    admin = client_for(personas.administrator)
    response = admin.post(
        "/public/documents",
        data={"title": "Policy", "kind": "policy"},
        files={"file": ('Политика "LFR"\x00.txt', b"policy text", "text/plain")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = app_client.get("/public/documents").text
    document_id = page.split('href="/public/documents/')[1].split('"')[0]
    download = app_client.get(f"/public/documents/{document_id}")
    assert download.status_code == 200
    assert download.content == b"policy text"
    disposition = download.headers["content-disposition"]
    assert "filename*=UTF-8''%D0%9F%D0%BE%D0%BB%D0%B8%D1%82%D0%B8%D0%BA%D0%B0" in disposition
    assert disposition.count('"') == 2


@pytest.mark.parametrize("path", ["/audit", "/api/audit/entries"])
@pytest.mark.parametrize("before", ["99999999999999999999", "-1", "0", "1e9"])
def test_numeric_query_parameters_are_bounded(
    personas: Personas, client_for, path: str, before: str
) -> None:
    """Issue 13: `before=99999999999999999999` gave 500."""
    response = client_for(personas.auditor).get(f"{path}?before={before}")
    assert response.status_code == 422
