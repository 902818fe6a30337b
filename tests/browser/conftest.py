"""Browser tests: the real server (uvicorn, camera worker processes, SQLite) in a thread, and
Debian's chromium driven by Playwright. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lfr.demo import DemoAccount, seed_accounts
from lfr.runtime.engine import run_camera_engine
from lfr.runtime.preview import PreviewHub
from lfr.runtime.supervisor import SupervisorSettings
from lfr.settings import Settings
from lfr.system import build
from lfr.web.context import WebContext
from tests.conftest import missing
from tests.web.serve_process import served_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class LiveServer:
    url: str
    context: WebContext
    accounts: dict[str, DemoAccount]


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        supervisor=SupervisorSettings(restart_initial_s=0.5),
    )
    system = build(
        settings,
        target=run_camera_engine,
        preview=PreviewHub(),
        realtime=False,  # every frame analysed: the same observations on a slow machine
    )
    accounts = seed_accounts(system.context.db)
    with served_in_thread(system.app) as url:
        yield LiveServer(url, system.context, accounts)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Module-scoped: Playwright's sync API keeps an event loop running while it is open,
    which would stop later tests (the bus's) from starting their own."""
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def require_axe() -> Path:
    """axe-core from npm (`npm ci`): a test that needs it fails under CI without it."""
    if not AXE.exists():
        missing(f"{AXE} missing (npm ci)")
    return AXE


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return require_axe()


def check_page(page: Any, axe: Path, name: str) -> None:
    """Screenshots at both widths; at each, axe finds nothing serious and nothing is wider
    than the screen."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than {width}px"
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(axe.read_text() + "; true")  # evaluated, so the page's CSP stays on
        results: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])}×, e.g. {v['nodes'][0]['target']})"
            for v in results["violations"]
            if v["impact"] in SERIOUS
        ]
        assert serious == [], f"{name} at {width}px: {serious}"
    page.set_viewport_size(original)
