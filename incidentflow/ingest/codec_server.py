"""The remote codec endpoint the Temporal UI calls to show compressed payloads as JSON.

Temporal's UI (and `temporal` CLI's `--codec-endpoint`) POSTs `{"payloads": [...]}` in
protobuf JSON to `<endpoint>/decode` (and `/encode` when a person sends a signal from the UI)
and expects the same shape back. Decoded payloads are workflow data (alert text, incident
records), so once any credential is configured the endpoint needs its own (the source `codec`
in INCIDENTFLOW_INGEST_TOKENS, or `*`; the UI sends it as a bearer token). CORS answers only
the origins in INCIDENTFLOW_CORS_ORIGINS. Bodies are counted while they stream in, and
decompression stops at MAX_DECODED_BYTES: a small body cannot inflate into gigabytes.
"""

from __future__ import annotations

import zlib

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads

from incidentflow.codec import ENCODING, encode_one
from incidentflow.ingest import auth, edge
from incidentflow.settings import Settings

# The UI decodes one event's payloads per request; each is under Temporal's 2 MB limit, so
# its protobuf JSON (base64) is under 3 MB. Room for a few, and no more.
MAX_CODEC_BODY_BYTES = 16 * 1024 * 1024
# What one request may decompress to, in all. The largest payload we compress is a stream's
# hand-over, under 2 MB compressed: at the tenfold ratio alert JSON gets, about 20 MB.
MAX_DECODED_BYTES = 64 * 1024 * 1024


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _inflate(payload: Payload, budget: int) -> Payload:
    """The original of a payload we compressed, without inflating past `budget` bytes."""
    if payload.metadata.get("encoding") != ENCODING:
        return payload
    inflater = zlib.decompressobj()
    data = inflater.decompress(payload.data, budget + 1)
    if len(data) > budget:
        raise _Refused(413, f"payloads decompress to more than {MAX_DECODED_BYTES} bytes")
    if not inflater.eof:
        raise ValueError("a compressed payload is truncated")
    original = Payload()
    original.ParseFromString(data)
    return original


def transform(body: bytes, *, decode: bool) -> str:
    """The response body for a codec request body; ValueError or _Refused for a bad one."""
    payloads = json_format.Parse(body or b"{}", Payloads())
    out: list[Payload] = []
    budget = MAX_DECODED_BYTES
    for payload in payloads.payloads:
        if decode:
            original = _inflate(payload, budget)
            budget -= original.ByteSize()
            out.append(original)
        else:
            out.append(encode_one(payload))
    return json_format.MessageToJson(Payloads(payloads=out), indent=None)


def codec_routes(settings: Settings) -> list[Route]:
    """`/codec/decode` and `/codec/encode`, with their CORS preflights."""
    origins = settings.ingest.cors_origins

    async def run(request: Request, decode: bool) -> Response:
        cors = edge.cors_headers(request, origins)
        if not edge.origin_allowed(request, origins):
            why = "this origin is not in INCIDENTFLOW_CORS_ORIGINS"
            return JSONResponse({"error": why}, 403)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=cors)
        try:
            wrong_type = edge.media_type_problem(request)
            if wrong_type:
                raise _Refused(415, wrong_type)
            try:
                body = await edge.read_limited(request, MAX_CODEC_BODY_BYTES)
            except edge.TooLarge:
                raise _Refused(413, f"body over {MAX_CODEC_BODY_BYTES} bytes") from None
            refused = auth.check(settings.ingest, auth.CODEC_SOURCE, dict(request.headers), body)
            if refused is not None:
                raise _Refused(401, refused)
            text = transform(body, decode=decode)
        except _Refused as err:
            return JSONResponse({"error": str(err)}, err.status, headers=cors)
        except (json_format.ParseError, DecodeError, ValueError, zlib.error, RecursionError) as e:
            msg = f'expected {{"payloads": [...]}} in protobuf JSON: {e}'
            return JSONResponse({"error": msg[:300]}, 400, headers=cors)
        return Response(text, media_type="application/json", headers=cors)

    async def decode(request: Request) -> Response:
        return await run(request, decode=True)

    async def encode(request: Request) -> Response:
        return await run(request, decode=False)

    return [
        Route("/codec/decode", decode, methods=["POST", "OPTIONS"]),
        Route("/codec/encode", encode, methods=["POST", "OPTIONS"]),
    ]
