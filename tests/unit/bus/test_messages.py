"""The envelope: what decodes, and how a refusal names the field (no server)."""

from __future__ import annotations

import json

import pytest

from lfr.bus.messages import (
    HaltDeployment,
    HaltEnvelope,
    MalformedMessageError,
    decode,
    encode,
)


def halt_json(**changes: object) -> bytes:
    document = json.loads(encode(HaltDeployment(deployment_id="dep-1", reason="Silver")))
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = document
        for parent in parents:
            target = target[parent]
        if value is ...:
            del target[leaf]
        else:
            target[leaf] = value
    return json.dumps(document).encode()


def test_a_halt_round_trips() -> None:
    halt = HaltDeployment(deployment_id="dep-1", reason="Silver")
    envelope = decode(encode(halt))
    assert isinstance(envelope, HaltEnvelope)
    assert envelope.payload == halt


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "(message)"),
        (b"[1, 2]", "(message)"),
        (halt_json(kind="face_crop"), "kind"),
        (halt_json(version=2), "version"),
        (halt_json(message_id="not-a-uuid"), "message_id"),
        (halt_json(payload__deployment_id=...), "payload.deployment_id"),
        (halt_json(payload__reason=""), "payload.reason"),
        (halt_json(payload__schema_version=2), "payload.schema_version"),
        (halt_json(payload__descriptor=[0.1, 0.2]), "payload.descriptor"),
    ],
)
def test_a_malformed_message_is_refused_naming_the_field(data: bytes, field: str) -> None:
    with pytest.raises(MalformedMessageError) as refused:
        decode(data)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"malformed message: {field}: ")


def test_a_refusal_does_not_quote_the_content() -> None:
    secret = "subject-image-bytes-would-be-here"
    with pytest.raises(MalformedMessageError) as refused:
        decode(halt_json(payload__reason=123, payload__deployment_id=[secret]))
    assert secret not in str(refused.value)
