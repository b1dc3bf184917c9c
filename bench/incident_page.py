"""The console's speed (issue 20 item 7): the incident page of a 1,000-alert incident and the
list of 500 incidents, each timed through the real ingest app and shown as a ratio against a
baseline measured in the same run.

- Page: `GET /ui/incidents/<id>` for the demo incident grown to 1,000 alerts (every one kept in
  detail, 1,000 detections and 1,000 timeline events: worse than the workflow's record, which
  keeps 500 in detail and counts the rest) with its post-mortem drafted, served from memory so
  the page's own cost is measured. Baseline: `GET /v1/incidents/<id>`, the decision API's JSON
  of the same record.
- First view: it parses the post-mortem's Markdown (cached after: a post-mortem does not change
  once drafted), printed apart. Baseline: the first view of the same record whose post-mortem
  still holds every timeline row (the draft before the timeline was bounded: a 2,000-row table,
  ~360 KB), measured after the real one so the process's own first-request costs fall on ours.
- List: `GET /ui/` against a real dev server holding 500 incident workflows (no worker: they
  sit in visibility with their search attributes and memo). Baseline: the same visibility
  listing with no HTML (`incident_rows`).

    .venv/bin/python bench/incident_page.py [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from incidentflow.agents.correlation import correlate
from incidentflow.agents.detection import detect
from incidentflow.agents.investigation import investigate
from incidentflow.agents.postmortem import draft
from incidentflow.agents.postmortem_timeline import cell, timeline_rows
from incidentflow.agents.remediation import plan
from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.ingest.app import create_app
from incidentflow.ingest.formats import FORMATS
from incidentflow.ingest.sink import TemporalSink
from incidentflow.models import (
    AlertBatch,
    CorrelationInput,
    DependencyEdge,
    DownstreamAlert,
    IncidentRecord,
    IncidentState,
    InvestigationInput,
    PlanInput,
    Severity,
    TimelineEvent,
    TimelineKind,
)
from incidentflow.scenario import load_scenario
from incidentflow.search import SERVICE_KEY, SEVERITY_KEY, STATE_KEY
from incidentflow.settings import Settings
from incidentflow.sources.bundle import BundleEvidenceSource
from incidentflow.temporal import DevServer, connect, free_port
from incidentflow.web.listing import incident_rows

ALERTS = 1_000
INCIDENTS = 500
PAGE_BUDGET_MS = 300
LIST_BUDGET_MS = 500


def big_record() -> IncidentRecord:
    """The demo incident, investigated and planned by the agents, grown to ALERTS alerts."""
    scenario = load_scenario(demo_scenario_path())
    fmt = FORMATS["alertmanager"]
    now = datetime.now(UTC)
    alerts = [
        a
        for payload in scenario.alert_payloads
        for a in fmt.normalize(fmt.model.model_validate(payload), now, payload)
    ]
    batch = AlertBatch(batch_id="bench", environment="bench", received_at=now, alerts=alerts)
    detections = detect(batch, scenario.topology).detections
    (incident,) = correlate(
        CorrelationInput(detections=detections, open_incidents=[]), scenario.topology
    ).new_incidents
    investigation = investigate(
        InvestigationInput(incident=incident), scenario.topology, BundleEvidenceSource(scenario)
    )
    remedy = plan(PlanInput(incident=incident, investigation=investigation), scenario.topology)
    grown = []
    downstream = list(incident.downstream)
    for n in range(ALERTS):
        base = incident.alerts[n % len(incident.alerts)]
        fp = f"bench-{n:05d}"
        grown.append(base.model_copy(update={"fingerprint": fp}))
        if n % 5:
            service = base.labels.get("service", "svc")
            downstream.append(
                DownstreamAlert(
                    fingerprint=fp,
                    service=service,
                    path=[DependencyEdge(caller=service, callee=incident.origin_service or "x")],
                    explanation=f"{service} calls {incident.origin_service}",
                )
            )
    big = incident.model_copy(update={"alerts": grown, "downstream": downstream})
    many = [detections[n % len(detections)] for n in range(ALERTS)]
    timeline = [
        TimelineEvent(
            at=now + timedelta(seconds=n),
            kind=TimelineKind.ALERT,
            actor="correlation",
            summary=f"alert {n} joined",
        )
        for n in range(ALERTS)
    ]
    record = IncidentRecord(
        incident=big,
        state=IncidentState.AWAITING_APPROVAL,
        waiting_for="a decision",
        detections=many,
        investigation=investigation,
        plan=remedy,
        timeline=timeline,
        owner="dana",
    )
    return record.model_copy(update={"postmortem": draft(record, scenario.topology)})


def unbounded(record: IncidentRecord) -> IncidentRecord:
    """The same record under another id, its post-mortem's timeline holding every row."""
    pm = record.postmortem
    assert pm is not None
    head, _, rest = pm.markdown.partition("## Timeline")
    table = "\n".join(
        f"| {at:%Y-%m-%d %H:%M:%S} | {kind} | {cell(actor)} | {cell(what)} |"
        for at, kind, actor, what in timeline_rows(record)
    )
    markdown = (
        f"{head}## Timeline\n\n| Time (UTC) | Kind | Actor | What happened |\n|---|---|---|---|\n"
        f"{table}\n\n## Supporting{rest.partition('## Supporting')[2]}"
    )
    incident = record.incident.model_copy(update={"id": record.incident.id + "-unbounded"})
    return record.model_copy(
        update={"incident": incident, "postmortem": pm.model_copy(update={"markdown": markdown})}
    )


class MemoryDesk:
    """Serves records from memory (the page's own cost, without a Temporal query)."""

    def __init__(self, *records: IncidentRecord) -> None:
        self._records = {r.incident.id: r for r in records}

    async def record(self, incident_id: str) -> IncidentRecord:
        return self._records[incident_id]

    async def send(self, incident_id: str, verb: str, request: BaseModel) -> BaseModel:
        raise NotImplementedError("the bench only reads")


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float, float]:
    """Median and worst milliseconds of `runs` calls, and the first (cold) call's."""
    start = time.perf_counter()
    await call()
    cold = (time.perf_counter() - start) * 1000
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        took.append((time.perf_counter() - start) * 1000)
    return statistics.median(took), max(took), cold


async def start_incidents(settings: Settings) -> None:
    """INCIDENTS incident workflows with varied search attributes, no worker to run them."""
    client = await connect(settings)
    states = [s.value for s in IncidentState]
    severities = [s.value for s in Severity]

    async def one(n: int) -> None:
        attrs = TypedSearchAttributes(
            [
                SearchAttributePair(STATE_KEY, states[n % len(states)]),
                SearchAttributePair(SEVERITY_KEY, severities[n % len(severities)]),
                SearchAttributePair(SERVICE_KEY, f"service-{n % 25}"),
            ]
        )
        await client.start_workflow(
            "IncidentWorkflow",
            "bench",
            id=f"INC-20260101-{n:06x}",
            task_queue="bench-no-worker",
            memo={"title": f"Bench incident {n} <b>with</b> markup"},
            search_attributes=attrs,
        )

    for chunk in range(0, INCIDENTS, 50):
        await asyncio.gather(*(one(n) for n in range(chunk, min(chunk + 50, INCIDENTS))))
    query = "WorkflowType = 'IncidentWorkflow'"
    for _ in range(200):
        if (await client.count_workflows(query)).count >= INCIDENTS:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("visibility never showed every bench incident")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = DevServer(db_file=Path(tmp) / "t.sqlite", port=free_port(), ui_port=free_port())
        server.start()
        try:
            await run(args, server, Path(tmp))
        finally:
            server.stop()


async def run(args: argparse.Namespace, server: DevServer, tmp: Path) -> None:
    settings = Settings().replace(
        {
            "temporal_address": server.address,
            "data_dir": tmp / "data",
            "api_tokens": {"bench": "tok-bench"},
        }
    )
    record = big_record()
    before = unbounded(record)
    await start_incidents(settings)
    client = await connect(settings)
    app = create_app(settings, TemporalSink(client, settings), desk=MemoryDesk(record, before))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        login = await http.post("/ui/login", data={"token": "tok-bench"})
        assert login.status_code == 303, login.text
        page_url = f"/ui/incidents/{record.incident.id}"
        before_url = f"/ui/incidents/{before.incident.id}"
        api_url = f"/v1/incidents/{record.incident.id}"
        auth = {"Authorization": "Bearer tok-bench"}

        async def page() -> None:
            answer = await http.get(page_url)
            assert answer.status_code == 200 and "id='postmortem'" in answer.text

        async def page_before() -> None:
            answer = await http.get(before_url)
            assert answer.status_code == 200 and "id='postmortem'" in answer.text

        async def api() -> None:
            assert (await http.get(api_url, headers=auth)).status_code == 200

        async def listing() -> None:
            answer = await http.get("/ui/")
            assert answer.status_code == 200 and answer.text.count("<tr>") == INCIDENTS + 1

        async def visibility() -> None:
            assert len(await incident_rows(client, {})) == INCIDENTS

        page_ms, page_worst, page_cold = await timed(page, args.runs)
        start = time.perf_counter()
        await page_before()
        before_cold = (time.perf_counter() - start) * 1000
        size = len((await http.get(page_url)).content)
        api_ms, _, _ = await timed(api, args.runs)
        list_ms, list_worst, _ = await timed(listing, args.runs)
        vis_ms, _, _ = await timed(visibility, args.runs)
    print(f"incident page, {ALERTS} alerts ({size / 1024:.0f} KiB of HTML), {args.runs} runs:")
    print(
        f"  median {page_ms:.0f} ms (worst {page_worst:.0f}), budget {PAGE_BUDGET_MS} ms: "
        f"{page_ms / PAGE_BUDGET_MS:.2f}x the budget; "
        f"{page_ms / api_ms:.2f}x the JSON API's {api_ms:.0f} ms for the same record"
    )
    assert record.postmortem is not None and before.postmortem is not None
    print(
        f"  first view {page_cold:.0f} ms ({page_cold / PAGE_BUDGET_MS:.2f}x the budget): it "
        f"parses the post-mortem's Markdown ({len(record.postmortem.markdown) / 1024:.0f} KiB), "
        "whose HTML later views reuse"
    )
    print(
        f"  {page_cold / before_cold:.2f}x the first view of the unbounded post-mortem "
        f"({len(before.postmortem.markdown) / 1024:.0f} KiB of Markdown): {before_cold:.0f} ms"
    )
    print(f"incident list, {INCIDENTS} incidents from visibility, {args.runs} runs:")
    print(
        f"  median {list_ms:.0f} ms (worst {list_worst:.0f}), budget {LIST_BUDGET_MS} ms: "
        f"{list_ms / LIST_BUDGET_MS:.2f}x the budget; "
        f"{list_ms / vis_ms:.2f}x the bare visibility listing's {vis_ms:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    asyncio.run(main(parser.parse_args()))
