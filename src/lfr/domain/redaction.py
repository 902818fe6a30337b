"""Secrets kept out of what is shown, printed and logged: a URL's password, in its user
part (``nats://lfr:secret@host``) or its query (``postgresql://db/lfr?password=secret``),
for one URL or a comma-separated list of them (NATS takes a list of servers)."""

from __future__ import annotations

import re

MASK = "**********"

SECRET_PARAMETERS = ("password", "passwd", "pwd", "pass", "secret", "token", "sslpassword")
"""Query parameters whose value is a secret (libpq and drivers take ``password=``)."""

_USER_PASSWORD = re.compile(
    r"(?P<lead>[A-Za-z][A-Za-z0-9+.-]*://|(?<=,)\s*)(?P<user>[^:@/\s,]*):[^@/\s,]*@"
)
_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&;](?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&#,\s]*", re.IGNORECASE
)


def redacted(text: str) -> str:
    """`text` with the password of every URL in it masked (user part and query)."""
    text = _USER_PASSWORD.sub(lambda m: f"{m['lead']}{m['user']}:{MASK}@", text)
    return _SECRET_PARAMETER.sub(lambda m: f"{m['name']}{MASK}", text)
