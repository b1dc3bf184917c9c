"""Issue 13: evidence is real or absent, sources degrade, plans stay inside the incident."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from live_peers import Peer, serve
from llm_support import activity_env
from scenario_alerts import demo, demo_incident, demo_investigation, run_correlation
from scenario_alerts import scenario_alerts as alerts_of
from temporalio.exceptions import ApplicationError

from activities.investigation import InvestigationActivities
from activities.remediation import RemediationActivities, options_from
from incidentflow.active import active_block
from incidentflow.agents.remediation import allowed_targets, plan, scoped, target_problem
from incidentflow.agents.sourcing import UNSOURCED_MAX_CONFIDENCE
from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.context import AgentContext, build_context
from incidentflow.errors import ConfigError
from incidentflow.models import (
    Hypothesis,
    InvestigationInput,
    InvestigationStatus,
    PlanInput,
    RollbackParams,
    SourceState,
)
from incidentflow.settings import Settings
from incidentflow.sources.build import FileChangeLog
from incidentflow.sources.changelog_http import HttpChangeLog
from incidentflow.sources.placeholders import check, fill
from incidentflow.sources.prometheus import PrometheusSource


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_nothing_configured_means_no_evidence_and_an_empty_graph() -> None:
    ctx = build_context(Settings())
    assert ctx.sources == () and ctx.graph.services == []
    assert ctx.graph_origin.startswith("empty")
    # The bundle answers only when configured, and then its topology is the graph.
    bundled = build_context(Settings().replace(dict(evidence_bundle=demo_scenario_path())))
    assert [s.name for s in bundled.sources] == ["bundle"]
    assert bundled.graph == demo().topology and bundled.graph_origin.startswith("bundle ")


async def test_an_incident_investigated_with_no_sources_says_so_and_asks_a_person() -> None:
    ctx = build_context(Settings())
    incident = demo_incident()
    inv = await activity_env().run(
        InvestigationActivities(ctx).investigate, InvestigationInput(incident=incident)
    )
    assert inv.status is InvestigationStatus.NO_SOURCES and inv.sources == []
    assert inv.summary.startswith("No evidence source is configured (no_sources)")
    # Nothing borrowed: no change, log or metric evidence, only what the alerts/graph say.
    assert {e.kind.value for e in inv.evidence} <= {"topology"}
    assert all(h.confidence <= UNSOURCED_MAX_CONFIDENCE for h in inv.hypotheses)
    proposal = await activity_env().run(
        RemediationActivities(ctx).plan_remediation, PlanInput(incident=incident, investigation=inv)
    )
    assert proposal.action is None and "a person must decide" in proposal.rationale


async def test_a_source_that_is_down_or_slow_is_left_out_and_the_others_answer(
    tmp_path: Path,
) -> None:
    changes = tmp_path / "changes.yaml"
    changes.write_text(
        "changes:\n  - {id: chg-payments-2150, service: payments, kind: deploy, "
        "at: '2025-03-14T13:55:00Z', before: v2.14.0, after: v2.15.0}\n"
    )
    with serve(Peer(mode="slow")) as slow:
        sources = (
            PrometheusSource(_dead_url()),
            HttpChangeLog(f"{slow.url}/changes", timeout_s=0.3, name="deploys"),
            FileChangeLog(changes),
        )
        ctx = AgentContext(graph=demo().topology, evidence=sources[2], sources=sources)
        inv = await activity_env().run(
            InvestigationActivities(ctx).investigate,
            InvestigationInput(incident=demo_incident()),
        )
    states = {r.name: (r.state, r.reason) for r in inv.sources}
    assert states["prometheus"][0] is SourceState.ERROR
    assert "did not answer" in states["prometheus"][1]
    assert states["deploys"][0] is SourceState.ERROR and "ReadTimeout" in states["deploys"][1]
    assert states["changelog"][0] is SourceState.OK
    assert inv.status is InvestigationStatus.PARTIAL and "Unavailable, left out" in inv.summary
    # The change the file holds still counts: the incident proceeds on what answered, and
    # with no metric answering, that is said as "no data", never as "nothing moved".
    assert "ev-change-chg-payments-2150" in {e.id for e in inv.evidence}
    deploy = next(r for r in inv.rejected if r.service == "payments")
    assert "no metric data was available" in deploy.reason
    assert all("no metric of it moved" not in r.reason for r in inv.rejected)
    # A source that answered with nothing is "no data", which is not "no change".
    empty = tmp_path / "empty.yaml"
    empty.write_text("changes: []\n")
    ctx = AgentContext(
        graph=demo().topology, evidence=FileChangeLog(empty), sources=(FileChangeLog(empty),)
    )
    inv = await activity_env().run(
        InvestigationActivities(ctx).investigate, InvestigationInput(incident=demo_incident())
    )
    assert [r.state for r in inv.sources] == [SourceState.NO_DATA]
    assert inv.status is InvestigationStatus.COMPLETE


async def test_a_configuration_error_still_parks(tmp_path: Path) -> None:
    with serve(Peer(mode="401")) as peer:
        source = HttpChangeLog(f"{peer.url}/changes", timeout_s=2)
        ctx = AgentContext(graph=demo().topology, evidence=source, sources=(source,))
        with pytest.raises(ApplicationError, match="cannot read its evidence") as err:
            await activity_env().run(
                InvestigationActivities(ctx).investigate,
                InvestigationInput(incident=demo_incident()),
            )
    assert err.value.non_retryable


def test_templates_as_prometheus_users_write_them() -> None:
    promql = 'sum(rate(http_requests_total{service="{service}",code=~"5.."}[1m]))'
    assert fill(promql, service="pay") == (
        'sum(rate(http_requests_total{service="pay",code=~"5.."}[1m]))'
    )
    # The str.format style of earlier versions still works.
    assert fill('up{{service="{service}"}}', service="pay") == 'up{service="pay"}'
    assert fill('{app="{service}"} |~ "a{2}"', service='we"ird') == '{app="we\\"ird"} |~ "a{2}"'
    check(promql, setting="S")
    for bad, why in [
        ('up{job="x"}', "has no {service}"),
        ('up{service="{svc}"}', "unknown placeholder {svc}"),
        ('up{service="{service}"', "unbalanced braces"),
    ]:
        with pytest.raises(ConfigError, match=why.replace("{", r"\{").replace("}", r"\}")):
            check(bad, setting="INCIDENTFLOW_PROMETHEUS_QUERIES (errors)")


def test_a_bad_template_stops_the_worker_at_start_naming_the_setting(tmp_path: Path) -> None:
    queries = tmp_path / "queries.yaml"
    queries.write_text('errors: rate(http_requests_total{service="{svc}"}[1m])\n')
    settings = Settings().replace(
        dict(prometheus_url="http://127.0.0.1:9090", prometheus_queries=queries)
    )
    with pytest.raises(ConfigError) as err:
        build_context(settings)
    message = str(err.value)
    assert f"INCIDENTFLOW_PROMETHEUS_QUERIES={queries} (errors)" in message
    assert "\n" not in message
    with pytest.raises(ConfigError, match="INCIDENTFLOW_LOKI_QUERY_TEMPLATE"):
        build_context(
            Settings().replace(
                dict(loki_url="http://127.0.0.1:3100", loki_query_template='{app="x"}')
            )
        )


def test_a_plan_may_only_touch_the_incident() -> None:
    # Grafana on checkout and PagerDuty on cart; the investigation names payments without
    # evidence of it: a rollback of payments is refused.
    incident = run_correlation(
        [a for a in alerts_of(demo()) if a.labels.get("service") == "checkout"]
    ).new_incidents[0]
    inv = demo_investigation()
    assert "payments" not in incident.services
    uncited = inv.model_copy(
        update={
            "hypotheses": [
                Hypothesis(
                    cause="payments broke",
                    service="payments",
                    fault_type=inv.hypotheses[0].fault_type,
                    confidence=0.9,
                    evidence_ids=[e.id for e in inv.evidence if e.service != "payments"][:1],
                    change_id=inv.hypotheses[0].change_id,
                )
            ]
        }
    )
    allowed = allowed_targets(incident, uncited)
    assert "payments" not in allowed
    proposed = plan(PlanInput(incident=incident, investigation=uncited), demo().topology)
    assert proposed.action is not None and getattr(proposed.action.params, "service", "") == (
        "payments"
    )
    kept = scoped(proposed, incident, uncited)
    assert kept.action is None and kept.rationale.startswith("Refused: ")
    assert "payments" in kept.rationale and kept.alternatives == []
    # Cited with evidence of it, the same target is in scope.
    assert "payments" in allowed_targets(incident, inv)
    rb = RollbackParams(service="payments", from_version="v2", to_version="v1")
    assert target_problem(rb, allowed_targets(incident, inv)) is None


async def test_plans_name_the_executor_that_will_really_run_them() -> None:
    ctx = build_context(Settings().replace(dict(evidence_bundle=demo_scenario_path())))
    inp = PlanInput(incident=demo_incident(), investigation=demo_investigation())
    for settings, expected in [
        (Settings(), "dry-run"),
        (Settings().replace(dict(executor="kubectl")), "kubectl"),
        (
            Settings().replace(
                dict(
                    executor="http",
                    executor_http_actions={"rollback": {"url": "http://d/{service}/rollback"}},
                )
            ),
            "http",
        ),
    ]:
        proposal = await activity_env().run(
            RemediationActivities(ctx, options_from(settings)).plan_remediation, inp
        )
        assert proposal.action is not None and isinstance(proposal.action.params, RollbackParams)
        assert proposal.action.executor == expected


def test_up_says_what_is_active() -> None:
    bare = active_block(Settings(), build_context(Settings()))
    assert "evidence:      none configured" in bare
    assert "service graph: empty" in bare and "executor:      dry-run" in bare
    settings = Settings().replace(
        dict(
            prometheus_url="http://prom:9090",
            executor="http",
            executor_http_url="http://deploy/act",
            notify_webhook_url="http://hooks.example/T0KEN?secret=1",
            llm_agents="investigation",
            llm_model="m",
            llm_base_url="http://llm/v1",
            metrics_bind="127.0.0.1:9464",
            temporal_address="temporal:7233",
            temporal_namespace="ops",
        )
    )
    block = active_block(settings, build_context(settings))
    labels = [line.split(":", 1)[0] for line in block.splitlines()]
    assert labels == [
        "temporal",
        "service graph",
        "evidence",
        "executor",
        "approval",
        "notifier",
        "llm",
        "metrics",
    ]
    assert "temporal:7233, namespace ops" in block and "prometheus http://prom:9090" in block
    assert "http (http://deploy/act)" in block and "m at http://llm/v1 for investigation" in block
    assert "T0KEN" not in block and "secret" not in block


def test_a_worker_says_what_is_active_when_it_starts(caplog: pytest.LogCaptureFixture) -> None:
    from worker import agent_context

    caplog.set_level(logging.INFO, logger="incidentflow.worker")
    ctx = agent_context(Settings(), "default")
    assert ctx is not None and ctx.sources == ()
    (message,) = [r.getMessage() for r in caplog.records if "active configuration" in r.message]
    assert "evidence:      none configured" in message and "executor:      dry-run" in message
    assert agent_context(Settings(), "remediation") is None
