"""Console sessions: a person logs in once with their credential; the browser keeps a cookie.

The session store is in the ingest process's memory: a restart logs everyone out, which is the
safe failure. The cookie is random (it proves nothing by itself), HttpOnly, SameSite=Strict
and limited to /ui; every form also carries the session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

COOKIE = "incidentflow_session"
# A working day, then log in again; idle sessions go after two hours.
SESSION_TTL_S = 12 * 3600
IDLE_TTL_S = 2 * 3600
# More open sessions than this drops the oldest (a loop of logins cannot fill memory).
MAX_SESSIONS = 10_000


@dataclass
class Session:
    id: str
    identity: str
    method: str
    csrf: str
    created: float
    seen: float
    flash: tuple[str, bool] | None = field(default=None)

    def take_flash(self) -> tuple[str, bool]:
        """The message left by the last decision (text, ok), shown once."""
        flash, self.flash = self.flash or ("", False), None
        return flash

    def csrf_ok(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.csrf.encode())


class Sessions:
    """Open sessions by cookie value."""

    def __init__(self) -> None:
        self._open: dict[str, Session] = {}

    def open(self, identity: str, method: str) -> Session:
        if len(self._open) >= MAX_SESSIONS:
            oldest = min(self._open.values(), key=lambda s: s.seen)
            self._open.pop(oldest.id, None)
        now = time.monotonic()
        session = Session(
            id=secrets.token_urlsafe(32),
            identity=identity,
            method=method,
            csrf=secrets.token_urlsafe(24),
            created=now,
            seen=now,
        )
        self._open[session.id] = session
        return session

    def get(self, cookie: str | None) -> Session | None:
        session = self._open.get(cookie or "")
        if session is None:
            return None
        now = time.monotonic()
        if now - session.created > SESSION_TTL_S or now - session.seen > IDLE_TTL_S:
            self._open.pop(session.id, None)
            return None
        session.seen = now
        return session

    def close(self, cookie: str | None) -> None:
        self._open.pop(cookie or "", None)
