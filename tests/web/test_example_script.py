"""docs/examples/drive_deployment.py against a real `lfr serve` (a subprocess on a fresh
data folder, its camera worker playing the Hamilton clip): the JSON API alone takes a
deployment from application to review, with the two adjudication decisions taken by two
people (AUTH-1..5, WL-1..5, DEP-1, DEP-2, ADJ-2, ADJ-3, REV-1). And the blue list live: a
consenting member of staff walks past, the alert is a test, never referred, and the review
shows the measured true-positive rate (REC-6)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.web.serve_process import EXAMPLE, example_module, serving

pytestmark = pytest.mark.slow

PARTS = (
    "applicant",
    "authoriser",
    "chief",
    "engineer",
    "gold",
    "silver",
    "bronze",
    "operator",
    "engagement",
    "reviewer",
)


def test_the_example_script_drives_a_deployment_end_to_end(
    tmp_path: Path, faces_dir: Path, video_dir: Path
) -> None:
    accounts = tmp_path / "accounts.json"
    with serving(tmp_path) as served:
        table = {
            part: {
                "username": served.accounts[part].username,
                "password": served.accounts[part].password,
                "totp_secret": served.accounts[part].totp_secret,
            }
            for part in PARTS
        }
        accounts.write_text(json.dumps(table))
        script = subprocess.run(
            [
                sys.executable,
                str(EXAMPLE),
                "--base-url",
                served.url,
                "--accounts",
                str(accounts),
                "--image",
                str(faces_dir / "face_recognition-examples" / "lin-manuel-miranda.png"),
                "--clip",
                str(video_dir / "short_hamilton_clip.mp4"),
                "--alert-timeout",
                "240",
            ],
            capture_output=True,
            text=True,
            env=served.env,
            timeout=480,
            check=False,
        )
    assert script.returncode == 0, script.stdout + script.stderr
    summary = json.loads(script.stdout.strip().splitlines()[-1])
    assert summary["alert_state"] == "concluded"
    assert summary["deployment_status"] == "ended"
    assert summary["review_alerts"] >= 1


def test_a_blue_list_member_walks_past_and_the_review_measures_the_rate(
    tmp_path: Path, faces_dir: Path, video_dir: Path
) -> None:
    """REC-6 on the real engine: the performer is a consenting member of staff on the blue
    list (the watchlist holds someone else); his pass raises a test alert that cannot be
    referred, and the review's measured true-positive rate is 1."""
    drive = example_module()
    examples = faces_dir / "face_recognition-examples"
    with serving(tmp_path) as served:
        people = {
            part: drive.Officer(
                served.url,
                drive.Account(
                    served.accounts[part].username,
                    served.accounts[part].password,
                    served.accounts[part].totp_secret,
                ),
            ).sign_in()
            for part in PARTS
        }
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        authority_id = drive.authorise(people, now)["authority"]["id"]
        drive.compile_watchlist(people["applicant"], authority_id, examples / "biden.jpg")
        deployment_id = drive.plan_and_staff(
            people, authority_id, video_dir / "short_hamilton_clip.mp4"
        )
        volunteer = examples / "lin-manuel-miranda.png"
        people["engineer"].post(
            f"/api/deployments/{deployment_id}/blue-list",
            None,
            data={
                "username": "bronze",
                "consent_statement": "I agree to walk past the camera for today's test",
                "image_source": "Photographed on the day",
                "consented": "true",
            },
            files=[("image", (volunteer.name, volunteer.read_bytes(), "image/png"))],
        )
        people["silver"].post(f"/api/deployments/{deployment_id}/start")
        alert = drive.wait_for_alert(people["operator"], deployment_id, 240)
        assert alert["is_test"]
        with pytest.raises(drive.RefusedError, match="REC-6"):
            people["operator"].post(f"/api/alerts/{alert['id']}/refer")
        people["operator"].post(
            f"/api/alerts/{alert['id']}/dismiss", {"reason": "Blue-list volunteer seen"}
        )
        measured = people["silver"].get(f"/api/deployments/{deployment_id}")["blue_list_test"]
        assert measured == {"enrolled": 1, "alerted": 1, "rate": 1.0}
        people["silver"].post(f"/api/deployments/{deployment_id}/end")
        review = drive.review_of(people["reviewer"], deployment_id)
    assert review["figures"]["measured_true_positive_rate"] == 1.0
    assert review["figures"]["test_alerts"] >= 1
