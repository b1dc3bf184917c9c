"""`incidentflow up`: the embedded Temporal server (unless configured), both workers, the webhook.

Workers run as separate processes, one per credential scope, exactly as in production; the
webhook runs in this process. Everything stops together on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import uvicorn
from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client

from incidentflow.active import active_block
from incidentflow.context import build_context
from incidentflow.errors import ConfigError, IncidentFlowError, TemporalUnavailable
from incidentflow.identity.config import unsigned_allowed
from incidentflow.ingest.app import create_app
from incidentflow.ingest.auth import exposure_problem
from incidentflow.ingest.sink import TemporalSink
from incidentflow.metrics import shifted_bind
from incidentflow.runtime import tune_gc
from incidentflow.settings import Settings
from incidentflow.telemetry import configure_tracing, traced
from incidentflow.temporal import (
    DevServer,
    connect,
    embedded_server,
    ensure_search_attributes,
    port_open,
)

# The worker processes `up` runs: the agents' worker and the only one that can act.
WORKER_KINDS = ("default", "remediation")
# `up` shares one host between the webhook and its workers: the workers yield the CPU so the
# webhook's 202s go first (docs/ingest.md). INCIDENTFLOW_WORKER_NICE, when set, wins.
SHARED_HOST_WORKER_NICE = 10
# How long to wait for the webhook to listen before giving up.
WEBHOOK_START_TIMEOUT_S = 15.0
# A dev server just started: connect tries, half a second apart.
EMBEDDED_CONNECT_ATTEMPTS = 10


def repo_root() -> Path:
    """Where worker.py lives (the project root, or site-packages when installed)."""
    import worker

    return Path(worker.__file__).resolve().parent


def spawn_worker(settings: Settings, kind: str, log_dir: Path) -> subprocess.Popen[bytes]:
    """Start `python worker.py --queue kind` with this environment; output to a log file."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"worker-{kind}.log", "ab")  # noqa: SIM115 - lives as long as the child
    env = dict(os.environ)
    env.setdefault("INCIDENTFLOW_DATA_DIR", str(settings.data_dir.resolve()))
    env.setdefault("INCIDENTFLOW_WORKER_NICE", str(SHARED_HOST_WORKER_NICE))
    env["INCIDENTFLOW_TEMPORAL_ADDRESS"] = settings.temporal.target
    if settings.sources.evidence_bundle is not None:
        # `demo` configures its bundle in code: the workers must read the same one.
        env["INCIDENTFLOW_EVIDENCE_BUNDLE"] = str(settings.sources.evidence_bundle.resolve())
    # The workers see an address now, so they are told what `up` decided about unsigned
    # decisions (allowed by default only for the embedded server: docs/decisions.md).
    env["INCIDENTFLOW_DECISIONS_ALLOW_UNSIGNED"] = str(
        unsigned_allowed(settings.decisions, embedded=settings.temporal.embedded)
    ).lower()
    if settings.process.metrics_bind:
        # One metrics endpoint per process: the webhook keeps the bind, worker k takes port+k.
        offset = 1 + WORKER_KINDS.index(kind)
        env["INCIDENTFLOW_METRICS_BIND"] = shifted_bind(settings.process.metrics_bind, offset)
    return subprocess.Popen(
        [sys.executable, "-m", "worker", "--queue", kind],
        cwd=repo_root(),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class EmbeddedWebhook(uvicorn.Server):
    """uvicorn without its own signal handling: the CLI owns SIGINT and SIGTERM and stops
    every part of the stack in order (uvicorn would re-raise the signal after its own exit)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Stack:
    """Everything `up` runs, as an async context manager."""

    def __init__(self, settings: Settings, *, say: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.say = say
        self.server: DevServer | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._uvicorn: EmbeddedWebhook | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._tracing: TracerProvider | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Stack]:
        """Start all parts; stop them all on exit, whatever happened."""
        try:
            await self._start()
            yield self
        finally:
            await self._stop()

    async def _start(self) -> None:
        s = self.settings
        exposed = exposure_problem(s.ingest)
        if exposed:
            raise ConfigError(exposed)
        if not s.temporal.temporal_address:
            # The embedded UI decodes payloads through the webhook's codec from its own origin.
            ui = [s.temporal.ui_url, f"http://localhost:{s.temporal.embedded_ui_port}"]
            s = s.replace({"cors_origins": [*s.ingest.cors_origins, *ui]})
        self._tracing = configure_tracing(s.process, "incidentflow-ingest")
        # What is active, said before anything starts; building the agents' context checks
        # every template, catalog and bundle now rather than at the first incident.
        self.say(active_block(s, build_context(s)))
        if port_open(s.ingest.webhook_host, s.ingest.webhook_port):
            raise ConfigError(
                f"port {s.ingest.webhook_port} is in use (is `incidentflow up` already running?); "
                "stop it or set INCIDENTFLOW_WEBHOOK_PORT"
            )
        if not s.temporal.temporal_address:
            self.server = embedded_server(s)
            self.say(f"starting the Temporal dev server ({self.server.db_file})...")
            await asyncio.to_thread(self.server.start)
            self.say(f"Temporal UI:  {s.temporal.ui_url}")
        client = await self._connect()
        if s.temporal.temporal_address:
            added = await ensure_search_attributes(client, s.temporal.temporal_namespace)
            if added:
                self.say(f"registered search attributes: {', '.join(added)}")
        log_dir = s.data_dir / "logs"
        for kind in WORKER_KINDS:
            self.workers[kind] = spawn_worker(s, kind, log_dir)
        self.say(f"workers:      {', '.join(WORKER_KINDS)} (logs in {log_dir})")
        config = uvicorn.Config(
            traced(create_app(s, TemporalSink(client, s))),
            host=s.ingest.webhook_host,
            port=s.ingest.webhook_port,
            log_level="warning",
            lifespan="off",
        )
        self._uvicorn = EmbeddedWebhook(config)
        self._serve_task = asyncio.create_task(self._uvicorn.serve())
        waited = 0.0
        while not self._uvicorn.started:
            if self._serve_task.done():
                raise ConfigError(f"the webhook could not listen on {s.ingest.ingest_url}")
            if waited > WEBHOOK_START_TIMEOUT_S:
                raise TemporalUnavailable("the webhook did not start within 15 s")
            await asyncio.sleep(0.05)
            waited += 0.05
        self.say(f"webhook:      {s.ingest.ingest_url}/v1/alerts/alertmanager")
        self.say(f"incidents:    {s.ingest.ingest_url}/ui/ (log in with your API token)")
        tune_gc(s.process.gc_gen0_threshold)

    async def _connect(self) -> Client:
        """The client; a dev server just started gets a few seconds to answer.

        Its frontend port opens before every service behind it is serving, so the first
        connect can fail once in a while (seen in a test run); a configured server gets one try.
        """
        retries = 0 if self.settings.temporal.temporal_address else EMBEDDED_CONNECT_ATTEMPTS - 1
        for _ in range(retries):
            try:
                return await connect(self.settings, serve_metrics=True)
            except TemporalUnavailable:
                await asyncio.sleep(0.5)
        return await connect(self.settings, serve_metrics=True)

    async def wait(self) -> None:
        """Serve until interrupted; a worker that dies ends the stack with its log's path."""
        while True:
            for kind, proc in self.workers.items():
                if proc.poll() is not None:
                    raise IncidentFlowError(
                        f"the {kind} worker exited with code {proc.returncode}; see "
                        f"{self.settings.data_dir / 'logs' / f'worker-{kind}.log'}"
                    )
            if self._serve_task and self._serve_task.done():
                raise IncidentFlowError("the webhook stopped")
            await asyncio.sleep(0.5)

    async def _stop(self) -> None:
        # Stop in order and finish even if we are cancelled again meanwhile: a half-stopped
        # stack would leave a dev server or workers running in their own sessions.
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._serve_task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._serve_task, timeout=10)
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.server is not None:
            self.server.stop()
        if self._tracing is not None:
            self._tracing.shutdown()
