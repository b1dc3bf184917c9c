"""The agents over a bundle in-process, without Temporal: for unit tests and quick iteration.

All deliveries form one batch (as the stream merges a burst); detection, correlation,
investigation and planning then run as the activities would. `incidentflow eval` is the
authoritative measurement; this is its fast, approximate twin.
"""

from __future__ import annotations

from datetime import UTC, datetime

from incidentflow.agents.correlation import correlate
from incidentflow.agents.detection import detect
from incidentflow.agents.investigation import investigate
from incidentflow.agents.remediation import plan
from incidentflow.eval.score import Observed, observe
from incidentflow.ingest.alertmanager import AlertmanagerWebhook, normalize
from incidentflow.models import (
    AlertBatch,
    CorrelationInput,
    Investigation,
    InvestigationInput,
    PlanInput,
)
from incidentflow.scenario import Scenario
from incidentflow.sources.bundle import BundleEvidenceSource


def run_offline(scenario: Scenario) -> tuple[list[Observed], list[Investigation]]:
    """What the agents conclude for the bundle, and each incident's investigation."""
    alerts = [
        a for p in scenario.alert_payloads for a in normalize(AlertmanagerWebhook.model_validate(p))
    ]
    batch = AlertBatch(
        batch_id="offline",
        environment=scenario.environment,
        received_at=datetime.now(UTC),
        alerts=alerts,
    )
    graph = scenario.topology
    detections = detect(batch, graph).detections
    result = correlate(
        CorrelationInput(
            detections=detections, open_incidents=[], environment=scenario.environment
        ),
        graph,
    )
    source = BundleEvidenceSource(scenario)
    observed: list[Observed] = []
    investigations: list[Investigation] = []
    for incident in result.new_incidents:
        inv = investigate(InvestigationInput(incident=incident), graph, source)
        proposal = plan(PlanInput(incident=incident, investigation=inv), graph)
        observed.append(observe(incident, inv, proposal))
        investigations.append(inv)
    return observed, investigations
