"""Alert latency from the camera frame to the operator's screen (REC-5, ADJ-1).

    PYTHONPATH=src python benchmarks/alert_latency.py [--events 50] [--passes 2]

Runs the real server (uvicorn, memory bus, camera worker processes, SQLite in a temporary
folder) and a headless chromium showing the operator console; a MutationObserver in the
page stamps the moment each alert card enters the page. Two measurements:

* bus to screen: match events published on the bus as a worker's relay publishes them
  (`--events`, one every 200 ms, on a running deployment without workers), through the
  alerts service, the live feed, the server-sent event and the card fetch, to the page;
* frame to screen: the real engine on the demo's generated clip (`--passes` deployments,
  one alert each): from the capture time of the probe frame, and from the worker's emission.
  Frame-to-screen includes the tracker's confirmation (several observations of one face).

Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import sync_playwright

from lfr.db.session import transaction
from lfr.demo import Rehearsal, seed_accounts, seed_rehearsal
from lfr.demo.media import DemoMedia, generated_media
from lfr.keyring import prepare_database
from lfr.runtime.engine import run_camera_engine
from lfr.services import deployments
from lfr.settings import Settings
from lfr.system import attach_recognition
from lfr.vision.imageio import encode_jpeg, load_image
from lfr.vision.types import Box, MatchEvent, QualityFactors
from lfr.web.app import create_app
from lfr.web.context import web_context

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OBSERVER = """
window.__seen = [];
new MutationObserver((mutations) => {
  for (const m of mutations) for (const node of m.addedNodes) {
    if (node.classList && node.classList.contains('alert-card')) {
      window.__seen.push({captured: parseFloat(node.dataset.captured),
                          emitted: parseFloat(node.dataset.emitted), seen: Date.now() / 1000});
    }
  }
}).observe(document.getElementById('alerts'), {childList: true});
"""


def start_server(context: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(context), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def synthetic_event(rehearsal: Rehearsal, probe: bytes, track: int) -> MatchEvent:
    now = datetime.now(UTC)
    return MatchEvent(
        deployment_id=rehearsal.deployment_id,
        camera="demo-cam",
        track_id=track,
        subject_id=rehearsal.entry_id,
        score=0.99,
        threshold=0.95,
        observations=3,
        box=Box(left=0, top=0, right=100, bottom=120),
        probe_jpeg=probe,
        quality=QualityFactors(
            inter_eye_px=40,
            face_height_px=120,
            sharpness=100,
            brightness=120,
            contrast=40,
            yaw_deg=0,
            roll_deg=0,
            score=0.8,
        ),
        first_seen=now,
        captured_at=now,
        emitted_at=now,
    )


def percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) == 1:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return statistics.median(values), cuts[18]


def collect(page: Any, expected: int, timeout_s: float) -> list[dict[str, float]]:
    deadline = time.monotonic() + timeout_s
    seen: list[dict[str, float]] = []
    while time.monotonic() < deadline:
        seen = page.evaluate("window.__seen")
        if len(seen) >= expected:
            break
        time.sleep(0.2)
    page.evaluate("window.__seen = []")
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="lfr-latency-"))
    settings = Settings(environment="test", data_dir=folder)
    db = prepare_database(settings)
    context = web_context(settings, db)
    attach_recognition(context, run_camera_engine)
    accounts = seed_accounts(db)
    actors = {name: account.actor for name, account in accounts.items()}
    media: DemoMedia = generated_media(folder / "media")
    probe = encode_jpeg(load_image(media.watchlist_image))
    server, thread, url = start_server(context)
    runtime = context.runtime
    assert runtime is not None
    rows: list[tuple[str, list[float]]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            page.goto(f"{url}/sign-in")
            page.fill("#username", "operator")
            page.fill("#password", accounts["operator"].password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")

            # Bus to screen: a running deployment (in the record) without workers.
            rehearsal = seed_rehearsal(db, actors, media, context.enroler())
            with transaction(db) as session:
                deployments.start_deployment(
                    session, actors["silver"], rehearsal.deployment_id, policy=context.policy
                )
            page.goto(f"{url}/console")
            page.wait_for_selector("#live-status:has-text('live')")
            page.evaluate(OBSERVER)
            for track in range(args.events):
                runtime.publish_from_thread(synthetic_event(rehearsal, probe, 1000 + track))
                time.sleep(0.2)
            seen = collect(page, args.events, 30)
            rows.append(
                (
                    "bus → screen (emitted → card shown)",
                    [(s["seen"] - s["emitted"]) * 1000 for s in seen],
                )
            )
            context.control.end(actors["silver"], rehearsal.deployment_id)

            # Frame to screen: the real engine on the generated clip.
            from_frame: list[float] = []
            from_emission: list[float] = []
            for _ in range(args.passes):
                rehearsal = seed_rehearsal(db, actors, media, context.enroler())
                page.goto(f"{url}/console")
                page.wait_for_selector("#live-status:has-text('live')")
                page.evaluate(OBSERVER)
                context.control.start(actors["silver"], rehearsal.deployment_id)
                seen = collect(page, 1, 120)
                context.control.end(actors["silver"], rehearsal.deployment_id)
                from_frame += [(s["seen"] - s["captured"]) * 1000 for s in seen]
                from_emission += [(s["seen"] - s["emitted"]) * 1000 for s in seen]
            rows.append(("frame → screen, real engine (captured → shown)", from_frame))
            rows.append(("worker emission → screen, real engine", from_emission))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    print(f"\n{'path':<50} {'samples':>8} {'p50 ms':>9} {'p95 ms':>9}")
    for name, values in rows:
        if not values:
            print(f"{name:<50} {0:>8} {'-':>9} {'-':>9}")
            continue
        p50, p95 = percentiles(values)
        print(f"{name:<50} {len(values):>8} {p50:>9.0f} {p95:>9.0f}")


if __name__ == "__main__":
    main()
