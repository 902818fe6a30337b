"""Drive one deployment end to end through lfr's JSON API, as a script would.

application -> decision -> consultation -> watchlist -> camera -> plan -> staffing -> start
-> alert -> referral by the operator -> engagement and outcome by the engagement officer ->
end -> review. Every step is a named person's, signed in with their own password (and
second factor where their role needs one); every refusal comes back as
`{"detail": [{"rule", "field", "reason"}]}` and stops the script with that message.

    python docs/examples/drive_deployment.py --base-url http://127.0.0.1:8000 \
        --accounts accounts.json --image face.png --clip walk-past.mp4

`accounts.json` maps each part (applicant, authoriser, chief, engineer, gold, silver,
bronze, operator, engagement, reviewer) to `{"username", "password", "totp_secret"}`
(`totp_secret` only for the roles with a second factor; `lfr demo` prints such accounts).
The clip must show the person in `image` walking past, for the alert.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp

CAMERA = "api-cam"
PLACE = "Example Street"
# Silver assigns itself first: once a deployment has a Gold or Silver, only they staff it.
STAFF = ("silver", "gold", "bronze", "operator", "engagement")
ROLE_OF = {"engagement": "engagement_officer"}


class RefusedError(Exception):
    """The server said no; the message lists every unmet condition with its rule."""


@dataclass
class Account:
    username: str
    password: str
    totp_secret: str | None = None


class Officer:
    """One person's signed-in client (their own cookie and CSRF token)."""

    def __init__(self, base_url: str, account: Account) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=60)
        self.account = account

    def sign_in(self) -> Officer:
        state = self._check(self.client.get("/api/session"))
        self.client.headers["X-CSRF-Token"] = state["csrf_token"]
        body = {"username": self.account.username, "password": self.account.password}
        state = self._check(self.client.post("/api/session", json=body))
        self.client.headers["X-CSRF-Token"] = state["csrf_token"]  # each step has its own
        if state["stage"] == "second_factor":
            if self.account.totp_secret is None:
                raise RefusedError(f"{self.account.username} needs a second factor")
            code = pyotp.TOTP(self.account.totp_secret).now()
            state = self._check(self.client.post("/api/session/second-factor", json={"code": code}))
        if state["stage"] != "signed_in":
            raise RefusedError(f"{self.account.username}: sign-in stopped at {state['stage']}")
        self.client.headers["X-CSRF-Token"] = state["csrf_token"]
        return self

    def get(self, path: str, **params: Any) -> Any:
        return self._check(self.client.get(path, params=params))

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self._check(self.client.post(path, json=body, **kwargs))

    @staticmethod
    def _check(response: httpx.Response) -> Any:
        if response.is_success:
            return response.json()
        try:
            problems = response.json()["detail"]
            lines = [f"{p['rule']} ({p['field'] or '-'}): {p['reason']}" for p in problems]
        except (ValueError, KeyError, TypeError):
            lines = [response.text]
        raise RefusedError(
            f"{response.request.method} {response.request.url.path}: " + "; ".join(lines)
        )


def application(now: datetime) -> dict[str, Any]:
    """Every AUTH-1 answer, for a two-hour window starting now."""
    return {
        "title": "Example Street, API rehearsal",
        "lawful_basis": "Common-law policing powers; DPA 2018 s35",
        "legitimate_aim": "Locating people wanted by the courts",
        "intelligence_case": "Intelligence places the subject near Example Street today",
        "necessity": "Patrols alone have not located the subject",
        "proportionality": "Two hours, one camera, one subject",
        "alternatives": "Patrols and CCTV review tried",
        "places": [PLACE],
        "place_category": "sought_persons_likely",
        "window": {"start": now.isoformat(), "end": (now + timedelta(hours=2)).isoformat()},
        "cameras": [CAMERA],
        "scale_justification": "One entrance covers the approach",
        "watchlist_rationale": "The one subject of the intelligence case",
        "watchlist_categories": ["wanted_by_courts"],
        "safeguards": "Signage, leaflets, immediate deletion of non-matches",
        "equality_considerations": "Threshold from the published evaluation",
    }


def authorise(people: dict[str, Officer], now: datetime) -> dict[str, Any]:
    draft = people["applicant"].post("/api/applications", application(now))
    print(f"application {draft['id']} drafted")
    people["applicant"].post(f"/api/applications/{draft['id']}/submit")
    decided = people["authoriser"].post(
        f"/api/applications/{draft['id']}/decision",
        {"kind": "approve", "reasons": "Necessary and proportionate for this subject"},
    )
    people["chief"].post(
        f"/api/applications/{draft['id']}/consultations",
        {"outcome": "no_objection", "comments": ""},
    )
    authority = decided["authority"]
    print(f"authority {authority['id']} granted, WAD {authority['wad_sha256'][:12]}…")
    return decided  # type: ignore[no-any-return]


def compile_watchlist(applicant: Officer, authority_id: str, image: Path) -> str:
    watchlist = applicant.post("/api/watchlists", {"authority_id": authority_id})
    entry = applicant.post(
        f"/api/watchlists/{watchlist['id']}/entries",
        None,
        data={
            "subject_reference": "PNC-API-1",
            "category": "wanted_by_courts",
            "reason": "Failed to appear at court",
            "image_source": "Custody image",
            "attests_image_is_subject": "true",
            "attests_still_of_interest": "true",
        },
        files=[("images", (image.name, image.read_bytes(), _image_type(image)))],
    )
    print(f"watchlist {watchlist['id']}: entry {entry['subject_reference']} enrolled")
    return str(watchlist["id"])


def _image_type(image: Path) -> str:
    return "image/png" if image.suffix.lower() == ".png" else "image/jpeg"


def plan_and_staff(people: dict[str, Officer], authority_id: str, clip: Path) -> str:
    people["engineer"].post("/api/cameras", {"name": CAMERA, "source": str(clip)})
    deployment = people["applicant"].post(
        "/api/deployments", {"authority_id": authority_id, "places": [PLACE], "cameras": [CAMERA]}
    )
    for part in STAFF:
        people["silver"].post(
            f"/api/deployments/{deployment['id']}/assignments",
            {"username": people[part].account.username, "role": ROLE_OF.get(part, part)},
        )
    print(f"deployment {deployment['id']} planned and staffed")
    return str(deployment["id"])


def wait_for_alert(operator: Officer, deployment_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = operator.get("/api/alerts", state="pending", deployment_id=deployment_id)
        if pending:
            return pending[0]  # type: ignore[no-any-return]
        time.sleep(1)
    raise RefusedError(f"no alert within {timeout:.0f} s")


def adjudicate(people: dict[str, Officer], alert_id: str) -> dict[str, Any]:
    """Two people, two decisions (ADJ-2, ADJ-3): the operator refers, the officer engages."""
    people["operator"].post(f"/api/alerts/{alert_id}/refer")
    people["engagement"].post(f"/api/alerts/{alert_id}/engage")
    concluded = people["engagement"].post(
        f"/api/alerts/{alert_id}/outcome",
        {"identity": "confirmed", "actions": ["leaflet_given"], "notes": ""},
    )
    print(f"alert {alert_id}: {concluded['state']}, identity {concluded['outcome_identity']}")
    return concluded  # type: ignore[no-any-return]


def review_of(reviewer: Officer, deployment_id: str) -> dict[str, Any]:
    for summary in reviewer.get("/api/reports/reviews"):
        if summary["deployment_id"] == deployment_id:
            return reviewer.get(f"/api/reports/reviews/{summary['id']}")  # type: ignore[no-any-return]
    raise RefusedError("the deployment has no review")


def drive(
    base_url: str, accounts: dict[str, Account], image: Path, clip: Path, timeout: float
) -> dict[str, Any]:
    people = {part: Officer(base_url, account).sign_in() for part, account in accounts.items()}
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    authority_id = authorise(people, now)["authority"]["id"]
    compile_watchlist(people["applicant"], authority_id, image)
    deployment_id = plan_and_staff(people, authority_id, clip)
    people["silver"].post(f"/api/deployments/{deployment_id}/start")
    print("deployment running; waiting for an alert")
    alert = wait_for_alert(people["operator"], deployment_id, timeout)
    concluded = adjudicate(people, alert["id"])
    ended = people["silver"].post(f"/api/deployments/{deployment_id}/end")
    review = review_of(people["reviewer"], deployment_id)
    print(f"deployment {ended['status']}; review {review['id']} {review['status']}")
    return {
        "deployment_id": deployment_id,
        "alert_id": alert["id"],
        "alert_state": concluded["state"],
        "deployment_status": ended["status"],
        "review_id": review["id"],
        "review_alerts": review["figures"].get("alerts"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--accounts", type=Path, required=True)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--alert-timeout", type=float, default=120)
    args = parser.parse_args(argv)
    accounts = {
        part: Account(**data) for part, data in json.loads(args.accounts.read_text()).items()
    }
    try:
        summary = drive(
            args.base_url, accounts, args.image, args.clip.resolve(), args.alert_timeout
        )
    except RefusedError as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
