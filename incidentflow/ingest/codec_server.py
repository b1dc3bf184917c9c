"""The remote codec endpoint the Temporal UI calls to show compressed payloads as JSON.

Temporal's UI (and `temporal` CLI's `--codec-endpoint`) POSTs `{"payloads": [...]}` in
protobuf JSON to `<endpoint>/decode` (and `/encode` when a person sends a signal from the UI)
and expects the same shape back. Decoding only undoes our own compression of data the caller
already holds, so the endpoint needs no credentials; it answers CORS for the UI's origin.
"""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads

from incidentflow.codec import decode_one, encode_one

# One UI page decodes a workflow's history at a time; a storm's batch is far smaller.
MAX_CODEC_BODY_BYTES = 64 * 1024 * 1024
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-Namespace, Authorization",
    "Access-Control-Max-Age": "600",
}


def codec_routes() -> list[Route]:
    """`/codec/decode` and `/codec/encode`, with their CORS preflights."""

    async def run(request: Request, decode: bool) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=_CORS)
        body = await request.body()
        if len(body) > MAX_CODEC_BODY_BYTES:
            return JSONResponse(
                {"error": f"body over {MAX_CODEC_BODY_BYTES} bytes"}, 413, headers=_CORS
            )
        try:
            payloads = json_format.Parse(body or b"{}", Payloads())
            out = [(decode_one if decode else encode_one)(p) for p in payloads.payloads]
        except (json_format.ParseError, DecodeError, ValueError) as err:
            msg = f'expected {{"payloads": [...]}} in protobuf JSON: {err}'
            return JSONResponse({"error": msg[:300]}, 400, headers=_CORS)
        text = json_format.MessageToJson(Payloads(payloads=out), indent=None)
        return Response(text, media_type="application/json", headers=_CORS)

    async def decode(request: Request) -> Response:
        return await run(request, decode=True)

    async def encode(request: Request) -> Response:
        return await run(request, decode=False)

    return [
        Route("/codec/decode", decode, methods=["POST", "OPTIONS"]),
        Route("/codec/encode", encode, methods=["POST", "OPTIONS"]),
    ]
