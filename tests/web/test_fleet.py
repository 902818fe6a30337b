"""The fleet (DEP-2): an administrator enrols and revokes nodes through the page, the API
or the command; the page shows what each node last reported, and a node nobody enrolled
shows as unknown while its reports are refused."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lfr.bus.identity import NodeIdentity
from lfr.bus.messages import NodeReport
from lfr.cli import app
from lfr.db.session import transaction
from lfr.domain.people import Rank, Role
from lfr.web.context import WebContext
from tests.db_fixtures import Personas, trained_account
from tests.web.test_reconciler import signed_origin

pytestmark = pytest.mark.db


def report(node: str, depth: int | None = 3) -> NodeReport:
    return NodeReport(
        node=node, deployment_id="dep-1", state="running", version="0.1.0", outbox_depth=depth
    )


def test_an_administrator_enrols_and_revokes_a_node_and_sees_what_it_reports(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    van = NodeIdentity.generate()
    admin = client_for(personas.administrator)
    page = admin.post("/fleet", data={"name": "van-3", "public_key": van.public().text()})
    assert page.status_code in (200, 303)
    with transaction(web_context.db) as session:
        second = trained_account(
            session,
            username="administrator-2",
            display_name="Second Administrator",
            rank=Rank.STAFF,
            roles=(Role.ADMINISTRATOR,),
        )
    approved = client_for(second).post("/fleet/van-3/approve")  # the two-person rule
    assert approved.status_code in (200, 303)
    web_context.control.record_node_report(
        report("van-3"), signed_origin(van, "van-3", report("van-3"))
    )
    stranger = NodeIdentity.generate()
    web_context.control.record_node_report(
        report("van-9"), signed_origin(stranger, "van-9", report("van-9"))
    )
    nodes = {n["name"]: n for n in admin.get("/api/fleet").json()["nodes"]}
    assert set(nodes) == {"van-3"}  # van-9's report was refused: not enrolled
    assert (nodes["van-3"]["link_up"], nodes["van-3"]["outbox_depth"]) == (True, 3)
    revoked = admin.post("/fleet/van-3/revoke", data={"reason": "Van stolen"})
    assert revoked.status_code in (200, 303)
    text = admin.get("/fleet").text
    assert "revoked" in text
    assert "van-3" in text


def test_only_an_administrator_enrols_and_a_bad_key_is_refused_naming_the_field(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    silver = client_for(personas.silver)
    assert silver.get("/fleet").status_code == 200
    key = NodeIdentity.generate().public().text()
    assert silver.post("/api/fleet", json={"name": "van-3", "public_key": key}).status_code == 403
    admin = client_for(personas.administrator)
    refused = admin.post("/api/fleet", json={"name": "van-3", "public_key": "not a key"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "public_key"
    for action, body in (("revoke", {"reason": "stolen"}), ("approve", {})):
        unknown = admin.post(f"/api/fleet/{'v' * 3000}/{action}", json=body)
        assert unknown.status_code == 404, unknown.text
        assert "(3000 characters)" in unknown.text


def test_the_fleet_commands_make_keys_enrol_and_revoke(
    tmp_path, monkeypatch: pytest.MonkeyPatch, migrated_url: str
) -> None:
    from lfr.settings import get_settings

    monkeypatch.setenv("LFR_DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    runner = CliRunner()
    made = runner.invoke(app, ["fleet", "keygen", "--out", str(tmp_path / "node.key")])
    assert made.exit_code == 0, made.output
    public = made.output.strip().splitlines()[-1]
    assert (
        runner.invoke(app, ["fleet", "keygen", "--out", str(tmp_path / "node.key")]).exit_code != 0
    )
    enrolled = runner.invoke(app, ["fleet", "enrol", "van-7", public])
    assert enrolled.exit_code == 0, enrolled.output
    listed = runner.invoke(app, ["fleet", "list"])
    assert "van-7" in listed.output
    assert "active" in listed.output
    revoked = runner.invoke(app, ["fleet", "revoke", "van-7", "--reason", "Decommissioned"])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(app, ["fleet", "list"]).output
    get_settings.cache_clear()
