"""The signed-in person and the sign-in steps."""

from __future__ import annotations

from pydantic import Field

from lfr.web.schemas.base import Schema


class Me(Schema):
    user_id: str
    name: str
    rank: str
    roles: list[str]


class PasswordStep(Schema):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class CodeStep(Schema):
    code: str = Field(min_length=1, max_length=20, description="The current TOTP code.")


class NewPassword(Schema):
    new_password: str = Field(min_length=1, max_length=1000)
    repeat: str = Field(min_length=1, max_length=1000)


class SignInState(Schema):
    """Where the JSON sign-in stands: `stage` is anonymous, second_factor, password_change or
    signed_in. Send `csrf_token` as the `X-CSRF-Token` header with every later request."""

    stage: str
    csrf_token: str
    enrolment_uri: str | None = Field(
        None, description="otpauth:// URI, only while a second factor is still to be enrolled."
    )
