"""Compress large payloads before they reach Temporal's history.

An alert storm passes thousands of alerts through the stream workflow: as signals, as detection
and correlation inputs and results, as the incidents' signals. Their JSON repeats the same
label names and values, and zlib shrinks it about tenfold, so a run holds ten times the alerts
before Temporal's history limits (50 MB, and its continue-as-new suggestion at 4 MB), and a
hand-over can carry ten times the pending alerts under the 2 MB payload limit.

Only payloads over `COMPRESS_OVER_BYTES` are compressed: incident records, plans and
investigations stay plain JSON in the Temporal UI. The compressed ones are readable there too
when the UI is pointed at the codec endpoint the webhook serves (`/codec`; the embedded dev
server is started with it). Decoding passes any payload it did not encode through unchanged,
so histories recorded before this codec replay as they are.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

ENCODING = b"binary/zlib"
# Below this a payload stays plain JSON (what a person reads in the UI); alert batches and
# detection results of a storm are far above it.
COMPRESS_OVER_BYTES = 32 * 1024
# zlib's fastest level already takes alert JSON down about tenfold.
LEVEL = 1


class ZlibCodec(PayloadCodec):
    """zlib for large payloads; everything else, and anything not ours, passes through."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [encode_one(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [decode_one(p) for p in payloads]


def encode_one(payload: Payload) -> Payload:
    """`payload` compressed when it is large and compression pays; else as it is."""
    if payload.ByteSize() <= COMPRESS_OVER_BYTES:
        return payload
    packed = zlib.compress(payload.SerializeToString(), LEVEL)
    if len(packed) >= payload.ByteSize():
        return payload
    return Payload(metadata={"encoding": ENCODING}, data=packed)


def decode_one(payload: Payload) -> Payload:
    """The original payload of one we compressed; any other payload unchanged."""
    if payload.metadata.get("encoding") != ENCODING:
        return payload
    original = Payload()
    original.ParseFromString(zlib.decompress(payload.data))
    return original


# Every client, worker and replayer uses this converter: pydantic models, large ones compressed.
DATA_CONVERTER: DataConverter = dataclasses.replace(
    pydantic_data_converter, payload_codec=ZlibCodec()
)
