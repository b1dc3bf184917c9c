"""Hand accepted alert batches to Temporal: signal-with-start of the partition's stream."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

import orjson
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import RawValue
from temporalio.service import RPCError, RPCStatusCode

from incidentflow.errors import BadInput, TemporalUnavailable
from incidentflow.models import AlertBatch, AlertBatches, StreamInput
from incidentflow.settings import Settings
from workflows.names import ALERT_BATCHES_SIGNAL, ALERTS_SIGNAL, stream_workflow_id
from workflows.stream import AlertStreamWorkflow
from workflows.stream_index import alert_weight

# How often the edge asks a stream how many alerts wait in it (backpressure), at most.
BACKLOG_REFRESH_S = 1.0
BACKLOG_QUERY_TIMEOUT = timedelta(seconds=2)


# One signal carries at most this many deliveries, and about this many bytes of them before
# compression: under Temporal's 2 MB payload limit even if compression gained nothing.
GROUP_MAX_BATCHES = 64
GROUP_MAX_BYTES = 1_500_000


@dataclass
class _Waiting:
    """A delivery waiting for the signal that carries it; `done` answers its request."""

    batch: AlertBatch
    done: asyncio.Future[None]


def _weight(batch: AlertBatch) -> int:
    # The alerts' JSON, and again for `raw`, which repeats them as the sender wrote them.
    return 2 * alert_weight(batch)


def _plain(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.__dict__
    raise TypeError(f"{type(value).__name__} is not JSON")


def signal_payload(arg: AlertBatch | AlertBatches) -> RawValue | AlertBatch | AlertBatches:
    """`arg` as the payload the pydantic converter would write, written by orjson.

    The models on this path hold plain data in their fields (strings, enums, UTC datetimes,
    dicts, lists, nested models), so their field dicts serialize to the very bytes
    `pydantic_core.to_json` writes (tests/unit/test_ingest_payload.py checks it), about three
    times faster: a storm's signals are mostly this. What orjson cannot write (an integer past
    64 bits in a sender's `raw`) goes to the converter as the model.
    """
    try:
        data = orjson.dumps(arg, default=_plain, option=orjson.OPT_UTC_Z)
    except TypeError:
        return arg
    return RawValue(Payload(metadata={"encoding": b"json/plain"}, data=data))


def _settle(group: list[_Waiting], error: BaseException | None) -> None:
    for waiting in group:
        if waiting.done.done():
            continue  # the request went away; its delivery was sent all the same
        if error is None:
            waiting.done.set_result(None)
        else:
            waiting.done.set_exception(error)


class TemporalSink:
    """Durably accepts batches: returns only once Temporal has recorded the signal."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        # stream id -> (monotonic time asked, alerts waiting); refreshed in the background.
        self._backlog: dict[str, tuple[float, int]] = {}
        # stream id -> bytes of history its current run holds, as the server counts them
        # (signals not yet applied included, which the backlog query cannot see).
        self._history: dict[str, int] = {}
        # Alerts this process sent to a stream since its backlog was last asked: the estimate
        # stays conservative between answers.
        self._sent_since: dict[str, int] = {}
        self._asking: dict[str, asyncio.Task[None]] = {}
        # stream id -> deliveries waiting for the next signal, and the task sending them.
        self._queues: dict[str, list[_Waiting]] = {}
        self._flushers: dict[str, asyncio.Task[None]] = {}

    @property
    def client(self) -> Client:
        """The Temporal client (the decision API reads and decides incidents with it)."""
        return self._client

    def _refresh_backlog(self, stream_id: str) -> int:
        """The last known backlog of a stream; asks again in the background when stale."""
        asked, value = self._backlog.get(stream_id, (0.0, 0))
        running = self._asking.get(stream_id)
        if time.monotonic() - asked > BACKLOG_REFRESH_S and (running is None or running.done()):
            self._asking[stream_id] = asyncio.create_task(self._ask_backlog(stream_id))
        return value + self._sent_since.get(stream_id, 0)

    async def _ask_backlog(self, stream_id: str) -> None:
        handle = self._client.get_workflow_handle(stream_id)
        asked = self._sent_since.get(stream_id, 0)
        query = handle.query(AlertStreamWorkflow.backlog, rpc_timeout=BACKLOG_QUERY_TIMEOUT)
        describe = handle.describe(rpc_timeout=BACKLOG_QUERY_TIMEOUT)
        value, desc = await asyncio.gather(query, describe, return_exceptions=True)
        if not isinstance(desc, BaseException):
            info = desc.raw_description.workflow_execution_info
            # A closed run (terminated, or ended by hand) takes nothing more: the next
            # signal-with-start begins a new one, so only a running run's history counts.
            running = desc.status is WorkflowExecutionStatus.RUNNING
            self._history[stream_id] = info.history_size_bytes if running else 0
        elif isinstance(desc, RPCError) and desc.status is RPCStatusCode.NOT_FOUND:
            self._history[stream_id] = 0
        self._backlog[stream_id] = (time.monotonic(), value if isinstance(value, int) else 0)
        # What was sent while the question was out is not in the answer: keep counting it.
        self._sent_since[stream_id] = max(0, self._sent_since.get(stream_id, 0) - asked)

    async def accept(self, batch: AlertBatch) -> str:
        """Signal-with-start the stream of `batch.environment`; its workflow id on success."""
        s = self._settings
        stream_id = stream_workflow_id(batch.environment)
        waiting = self._refresh_backlog(stream_id)
        history = self._history.get(stream_id, 0)
        if history > s.ingest.max_stream_history_mb * 1024 * 1024:
            # The run must drain and hand over before it takes more: Temporal ends a run at
            # 50 MB of history, and the sender's retry costs nothing.
            raise TemporalUnavailable(
                f"stream {stream_id}'s run holds {history / 1048576:.1f} MB of history; it hands "
                "over to a new run once its backlog drains "
                f"(limit INCIDENTFLOW_MAX_STREAM_HISTORY_MB={s.ingest.max_stream_history_mb:g})"
            )
        if waiting + len(batch.alerts) > s.ingest.max_stream_backlog and waiting > 0:
            # Backpressure: the sender retries later; accepting more would only grow a
            # backlog the stream must carry across continue-as-new.
            raise TemporalUnavailable(
                f"stream {stream_id} has {waiting} alerts waiting "
                f"(limit INCIDENTFLOW_MAX_STREAM_BACKLOG={s.ingest.max_stream_backlog})"
            )
        # Reserve before awaiting, so concurrent requests see each other's alerts.
        self._sent_since[stream_id] = self._sent_since.get(stream_id, 0) + len(batch.alerts)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(stream_id, []).append(_Waiting(batch, done))
        flusher = self._flushers.get(stream_id)
        if flusher is None or flusher.done():
            self._flushers[stream_id] = asyncio.create_task(self._flush(stream_id))
        await done
        return stream_id

    async def _flush(self, stream_id: str) -> None:
        """Group commit: what queued while the last signal was out goes in the next one.

        Signals to one workflow are applied one at a time, so concurrent deliveries would
        otherwise wait in line; together they cost one round trip. Each delivery is answered
        only once the signal that carries it is recorded, and all of them fail together.
        """
        queue = self._queues[stream_id]
        while queue:
            group = [queue.pop(0)]
            size = _weight(group[0].batch)
            while queue and len(group) < GROUP_MAX_BATCHES:
                more = _weight(queue[0].batch)
                if size + more > GROUP_MAX_BYTES:
                    break
                group.append(queue.pop(0))
                size += more
            try:
                await self._send(stream_id, [w.batch for w in group])
            except BadInput as err:
                if len(group) == 1:
                    _settle(group, err)
                    continue
                # One delivery may be what Temporal refused: try each alone.
                queue[:0] = group
                await self._send_each(stream_id, queue, len(group))
                continue
            except TemporalUnavailable as err:
                # Temporal did not answer in time: what queued behind would wait as long again
                # each. Everyone gets the 503 now and the senders retry.
                _settle([*group, *queue], err)
                queue.clear()
                continue
            except BaseException as err:
                # Nothing may leave a request waiting forever (shutdown cancels this task).
                _settle([*group, *queue], TemporalUnavailable(f"not sent: {err!r}"))
                queue.clear()
                raise
            _settle(group, None)

    async def _send_each(self, stream_id: str, queue: list[_Waiting], count: int) -> None:
        for _ in range(count):
            one = queue.pop(0)
            try:
                await self._send(stream_id, [one.batch])
            except (BadInput, TemporalUnavailable) as err:
                _settle([one], err)
            else:
                _settle([one], None)

    async def _send(self, stream_id: str, batches: list[AlertBatch]) -> None:
        """Signal-with-start the stream with `batches`; raises BadInput or TemporalUnavailable."""
        s = self._settings
        first = batches[0]
        timeout = timedelta(seconds=s.ingest.accept_timeout_seconds)
        signal, arg = (
            (ALERTS_SIGNAL, first)
            if len(batches) == 1
            else (ALERT_BATCHES_SIGNAL, AlertBatches(batches=batches))
        )
        ids = first.batch_id if len(batches) == 1 else f"{first.batch_id} (+{len(batches) - 1})"
        try:
            await asyncio.wait_for(
                self._client.start_workflow(
                    AlertStreamWorkflow.run,
                    # Only what identifies the stream: it reads its settings itself.
                    StreamInput(environment=first.environment),
                    id=stream_id,
                    task_queue=s.temporal.workflow_queue,
                    start_signal=signal,
                    start_signal_args=[signal_payload(arg)],
                    static_summary=f"alert stream for {first.environment}",
                    rpc_timeout=timeout,
                ),
                timeout=s.ingest.accept_timeout_seconds,
            )
        except RPCError as err:
            if err.status is RPCStatusCode.INVALID_ARGUMENT:
                # Retrying cannot help (e.g. over Temporal's payload size limit): 4xx, not 503.
                raise BadInput(f"Temporal refused batch {ids}: {err.message[:200]}") from err
            raise TemporalUnavailable(
                f"Temporal at {s.temporal.target} did not accept batch {ids}: {err}"
            ) from err
        except (RuntimeError, TimeoutError) as err:
            raise TemporalUnavailable(
                f"Temporal at {s.temporal.target} did not accept batch {ids}: {err}"
            ) from err

    async def unready(self) -> str | None:
        """None when the Temporal frontend answers within the accept timeout; else why not.

        The client may be lazy (`serve-webhook` starts before Temporal does): each call tries
        to connect again, so the webhook becomes ready as soon as Temporal answers.
        """
        s = self._settings
        try:
            timeout = timedelta(seconds=s.ingest.accept_timeout_seconds)
            healthy = await asyncio.wait_for(
                self._client.service_client.check_health(timeout=timeout),
                timeout=s.ingest.accept_timeout_seconds,
            )
        except TimeoutError:
            waited = s.ingest.accept_timeout_seconds
            return f"Temporal at {s.temporal.target} did not answer within {waited:g} s"
        except (RPCError, RuntimeError) as err:
            return f"Temporal at {s.temporal.target} is not reachable: {str(err)[:300]}"
        return None if healthy else f"Temporal at {s.temporal.target} reports itself not serving"
