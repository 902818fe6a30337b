"""Run the benchmarks and print their tables (Markdown).

    PYTHONPATH=src python -m benchmarks                 # quick: 75 frames per clip
    PYTHONPATH=src python -m benchmarks --full          # whole clips, 250-frame crowds
    PYTHONPATH=src python -m benchmarks --describers dlib onnx --sections clips --clips 720p

Sections: `stages` (ms per stage per clip, then ms per frame and faces found for each
detector setting), `matcher` (ms per probe, 1k–1M templates), `clips` (the engine as
shipped against the naive per-frame loop on every clip: fps, latency, recall, alerts,
peak memory). `--clips TEXT...` keeps the clips whose name contains one of the texts.
Results are also written as JSON to .lfr-cache/benchmarks/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks import CACHE_ROOT, shared_data_dir
from benchmarks import crowd as crowd_clips
from benchmarks.common import NAIVE_DESCRIBER, enrolled_gallery, video_clips, video_watchlist
from benchmarks.matcher_scaling import find_lfw_descriptors
from benchmarks.matcher_scaling import run as run_matcher
from benchmarks.matcher_scaling import table as matcher_table
from benchmarks.stages import DetectorTime, StageTimes, detector_times, measure
from benchmarks.throughput import RunResult, RunSpec, run_in_subprocess, walker_recall
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD

HAMILTON_PEOPLE = {"lin-manuel-miranda", "alex-lacamoire"}
NOT_RUN: dict[str, Any] = {
    "fps": math.nan,
    "recall": math.nan,
    "found": 0,
    "watchlisted_walkers": 0,
    "alerts": "—",
    "false_alerts": "—",
    "descriptions": "—",
    "latency_ms_p50": math.nan,
    "latency_ms_p95": math.nan,
    "peak_rss_mb": math.nan,
    "cpu_ms_per_frame": math.nan,
}
"""The naive loop's figures in a run with `--engine-only`."""


def _crowds(frames: int) -> list[crowd_clips.CrowdClip]:
    return [
        crowd_clips.generate(crowd_clips.CrowdSpec(height=h, frames=frames)) for h in (720, 1080)
    ]


def stages_table(rows: Sequence[StageTimes], describers: Sequence[str]) -> str:
    head = "| clip | resolution | frames | faces | decode | detect | landmarks | align | quality | "
    head += " | ".join(f"describe ({d}), 1 / batch of 8" for d in describers) + " | match |"
    lines = [head, "|" + "---|" * (9 + len(describers) + 1)]
    for r in rows:
        describe = " | ".join(
            f"{r.describe_ms[d]:.1f} / {r.batch_describe_ms[d]:.1f}" for d in describers
        )
        lines.append(
            f"| {r.clip} | {r.resolution} | {r.frames} | {r.faces} | {r.decode_ms:.1f} | "
            f"{r.detect_ms:.1f} | {r.landmarks_ms:.2f} | {r.align_ms:.2f} | {r.quality_ms:.2f} | "
            f"{describe} | {r.match_ms:.3f} |"
        )
    return "\n".join(lines)


def detectors_table(rows: Sequence[DetectorTime]) -> str:
    lines = ["| clip | detector setting | faces found | ms per frame |", "|---|---|---:|---:|"]
    lines += [f"| {r.clip} | {r.setting} | {r.faces} | {r.ms:.1f} |" for r in rows]
    return "\n".join(lines)


def _outcome(result: RunResult, truth: dict[str, Any] | None, enrolled: set[str]) -> dict[str, Any]:
    if truth is not None:
        return walker_recall(result.alerts, truth, enrolled)
    expected = HAMILTON_PEOPLE if "hamilton" in result.spec.clip else set()
    return {
        "recall": math.nan,
        "alerts": len(result.alerts),
        "false_alerts": sum(1 for s in result.alerts if s not in expected),
        "found": len(expected & set(result.alerts)),
        "watchlisted_walkers": len(expected),
    }


def run_clips(
    clips: Sequence[tuple[Path, Path, dict[str, Any] | None]],
    describers: Sequence[str],
    max_frames: int,
    threshold: float,
    engine_detector: dict[str, Any] | None = None,
    modes: Sequence[str] = ("engine", "naive"),
    engine_settings: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    rows = []
    for video, watchlist, truth in clips:
        for describer in describers:
            enrolled = set(enrolled_gallery(watchlist, describer).gallery.subject_ids)
            row: dict[str, Any] = {"clip": _clip_name(video), "describer": describer}
            for mode in modes:
                used = describer if mode == "engine" else NAIVE_DESCRIBER
                spec = RunSpec(
                    mode,
                    str(video),
                    str(watchlist),
                    used,
                    threshold,
                    max_frames,
                    engine_detector,
                    engine_settings,
                )
                result = run_in_subprocess(spec)
                row[mode] = {
                    "frames": result.frames,
                    "seconds": result.seconds,
                    "fps": result.fps,
                    "faces": result.faces,
                    "descriptions": result.descriptions,
                    "peak_rss_mb": result.peak_rss_mb,
                    "latency_ms_p50": result.latency_ms_p50,
                    "latency_ms_p95": result.latency_ms_p95,
                    "cpu_ms_per_frame": result.cpu_ms_per_frame,
                    "refused_enrolments": result.refused_enrolments,
                    **_outcome(result, truth, enrolled),
                }
            rows.append(row)
            print(f"  {row['clip']} ({describer}): done", flush=True)
    return rows


def _clip_name(video: Path) -> str:
    return video.parent.name if video.name == "clip.mp4" else video.name


def _recall(outcome: dict[str, Any]) -> str:
    if math.isnan(outcome["recall"]):
        expected = outcome["watchlisted_walkers"]
        return f"{outcome['found']}/{expected} known" if expected else "—"
    return f"{outcome['found']}/{outcome['watchlisted_walkers']}"


def clips_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| clip | describer | frames | engine fps | naive fps | speed-up | recall engine | "
        "recall naive | alerts engine (false) | alerts naive (false) | described engine / "
        "naive | latency p50 / p95 ms engine | naive | CPU ms per frame engine / naive | "
        "peak RSS MB engine / naive |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        engine, naive = row["engine"], row.get("naive", NOT_RUN)
        speedup = engine["fps"] / naive["fps"] if naive["fps"] else math.nan  # nan: not run
        lines.append(
            f"| {row['clip']} | {row['describer']} | {engine['frames']} | {engine['fps']:.2f} | "
            f"{naive['fps']:.2f} | {speedup:.1f}× | {_recall(engine)} | {_recall(naive)} | "
            f"{engine['alerts']} ({engine['false_alerts']}) | "
            f"{naive['alerts']} ({naive['false_alerts']}) | "
            f"{engine['descriptions']} / {naive['descriptions']} | "
            f"{engine['latency_ms_p50']:.0f} / {engine['latency_ms_p95']:.0f} | "
            f"{naive['latency_ms_p50']:.0f} / {naive['latency_ms_p95']:.0f} | "
            f"{engine['cpu_ms_per_frame']:.0f} / {naive['cpu_ms_per_frame']:.0f} | "
            f"{engine['peak_rss_mb']:.0f} / {naive['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="Whole clips; 250-frame crowds.")
    parser.add_argument(
        "--describers",
        nargs="+",
        default=["dlib"],
        help=(
            "The engine's describer(s): dlib (the default, ResNet in ONNX Runtime), dlib-bin, "
            "onnx. The naive loop always uses dlib-bin, as face_recognition does."
        ),
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["stages", "matcher", "clips"],
        choices=["stages", "matcher", "clips"],
    )
    parser.add_argument("--threshold", type=float, default=DEFAULT_ALERT_THRESHOLD)
    parser.add_argument(
        "--engine-detector",
        type=json.loads,
        default=None,
        metavar="JSON",
        help=(
            'The engine\'s detector settings, e.g. \'{"type": "hog"}\' (full resolution, as '
            "before max_detect_width); the engine's default when omitted."
        ),
    )
    parser.add_argument(
        "--clips",
        nargs="+",
        default=[],
        metavar="TEXT",
        help="Only the clips whose name contains one of these (e.g. 720p hamilton).",
    )
    parser.add_argument(
        "--engine-settings",
        type=json.loads,
        default=None,
        metavar="JSON",
        help=(
            "Further EngineConfig fields for the engine, e.g. "
            '\'{"following": {"detect_every": 1}}\' (detection on every frame, as before).'
        ),
    )
    parser.add_argument(
        "--engine-only",
        action="store_true",
        help="Skip the naive loop (its figures do not change with the engine's).",
    )
    args = parser.parse_args(argv)
    frames = 100_000 if args.full else 75
    crowds = _crowds(250 if args.full else 75)
    watchlist = crowds[0].watchlist
    others = video_watchlist(watchlist)
    clips = [(c.video, c.watchlist, c.truth()) for c in crowds]
    clips += [(video, others, None) for video in video_clips()]
    if args.clips:
        clips = [c for c in clips if any(text in _clip_name(c[0]) for text in args.clips)]
    mode = "full" if args.full else "quick"
    print(f"# lfr benchmarks ({mode}) on {platform.machine()}, {os.cpu_count()} cores")
    print(f"alert threshold {args.threshold}; watchlists: crowd {watchlist}, video {others}\n")
    results: dict[str, Any] = {"threshold": args.threshold, "full": args.full}
    if "stages" in args.sections:
        gallery = enrolled_gallery(watchlist, args.describers[0]).gallery
        timed_describers = list(dict.fromkeys([*args.describers, NAIVE_DESCRIBER]))
        stage_rows = [
            measure(video, min(frames, 30), timed_describers, gallery) for video, _, _ in clips
        ]
        results["stages"] = [asdict(r) for r in stage_rows]
        print(
            "## ms per stage (median; detect per frame, the rest per face, match per probe "
            f"against {len(gallery)} subjects)\n"
        )
        print(stages_table(stage_rows, timed_describers) + "\n")
        yunet = shared_data_dir().parent / "models" / "yunet_n_640_640.onnx"
        detector_rows = [
            row for video, _, _ in clips for row in detector_times(video, min(frames, 10), yunet)
        ]
        results["detectors"] = [asdict(r) for r in detector_rows]
        print("## detector settings (median ms per frame, faces found in the first frames)\n")
        print(detectors_table(detector_rows) + "\n")
    if "matcher" in args.sections:
        timings = run_matcher(
            [1_000, 10_000, 100_000, 1_000_000],
            repeats=10 if not args.full else 30,
            real=find_lfw_descriptors(None),
        )
        results["matcher"] = [asdict(t) for t in timings]
        print("## matcher (128-d templates), exact and screened search\n")
        print(matcher_table(timings) + "\n")
    if "clips" in args.sections:
        modes = ("engine",) if args.engine_only else ("engine", "naive")
        rows = run_clips(
            clips,
            args.describers,
            frames,
            args.threshold,
            args.engine_detector,
            modes,
            args.engine_settings,
        )
        results["clips"] = rows
        print("\n## engine (CameraWorker) against the naive per-frame loop\n")
        print(clips_table(rows) + "\n")
    out = CACHE_ROOT / "benchmarks" / f"results-{'full' if args.full else 'quick'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
