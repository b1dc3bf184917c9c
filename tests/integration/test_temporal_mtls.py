"""Mutual TLS between IncidentFlow and Temporal (issue 19 item 6), as docker-compose sets it.

The dev server speaks plain gRPC, so a TLS terminator on loopback stands in front of it: it
presents `temporal.pem` from `scripts/make-dev-certs` and requires a client certificate
signed by the same CA (what `TEMPORAL_TLS_REQUIRE_CLIENT_AUTH=true` does), then forwards the
bytes. IncidentFlow connects with the compose settings (`INCIDENTFLOW_TEMPORAL_TLS_CERT`,
`_KEY`, `_CA`, `_SERVER_NAME`); without a client certificate, or trusting another CA, it
cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import make_settings
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from incidentflow.errors import TemporalUnavailable
from incidentflow.temporal import DevServer, connect

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    work = tmp_path_factory.mktemp("mtls")
    (work / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "make-dev-certs", work / "scripts" / "make-dev-certs")
    subprocess.run([str(work / "scripts" / "make-dev-certs")], check=True, capture_output=True)
    return work / "deploy" / "certs"


@contextlib.asynccontextmanager
async def terminator(certs: Path, upstream: str) -> AsyncIterator[int]:
    """A TLS endpoint requiring a client certificate from our CA, forwarding to `upstream`."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs / "ca.pem"))
    ctx.load_cert_chain(str(certs / "temporal.pem"), str(certs / "temporal.key"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])
    host, port = upstream.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_workers_and_cli_reach_temporal_only_with_a_client_certificate(
    dev_server: DevServer, tmp_path: Path, certs: Path
) -> None:
    async with terminator(certs, dev_server.address) as port:
        base = make_settings(f"127.0.0.1:{port}", tmp_path / "data")
        mtls = base.replace(
            {
                "temporal_tls": True,
                "temporal_tls_cert": certs / "client.pem",
                "temporal_tls_key": certs / "client.key",
                "temporal_tls_ca": certs / "ca.pem",
                "temporal_tls_server_name": "temporal",
            }
        )
        client = await connect(mtls)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert info.server_version
        # No client certificate: the handshake is refused.
        no_cert = mtls.replace({"temporal_tls_cert": None, "temporal_tls_key": None})
        with pytest.raises(TemporalUnavailable):
            await connect(no_cert)
        # Trusting another CA (here: the client's own certificate): the server is not believed.
        wrong_ca = mtls.replace({"temporal_tls_ca": certs / "client.pem"})
        with pytest.raises(TemporalUnavailable):
            await connect(wrong_ca)
