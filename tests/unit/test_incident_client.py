"""IncidentClient names the workflows' queries and updates; they must be the registered ones."""

from __future__ import annotations

from temporalio import workflow

from incidentflow import client as incident_client
from workflows.incident import IncidentWorkflow
from workflows.names import stream_workflow_id
from workflows.stream import AlertStreamWorkflow


def test_every_name_the_client_uses_is_registered_by_the_workflows() -> None:
    incident = workflow._Definition.must_from_class(IncidentWorkflow)
    stream = workflow._Definition.must_from_class(AlertStreamWorkflow)
    assert incident.name == incident_client.INCIDENT_WORKFLOW
    assert stream.name == incident_client.STREAM_WORKFLOW
    assert incident_client.RECORD_QUERY in incident.queries
    for verb in (*incident_client.DECISION_UPDATES, *incident_client.TAKEOVER_UPDATES):
        assert verb in incident.updates, verb
    for name in incident_client.STREAM_QUERIES:
        assert name in stream.queries, name


def test_stream_ids_match_the_workflows() -> None:
    for partition in ("production", "eval-1234abcd", "staging"):
        assert incident_client.stream_id(partition) == stream_workflow_id(partition)
