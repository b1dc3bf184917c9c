"""`incidentflow bundle capture`: an incident the pipeline handled, with evidence read from a
real Prometheus, written as a bundle that loads, replays and carries what a person decided."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import app_stack, make_settings
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state
from prometheus_peer import eventually, running_prometheus

from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.client import IncidentClient
from incidentflow.eval.capture import capture_incident
from incidentflow.eval.offline import run_offline
from incidentflow.models import DecisionRequest, IncidentState
from incidentflow.scenario import load_scenario
from incidentflow.temporal import DevServer, connect, free_port

PAYMENTS = 'max(app_error_ratio{service="payments"})'


class _Exporter(BaseHTTPRequestHandler):
    """`app_error_ratio` per demo service: payments fails, the rest are quiet."""

    def do_GET(self) -> None:
        wobble = 0.001 * (int(time.time()) % 3)
        body = "# TYPE app_error_ratio gauge\n" + "".join(
            f'app_error_ratio{{service="{svc}"}} {value + wobble}\n'
            for svc, value in (("payments", 0.4), ("checkout", 0.2), ("cart", 0.01))
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_capture_writes_alerts_prometheus_series_and_the_approved_plan(
    dev_server: DevServer, tmp_path: Path
) -> None:
    exporter = ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    queries = tmp_path / "queries.yaml"
    queries.write_text('app_error_ratio: max(app_error_ratio{{service="{service}"}})\n')
    target = f"127.0.0.1:{exporter.server_address[1]}"
    try:
        with running_prometheus(tmp_path / "prometheus", {"app": [target]}) as prom:
            settings = make_settings(
                dev_server.address,
                tmp_path / "data",
                catalog_path=demo_scenario_path() / "topology.yaml",
                prometheus_url=prom,
                prometheus_queries=queries,
            )
            client = await connect(settings)
            # Scraped at least once, then a few more seconds of samples.
            await eventually(prom, PAYMENTS, lambda v: v is not None)
            await asyncio.sleep(3)
            payloads = demo_payloads()
            async with app_stack(settings, client) as stack:
                for payload in payloads:
                    assert (await stack.post_alertmanager(payload)).status_code == 202
                incident_id = await wait_for_incident(
                    client, settings, fingerprints_of(payloads, DEMO_ORIGIN)
                )
                await wait_for_state(client, incident_id, {IncidentState.AWAITING_APPROVAL})
                await IncidentClient(client).decide(
                    incident_id, approve=True, request=DecisionRequest(by="alice")
                )
                record = await IncidentClient(client).record(incident_id)
                # A second source that is down: reported, and the rest still written.
                down = settings.replace({"loki_url": f"http://127.0.0.1:{free_port()}"})
                out = tmp_path / "captured"
                captured = await capture_incident(client, down, incident_id, out, margin_s=120)
    finally:
        exporter.shutdown()

    assert captured.path == out and not (tmp_path / "captured.tmp").exists()
    assert any(line.startswith("loki:") for line in captured.unavailable), captured.unavailable
    bundle = load_scenario(out)
    sent = {a["fingerprint"] for p in bundle.alert_payloads for a in p["alerts"]}
    assert sent == {a.fingerprint for a in record.incident.alerts}
    # Alerts as the incident holds them: labels, annotations, times, fingerprint.
    first = bundle.alert_payloads[0]["alerts"][0]
    held = next(a for a in record.incident.alerts if a.fingerprint == first["fingerprint"])
    assert first["labels"] == held.labels and first["annotations"] == held.annotations
    assert first["startsAt"][:19] == held.starts_at.isoformat()[:19]
    series = {s.service: s for s in bundle.metrics if s.name == "app_error_ratio"}
    assert series["payments"].query == PAYMENTS
    assert series["payments"].points and series["payments"].points[-1].value >= 0.4
    assert {s.name for s in bundle.topology.services} >= {"payments", "checkout"}
    # expected.yaml: the approved plan is the accepted action; the cause is marked unconfirmed.
    text = (out / "expected.yaml").read_text()
    assert "the plan alice approved" in text and "NOBODY CONFIRMED IT" in text
    expected = yaml.safe_load(text)["incidents"][0]
    assert record.plan is not None and record.plan.action is not None
    params = record.plan.action.params.model_dump(mode="json")
    assert expected["accepted_actions"][0]["kind"] == params["kind"]
    assert bundle.expected is not None
    assert bundle.expected.incidents[0].root_cause.service == DEMO_ORIGIN
    # It replays: the agents over the captured bundle open an incident with its alerts.
    observed, _ = run_offline(bundle)
    assert any(set(o.fingerprints) & sent for o in observed)
    # Capturing into an existing folder is refused, not merged.
    with pytest.raises(Exception, match="already exists"):
        await capture_incident(client, settings, incident_id, out)
