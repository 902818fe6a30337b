"""Soak: the service with looping cameras for half an hour or more, its `/metrics` scraped
over HTTP every few seconds as Prometheus would, checking that memory stays bounded and
that no alert is lost (REC-5; docs/operations.md "Soak").

    PYTHONPATH=src:. python -m benchmarks.soak [--minutes 30] [--cameras 4] [--scrape-s 5]
        [--warmup-minutes 5] [--rss-bound-mb 50] [--nats-url nats://127.0.0.1:4222]

What runs: lfr's web application served by uvicorn in this process (as `lfr serve` does),
its recognition runtime with one real camera worker process per camera, SQLite in a
temporary folder and NATS JetStream (a fresh stream prefix, deleted at the end). The
deployment is `lfr demo`'s rehearsal, taken through the real services, with `--cameras`
cameras each playing the Hamilton clip in a loop in real time (`loop_files`): Lin-Manuel
Miranda, whose photograph is the watchlist, walks past once a pass (9.2 s).

Printed each minute: frames processed, alerts stored, RSS of the service and of each
worker. At the end, a table and three verdicts:
- scrapes: every scrape answered 200 within 5 s (one interval);
- alerts: every match event the workers published (the match stream's last sequence
  number; a re-sent event is stored once by its `Nats-Msg-Id`) is stored as an alert or
  refused with its rule counted: none lost, none stored twice;
- memory: the service's and each worker's RSS grew by less than `--rss-bound-mb` from the
  end of the warm-up to the end of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
from sqlalchemy import func, select
from tests.web.serve_process import served_in_thread

from benchmarks import shared_data_dir
from lfr.audit.log import request_id_var
from lfr.bus.streams import stream_name
from lfr.bus.subjects import Topic
from lfr.db.governance import AlertRow, DeploymentRow
from lfr.db.session import transaction
from lfr.demo import (
    authorise,
    compile_watchlist,
    plan_and_staff,
    point_camera,
    rehearsal_application,
    seed_accounts,
)
from lfr.keyring import prepare_database
from lfr.runtime.engine import run_camera_engine
from lfr.runtime.supervisor import SupervisorSettings
from lfr.services import deployments
from lfr.settings import Settings
from lfr.system import attach_recognition
from lfr.web.app import create_app
from lfr.web.context import WebContext

SCRAPE_TIMEOUT_S = 5.0
"""Prometheus' own default scrape timeout is 10 s; a scrape here must answer within one
interval."""
FRAMES = re.compile(r'^lfr_camera_frames_total\{[^}]*camera="([^"]+)"[^}]*\} ([0-9.e+]+)$')


@dataclass
class Sample:
    at_s: float
    service_rss_mb: float
    worker_rss_mb: dict[int, float]
    frames: float
    alerts: int


@dataclass(frozen=True)
class Alerts:
    published: int
    waiting: int
    stored: int
    refused: int

    @property
    def lost(self) -> int:
        return self.published - self.waiting - self.stored - self.refused


@dataclass
class Soak:
    scrapes: int = 0
    failed_scrapes: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
    return int(kilobytes) / 1024


def seed(context: WebContext, cameras: list[str], image: Path, clip: Path) -> str:
    """`lfr demo`'s rehearsal with `cameras`, started by Silver: its deployment id."""
    accounts = {name: account.actor for name, account in seed_accounts(context.db).items()}
    application = replace(rehearsal_application(accounts["applicant"]), cameras=tuple(cameras))
    _, authority_id = authorise(context.db, accounts, application)
    compile_watchlist(
        context.db, accounts["applicant"], authority_id, image.read_bytes(), context.enroler()
    )
    deployment_id = plan_and_staff(context.db, accounts, authority_id, cameras=cameras)
    point_camera(context.db, accounts, clip, cameras)
    with transaction(context.db) as session:
        deployments.start_deployment(
            session, accounts["silver"], deployment_id, policy=context.policy
        )
    return deployment_id


def stored_alerts(context: WebContext, deployment_id: str) -> tuple[int, int]:
    """(alerts stored, match events refused) for the deployment."""
    with transaction(context.db) as session:
        stored = session.scalar(
            select(func.count())
            .select_from(AlertRow)
            .where(AlertRow.deployment_id == deployment_id)
        )
        row = session.get(DeploymentRow, deployment_id)
        refused = row.refused_alerts if row is not None else 0
    return int(stored or 0), int(refused)


def scrape(client: httpx.Client, soak: Soak) -> float:
    """One scrape of /metrics; the frames processed so far, summed over cameras."""
    soak.scrapes += 1
    started = time.monotonic()
    try:
        response = client.get("/metrics", timeout=SCRAPE_TIMEOUT_S)
    except httpx.HTTPError as error:
        soak.failed_scrapes.append(f"{type(error).__name__}")
        return 0.0
    took = time.monotonic() - started
    if response.status_code != 200 or took > SCRAPE_TIMEOUT_S:
        soak.failed_scrapes.append(f"HTTP {response.status_code} in {took:.1f} s")
    frames = 0.0
    for line in response.text.splitlines():
        match = FRAMES.match(line)
        if match:
            frames += float(match.group(2))
    return frames


def worker_pids(context: WebContext, deployment_id: str) -> list[int]:
    runtime = context.runtime
    if runtime is None:
        return []
    states = runtime.supervisor.states(deployment_id)
    return [s.pid for s in states if s.alive and s.pid is not None]


async def match_stream(url: str, prefix: str) -> tuple[int, int]:
    """(match events the workers published: the stream's last sequence number, those still
    waiting in it: not yet handled, delivered at the next start); then the run's streams
    are deleted."""
    import nats

    client = await nats.connect(url)
    try:
        stream = client.jetstream()
        state = (await stream.stream_info(stream_name(prefix, Topic.MATCH))).state
        for topic in Topic:
            with contextlib.suppress(Exception):  # a stream never made: nothing to delete
                await stream.delete_stream(stream_name(prefix, topic))
        return int(state.last_seq), int(state.messages)
    finally:
        await client.close()


def scraped(args: argparse.Namespace, context: WebContext, deployment_id: str, url: str) -> Soak:
    """Scrape `/metrics` and sample memory and alerts every `--scrape-s` for `--minutes`."""
    soak = Soak()
    started = time.monotonic()
    end = started + args.minutes * 60
    next_print = started + 60
    # A connection per scrape: at a 5 s interval a kept-alive connection races uvicorn's own
    # 5 s keep-alive timeout (the first run lost 3 of 419 scrapes to that race, not to the
    # service); Prometheus at its usual 15 s interval reconnects the same way.
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url, limits=no_keepalive) as client:
        while (now := time.monotonic()) < end:
            frames = scrape(client, soak)
            workers = {pid: rss_mb(pid) or 0.0 for pid in worker_pids(context, deployment_id)}
            sample = Sample(
                now - started,
                rss_mb(os.getpid()) or 0.0,
                workers,
                frames,
                stored_alerts(context, deployment_id)[0],
            )
            soak.samples.append(sample)
            if now >= next_print:
                next_print += 60
                print_progress(sample)
            time.sleep(max(0.0, args.scrape_s - (time.monotonic() - now)))
    return soak


def run(args: argparse.Namespace, folder: Path) -> None:
    prefix = f"soak{uuid.uuid4().hex[:8]}"
    settings = Settings(
        environment="test", data_dir=folder, nats_url=args.nats_url, nats_prefix=prefix
    )
    context = WebContext(
        settings=settings, db=prepare_database(settings), request_id_var=request_id_var
    )
    faces, video = shared_data_dir() / "faces", shared_data_dir() / "video"
    image = next(faces.rglob("lin-manuel-miranda.png"))
    cameras = [f"soak-{n}" for n in range(1, args.cameras + 1)]
    deployment_id = seed(context, cameras, image, video / "short_hamilton_clip.mp4")
    attach_recognition(context, run_camera_engine, supervisor=SupervisorSettings(loop_files=True))
    with served_in_thread(create_app(context), start_wait_s=120) as url:
        soak = scraped(args, context, deployment_id, url)
    # Out of the block the server has stopped: its workers, then the runtime's consumers.
    stored, refused = stored_alerts(context, deployment_id)
    published, waiting = asyncio.run(match_stream(args.nats_url, prefix))
    report(args, soak, Alerts(published, waiting, stored, refused))


def print_progress(sample: Sample) -> None:
    workers = " ".join(f"{rss:.0f}" for rss in sample.worker_rss_mb.values())
    print(
        f"{sample.at_s / 60:5.1f} min  frames {sample.frames:>8.0f}  alerts {sample.alerts:>5}  "
        f"RSS service {sample.service_rss_mb:.0f} MB, workers {workers} MB",
        flush=True,
    )


def growth(samples: list[Sample], warmup_s: float) -> tuple[float, dict[int, float]]:
    """RSS growth (MB) from the first sample after the warm-up to the last, of the
    service and of each worker alive at both ends."""
    after = [s for s in samples if s.at_s >= warmup_s] or samples[-1:]
    first, last = after[0], after[-1]
    workers = {
        pid: last.worker_rss_mb[pid] - rss
        for pid, rss in first.worker_rss_mb.items()
        if pid in last.worker_rss_mb
    }
    return last.service_rss_mb - first.service_rss_mb, workers


def report(args: argparse.Namespace, soak: Soak, alerts: Alerts) -> None:
    service_growth, worker_growth = growth(soak.samples, args.warmup_minutes * 60)
    first, last = soak.samples[0], soak.samples[-1]
    peak = max(s.service_rss_mb for s in soak.samples)
    workers = ", ".join(f"{g:+.1f}" for g in worker_growth.values())
    rows = [
        ("duration", f"{last.at_s / 60:.1f} min, {args.cameras} looping cameras (640×360)"),
        ("frames processed", f"{last.frames:.0f} ({last.frames / last.at_s:.1f} per s in all)"),
        ("scrapes of /metrics", f"{soak.scrapes}; failed or over 5 s: {len(soak.failed_scrapes)}"),
        ("match events published", f"{alerts.published} ({alerts.waiting} still in the stream)"),
        ("alerts stored / refused", f"{alerts.stored} / {alerts.refused}"),
        (
            "service RSS",
            f"{first.service_rss_mb:.0f} → {last.service_rss_mb:.0f} MB (max {peak:.0f})",
        ),
        (
            f"RSS growth after {args.warmup_minutes:g} min",
            f"service {service_growth:+.1f} MB; workers {workers} MB",
        ),
    ]
    print("\n| figure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    verdicts = {
        "scrapes": not soak.failed_scrapes,
        "alerts": alerts.lost == 0,
        "memory": service_growth < args.rss_bound_mb
        and all(g < args.rss_bound_mb for g in worker_growth.values()),
    }
    print()
    for name, ok in verdicts.items():
        print(f"{name}: {'PASS' if ok else 'FAIL'}")
    if alerts.lost:
        print(f"alerts: {alerts.lost} published but neither stored, refused nor waiting")
    for failure in soak.failed_scrapes:
        print(f"scrape: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--scrape-s", type=float, default=5.0)
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--rss-bound-mb", type=float, default=50.0)
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lfr-soak-") as folder:
        run(args, Path(folder))


if __name__ == "__main__":
    main()
