"""`lfr watch` end to end on real video (REC-1..3, WL-5).

The Hamilton clip has three shots: a wide stage shot (Lin-Manuel Miranda's face about
50 px high, eyes under 20 px apart: too small to be matched, by design), a close-up of
him (frames 82–210) and the audience. Alex Lacamoire sits at the piano in the wide shot,
his face about 15 px: no detector setting the engine ships finds it. So the engine sees
one usable pass of Miranda, and must alert on it exactly once, and on nobody else.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lfr.cli import app
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD

from .conftest import LACAMOIRE, MIRANDA, make_watchlist

HAMILTON = "short_hamilton_clip.mp4"
WALKING = "face-demographics-walking-and-pause.gif"


class WatchRun:
    def __init__(self, args: list[str]) -> None:
        result = CliRunner().invoke(app, ["watch", *args])
        self.exit_code = result.exit_code
        self.stderr = result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        self.alerts: list[dict[str, Any]] = [line for line in lines if "summary" not in line]
        self.summaries = [line["summary"] for line in lines if "summary" in line]
        self.exception = result.exception


@pytest.fixture(scope="module")
def miranda_run(
    tmp_path_factory: pytest.TempPathFactory, examples_dir: Path, video_dir: Path
) -> WatchRun:
    watchlist = make_watchlist(tmp_path_factory.mktemp("wl"), [examples_dir / f"{MIRANDA}.png"])
    return WatchRun([str(video_dir / HAMILTON), "--watchlist", str(watchlist), "--json"])


@pytest.fixture(scope="module")
def both_run(
    tmp_path_factory: pytest.TempPathFactory, examples_dir: Path, video_dir: Path
) -> WatchRun:
    images = [examples_dir / f"{MIRANDA}.png", examples_dir / f"{LACAMOIRE}.png"]
    watchlist = make_watchlist(tmp_path_factory.mktemp("wl"), images)
    args = [str(video_dir / HAMILTON), "--watchlist", str(watchlist), "--json"]
    return WatchRun([*args, "--camera", "stage"])


def test_watch_alerts_on_miranda_once_for_his_pass(miranda_run: WatchRun) -> None:
    assert miranda_run.exit_code == 0, miranda_run.exception
    assert [a["subject"] for a in miranda_run.alerts] == [MIRANDA]


def test_an_alert_line_carries_what_the_operator_needs(miranda_run: WatchRun) -> None:
    (alert,) = miranda_run.alerts
    assert alert["score"] >= DEFAULT_ALERT_THRESHOLD == alert["threshold"]
    assert alert["camera"] == "short_hamilton_clip"
    assert alert["observations"] >= 2
    assert alert["first_seen"] <= alert["time"]
    assert alert["box"]["bottom"] - alert["box"]["top"] >= 40
    assert 0 < alert["quality"]["score"] <= 1
    assert alert["candidates"][0]["subject_id"] == MIRANDA


def test_watch_ends_with_a_summary_of_the_whole_clip(miranda_run: WatchRun) -> None:
    (summary,) = miranda_run.summaries
    assert summary["frames"] == 275
    assert summary["faces"] > 100  # the close-up alone is 120 frames
    assert summary["alerts"] == len(miranda_run.alerts)
    assert summary["fps"] > 0
    assert summary["errors"] == 0


def test_enrolment_of_valid_images_reports_no_refusal(miranda_run: WatchRun) -> None:
    assert "refused" not in miranda_run.stderr


def test_second_subject_on_the_list_changes_nothing_he_is_never_seen(both_run: WatchRun) -> None:
    assert both_run.exit_code == 0, both_run.exception
    assert [(a["subject"], a["camera"]) for a in both_run.alerts] == [(MIRANDA, "stage")]
    assert {c["subject_id"] for c in both_run.alerts[0]["candidates"]} == {MIRANDA, LACAMOIRE}


def test_the_pass_is_one_track_in_both_runs(miranda_run: WatchRun, both_run: WatchRun) -> None:
    # Same video, same engine: the second list entry must not change how he is tracked.
    assert miranda_run.alerts[0]["track"] == both_run.alerts[0]["track"]
    assert miranda_run.alerts[0]["score"] == pytest.approx(both_run.alerts[0]["score"])


def test_readable_output_prints_one_line_per_alert_and_a_summary(
    tmp_path: Path, examples_dir: Path, video_dir: Path
) -> None:
    watchlist = make_watchlist(tmp_path / "wl", [examples_dir / f"{MIRANDA}.png"])
    result = CliRunner().invoke(
        app, ["watch", str(video_dir / WALKING), "--watchlist", str(watchlist)]
    )
    assert result.exit_code == 0, result.exception
    # Every frame read and summed up; nobody in the clip is on the watchlist.
    assert re.search(r"41 frames, \d+ faces?, 0 alerts", result.stdout), result.stdout


def test_bad_watchlist_images_are_refused_with_reasons_and_the_run_goes_on(
    tmp_path: Path, examples_dir: Path, video_dir: Path
) -> None:
    watchlist = make_watchlist(tmp_path / "wl", [examples_dir / f"{MIRANDA}.png"])
    (watchlist / "empty.jpg").write_bytes(b"")
    (watchlist / "not-an-image.png").write_text("hello")
    jpeg = (examples_dir / "biden.jpg").read_bytes()
    (watchlist / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (watchlist / "crowd.jpg").write_bytes((examples_dir / "two_people.jpg").read_bytes())
    run = WatchRun([str(video_dir / WALKING), "--watchlist", str(watchlist), "--json"])
    assert run.exit_code == 0, run.exception
    refused = [line for line in run.stderr.splitlines() if line.startswith("refused: ")]
    assert len(refused) == 4
    for name in ("empty.jpg", "not-an-image.png", "cut.jpg", "crowd.jpg"):
        assert any(str(watchlist / name) in line for line in refused), name
    assert "2 faces found" in run.stderr
    assert "no subject enrolled" not in run.stderr
    assert run.summaries[0]["frames"] == 41


def test_sources_that_cannot_be_opened_are_named_and_the_others_still_run(
    tmp_path: Path, examples_dir: Path, video_dir: Path
) -> None:
    watchlist = make_watchlist(tmp_path / "wl", [examples_dir / f"{MIRANDA}.png"])
    missing = tmp_path / "missing.mp4"
    refusing = "http://127.0.0.1:1/x"
    data = (video_dir / HAMILTON).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    sources = [str(missing), refusing, str(cut), str(video_dir / WALKING)]
    run = WatchRun([*sources, "--watchlist", str(watchlist), "--json"])
    assert run.exit_code == 1
    assert f"error: {missing}: no such file" in run.stderr
    assert f"error: {refusing}: cannot connect" in run.stderr
    assert f"error: {cut}: cannot be decoded as video" in run.stderr
    assert run.summaries[0]["frames"] == 41


def test_missing_watchlist_folder_is_an_error_naming_it(tmp_path: Path, video_dir: Path) -> None:
    run = WatchRun([str(video_dir / WALKING), "--watchlist", str(tmp_path / "nowhere")])
    assert run.exit_code == 2
    assert f"{tmp_path / 'nowhere'}: watchlist folder not found" in run.stderr


def test_threshold_outside_cosine_range_is_refused(tmp_path: Path, video_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["watch", str(video_dir / WALKING), "--watchlist", str(tmp_path), "--threshold", "2"]
    )
    assert result.exit_code == 2
    assert "threshold" in result.output


def test_upsampling_finds_the_small_faces_of_the_walking_clip(
    tmp_path: Path, examples_dir: Path, video_dir: Path
) -> None:
    watchlist = make_watchlist(tmp_path / "wl", [examples_dir / f"{MIRANDA}.png"])
    # without upsampling HOG finds none of these faces (test_readable_output… sees 0 faces)
    args = [str(video_dir / WALKING), "--watchlist", str(watchlist), "--json", "--upsample", "1"]
    upsampled = WatchRun(args)
    assert upsampled.summaries[0]["faces"] > 0
    assert upsampled.alerts == []


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_watch_loop_plays_a_file_until_interrupted(
    stop_signal: signal.Signals, tmp_path: Path, examples_dir: Path, video_dir: Path
) -> None:
    """REC-1: `--loop` makes a file a camera that never stops; Ctrl-C, or the SIGTERM a
    service manager stops it with, ends the watch with its summary and exit status 0."""
    watchlist = make_watchlist(tmp_path / "wl", [examples_dir / f"{MIRANDA}.png"])
    command = [sys.executable, "-m", "lfr", "watch", str(video_dir / WALKING)]
    watch = subprocess.Popen(
        [*command, "--watchlist", str(watchlist), "--json", "--loop"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")},
    )
    time.sleep(20)  # start-up, enrolment, then well over one pass of the 41 frames
    assert watch.poll() is None, "a looping file must not end by itself"
    watch.send_signal(stop_signal)
    out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])["summary"]
    assert summary["frames"] > 41
