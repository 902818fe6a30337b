"""`lfr watch SOURCE... --watchlist DIR`: run the recognition engine on video and print alerts.

For a rehearsal or a quick check of a watchlist against a clip or a camera. Watchlist
images that fail enrolment (WL-5) are reported on stderr with their reason and the rest
are enrolled; a source that cannot be opened is reported on stderr naming it and the other
sources still run. Only alerts and a summary are printed: nothing about a face that did not
alert is shown, logged or written (REC-4).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from lfr.cli._settings import ConfigFile, load_standalone_settings, require_available_hardware
from lfr.vision.enrolment import load_watchlist_dir
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import CameraWorker, Emitted, Engine, EngineConfig
from lfr.vision.source_types import source_type
from lfr.vision.sources import SourceError, open_source, shown
from lfr.vision.types import CameraStatus, HealthFigures, MatchEvent

CONNECT_PATIENCE_S = 10.0
"""How long `lfr watch` retries a stream (with the backoff a dropped camera gets) until
its first frame before giving up on it (`--give-up-after`; a deployment's worker instead
keeps retrying and reports the camera down)."""


@dataclass
class _Console:
    """Prints alerts as they come (one thread per camera) and collects the last health
    figures of each camera for the summary."""

    as_json: bool
    alerts: int = 0
    health: dict[str, HealthFigures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, emitted: Emitted) -> None:
        with self._lock:
            if isinstance(emitted, MatchEvent):
                self.alerts += 1
                typer.echo(
                    json.dumps(alert_record(emitted)) if self.as_json else alert_line(emitted)
                )
            else:
                self._health(emitted)

    def _health(self, figures: HealthFigures) -> None:
        before = self.health.get(figures.camera)
        self.health[figures.camera] = figures
        went_down = figures.status is CameraStatus.DOWN and (
            before is None or before.status is not CameraStatus.DOWN
        )
        if went_down:
            typer.echo(
                f"camera {figures.camera} down: {figures.last_error or 'no frames'}", err=True
            )


def alert_record(event: MatchEvent) -> dict[str, Any]:
    """The JSON line for one alert (no probe image: a terminal is not where it belongs)."""
    return {
        "subject": event.subject_id,
        "score": round(event.score, 4),
        "track": event.track_id,
        "camera": event.camera,
        "time": event.captured_at.isoformat(),
        "first_seen": event.first_seen.isoformat(),
        "observations": event.observations,
        "threshold": event.threshold,
        "list": event.list_kind.value,
        "box": event.box.model_dump(),
        "quality": event.quality.model_dump(),
        "candidates": [c.model_dump() for c in event.candidates],
    }


def alert_line(event: MatchEvent) -> str:
    return (
        f"{event.captured_at:%H:%M:%S.%f}"[:-3]
        + f"  ALERT {event.subject_id}  score {event.score:.3f} (threshold {event.threshold:.3f})"
        + f"  camera {event.camera}  track {event.track_id}  {event.observations} observations"
        + f"  quality {event.quality.score:.2f}"
    )


def summary(console: _Console, wall_s: float) -> dict[str, Any]:
    frames = sum(h.frames for h in console.health.values())
    faces = sum(h.faces for h in console.health.values())
    return {
        "frames": frames,
        "faces": faces,
        "alerts": console.alerts,
        "fps": round(frames / wall_s, 2) if wall_s > 0 else 0.0,
        "dropped_frames": sum(h.dropped_frames for h in console.health.values()),
        "errors": sum(h.errors for h in console.health.values()),
    }


def _camera_name(spec: str, given: str | None, several: bool) -> str:
    if given and not several:
        return given
    return shown(spec) if source_type(spec).live else Path(spec).stem


def _enrol(watchlist: Path, engine: Engine, config: EngineConfig) -> Gallery:
    try:
        gallery, refusals = load_watchlist_dir(
            watchlist,
            engine.enrolment_analyser,
            engine.describer,
            config.enrolment_gate,
            description=config.description,
        )
    except NotADirectoryError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for refusal in refusals:
        typer.echo(f"refused: {refusal}", err=True)
    if not len(gallery):
        typer.echo(f"warning: {watchlist}: no subject enrolled, nothing can alert", err=True)
    return gallery


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Ctrl-C, and the stop a service manager or a container runtime sends."""


def _run_workers(workers: list[CameraWorker]) -> None:
    """Run every worker in its thread until their sources end or Ctrl-C (SIGINT) or
    SIGTERM stops them, the summary still printed. The signal sets the workers' stop event
    instead of raising KeyboardInterrupt: the exception, raised while dlib ran in a worker
    thread, aborted the process at exit."""
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in workers]
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = (
        {number: signal.signal(number, lambda *_: stop.set()) for number in STOP_SIGNALS}
        if in_main_thread
        else {}
    )
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for worker in workers:
            worker.source.close()


def register(app: typer.Typer) -> None:
    @app.command()
    def watch(
        sources: Annotated[
            list[str],
            typer.Argument(
                help="Video files, stream URLs (rtsp://, http://…) or local devices (device:0)."
            ),
        ],
        watchlist: Annotated[
            Path,
            typer.Option(help="DIR/<subject>/*.jpg or DIR/<subject>.jpg (jpg, jpeg, png)."),
        ],
        threshold: Annotated[
            float | None,
            typer.Option(
                min=-1.0,
                max=1.0,
                help=(
                    "Alert threshold (cosine similarity); the authority's figure "
                    "(default: the settings' engine.alert_threshold)."
                ),
            ),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="One JSON object per alert, then a summary.")
        ] = False,
        camera: Annotated[
            str | None, typer.Option(help="Camera name (one source only; default: file name).")
        ] = None,
        realtime: Annotated[
            bool, typer.Option(help="Replay files at their frame rate, dropping what lags.")
        ] = False,
        loop: Annotated[
            bool,
            typer.Option(
                help="Play files again from the start when they end, until interrupted "
                "(a long-running camera from a file; streams and devices never end)."
            ),
        ] = False,
        give_up_after: Annotated[
            float,
            typer.Option(
                min=0.0,
                help="Seconds to keep retrying a stream or device that is not up yet "
                "before giving up on it (exit status 1); 0 never gives up: it is "
                "reported down and retried like a camera that dropped.",
            ),
        ] = CONNECT_PATIENCE_S,
        upsample: Annotated[
            int | None,
            typer.Option(
                min=0,
                max=3,
                help=(
                    "Detector upsampling: finds faces half as large per step, ×4 time "
                    "(default: the settings' engine.detector.upsample)."
                ),
            ),
        ] = None,
        config_file: ConfigFile = None,
    ) -> None:
        """Watch video for the people on a watchlist; print one line per alert."""
        # The engine as configured (as a deployment runs it), with what the command names.
        engine_settings = load_standalone_settings(config_file).engine
        require_available_hardware(engine_settings)
        config = _engine_for_command(engine_settings, threshold, upsample)
        engine = Engine.from_config(config)
        console = _Console(as_json)
        gallery = _enrol(watchlist, engine, config)
        workers, failed = [], 0
        started = time.monotonic()
        for spec in sources:
            name = _camera_name(spec, camera, len(sources) > 1)
            try:
                source = open_source(
                    spec,
                    name,
                    realtime=realtime,
                    loop=loop,
                    wait_for_first_connection_s=give_up_after,
                    decoding=config.decoding,
                )
            except SourceError as error:
                typer.echo(f"error: {error}", err=True)
                failed += 1
                continue
            workers.append(CameraWorker(source, engine, gallery, config, console))
        _run_workers(workers)
        totals = summary(console, time.monotonic() - started)
        typer.echo(json.dumps({"summary": totals}) if as_json else _summary_line(totals))
        failed += _report_unreadable(console, [w.source.camera for w in workers])
        if failed:
            raise typer.Exit(1)


def _engine_for_command(
    engine: EngineConfig, threshold: float | None, upsample: int | None
) -> EngineConfig:
    changes: dict[str, Any] = {}
    if threshold is not None:
        changes["alert_threshold"] = threshold
    if upsample is not None:
        changes["detector"] = {"upsample": upsample}
    try:
        return engine.updated(**changes)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _report_unreadable(console: _Console, cameras: list[str]) -> int:
    """Say which sources yielded no frame (a corrupt or empty file) or had decode errors;
    return how many yielded none (each makes the command fail)."""
    unreadable = 0
    for name in cameras:
        health = console.health.get(name)
        frames = health.frames if health is not None else 0
        errors = health.errors if health is not None else 0
        if frames == 0:
            reason = (health.last_error if health is not None else None) or "no frame decoded"
            typer.echo(f"error: {name}: no frame could be read ({reason})", err=True)
            unreadable += 1
        elif errors:
            typer.echo(f"warning: {name}: {errors} decode error(s)", err=True)
    return unreadable


def _summary_line(totals: dict[str, Any]) -> str:
    return (
        f"{totals['frames']} frames, {totals['faces']} faces, {totals['alerts']} alerts, "
        f"{totals['fps']} frames/s, {totals['dropped_frames']} dropped, {totals['errors']} errors"
    )
