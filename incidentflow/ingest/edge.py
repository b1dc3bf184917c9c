"""What every POST must show before its body is read: JSON, an allowed origin, a bounded size.

A browser may send a "simple" cross-origin POST (text/plain, form encodings) without asking
first, so a web page a person visits could open incidents: only `application/json` (which a
browser sends cross-origin only after a CORS preflight) is taken. Browser origins are refused
unless listed in INCIDENTFLOW_CORS_ORIGINS (empty by default): servers that send alerts send
no Origin header. The body is counted while it streams in, never read whole first.
"""

from __future__ import annotations

from starlette.requests import Request

# The one media type every sender we take uses (Alertmanager, Grafana, PagerDuty clients).
JSON_MEDIA_TYPE = "application/json"
CORS_METHODS = "POST, OPTIONS"
CORS_HEADERS = "Content-Type, X-Namespace, Authorization"
# How long a browser may cache a preflight answer.
CORS_MAX_AGE_S = 600


class TooLarge(Exception):
    """The body passed the limit while it streamed in."""


def media_type_problem(request: Request) -> str | None:
    """None for `application/json` (any parameters, e.g. charset); else what to send."""
    given = request.headers.get("content-type", "")
    media = given.split(";", 1)[0].strip().lower()
    if media == JSON_MEDIA_TYPE:
        return None
    shown = media[:60] or "none"
    return f"Content-Type must be {JSON_MEDIA_TYPE} (got {shown})"


def origin_allowed(request: Request, allowed: list[str]) -> bool:
    """True without an Origin header (a server sending) or for an origin in `allowed`."""
    origin = request.headers.get("origin")
    return origin is None or origin in allowed


def cors_headers(request: Request, allowed: list[str]) -> dict[str, str]:
    """The CORS answer for an allowed browser origin; nothing for anyone else."""
    origin = request.headers.get("origin")
    if origin is None or origin not in allowed:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": CORS_METHODS,
        "Access-Control-Allow-Headers": CORS_HEADERS,
        "Access-Control-Max-Age": str(CORS_MAX_AGE_S),
        "Vary": "Origin",
    }


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or TooLarge as soon as more than `limit` bytes were declared or received."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
