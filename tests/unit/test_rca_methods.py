"""The root-cause methods on synthetic series, spans and graphs: each one can fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incidentflow.agents.investigation import own_series, propagation
from incidentflow.agents.investigation.anomaly import (
    SeriesStatus,
    detect_onset,
    excursions,
    noise_scale,
    robust_scale,
    score_series,
)
from incidentflow.agents.investigation.signals import bounded_floor, signal_of, template_shift
from incidentflow.agents.investigation.traces import analyse
from incidentflow.cli.render import hypotheses_text
from incidentflow.eval.offline import run_offline
from incidentflow.evidence import (
    ChangeKind,
    ChangeRecord,
    LogLevel,
    LogRecord,
    MetricPoint,
    MetricSeries,
    SpanRecord,
)
from incidentflow.models import Service, ServiceGraph
from incidentflow.scenario import Scenario

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def points(values: list[float]) -> list[MetricPoint]:
    return [MetricPoint(at=T0 + i * MIN, value=v) for i, v in enumerate(values)]


def series(service: str, name: str, values: list[float]) -> MetricSeries:
    return MetricSeries(id=f"{service}:{name}", name=name, service=service, points=points(values))


NOISE = [5.0, 6.0, 4.0, 5.5, 4.5, 6.5, 5.0, 4.0, 6.0, 5.0]


def test_a_pinned_cpu_scores_far_above_a_wobble() -> None:
    pinned = score_series(points([*NOISE, 95.0, 98.0, 97.0]), T0 + 10 * MIN)
    wobble = score_series(points([*NOISE, 6.5, 7.0, 6.0]), T0 + 10 * MIN)
    assert pinned.status is SeriesStatus.ANOMALOUS and pinned.z > 50
    assert pinned.at == T0 + 10 * MIN and pinned.peak >= 97.0
    assert wobble.status is SeriesStatus.NO_CHANGE


def test_one_bad_scrape_is_not_a_shift_but_a_held_one_is() -> None:
    flat = [0.0046] * 10
    spike = score_series(points([*flat, 0.0046, 0.047, 0.0046, 0.0046]), T0 + 10 * MIN)
    held = score_series(points([*flat, 0.047, 0.047, 0.0046]), T0 + 10 * MIN)
    assert spike.status is SeriesStatus.NO_CHANGE
    assert held.status is SeriesStatus.ANOMALOUS


def test_no_data_no_history_and_no_change_stay_distinct() -> None:
    onset = T0 + 10 * MIN
    assert score_series([], onset).status is SeriesStatus.NO_DATA
    short = points([5.0] * 12)[8:]  # two points before the onset
    assert score_series(short, onset).status is SeriesStatus.NO_HISTORY
    assert score_series(points([5.0] * 12), onset).status is SeriesStatus.NO_CHANGE


def test_only_the_hurting_direction_counts() -> None:
    onset = T0 + 10 * MIN
    fell = points([*NOISE, 0.5, 0.4, 0.5])
    assert score_series(fell, onset).status is SeriesStatus.NO_CHANGE
    up = [1.0] * 10
    assert score_series(points([*up, 0.0, 0.0]), onset, hurts=-1).anomalous


def test_an_earlier_episode_in_the_history_cannot_hide_the_new_one() -> None:
    # Four of ten baseline points are a previous fault: the median and MAD ignore them.
    history = [5.0, 90.0, 92.0, 88.0, 91.0, 5.5, 4.5, 6.0, 5.0, 4.0]
    med, scale = robust_scale(history)
    assert med < 10 and scale < 5
    assert score_series(points([*history, 85.0, 90.0]), T0 + 10 * MIN).anomalous


def test_noise_is_read_from_differences_so_a_level_shift_does_not_inflate_it() -> None:
    shifted = [*NOISE, *(v + 100 for v in NOISE)]
    assert noise_scale(shifted) < 3 * noise_scale(NOISE)
    assert robust_scale(shifted)[1] > 10 * noise_scale(shifted)


def test_onset_is_where_most_series_shift_together_not_one_loud_series() -> None:
    calm = [5.0, 5.5, 4.5, 5.0, 5.2, 4.8, 5.1, 4.9, 5.0, 5.3]
    loud = [*calm[:3], *(v * 4 for v in calm[3:]), *(v * 4 for v in calm[:5])]
    group = [series("loud", "cpu", loud)]
    group += [series(f"s{i}", "cpu", [*calm, *(v * 3 + i for v in calm[:5])]) for i in range(4)]
    assert detect_onset(group, after=T0) == T0 + 10 * MIN


def test_onset_is_the_latest_sample_where_many_series_shift() -> None:
    early = [5.0] * 4 + [80.0] * 3 + [5.0] * 8
    late = [5.0] * 11 + [80.0] * 4
    group = [series(f"s{i}", "cpu", early) for i in range(3)]
    group += [series(f"t{i}", "cpu", late) for i in range(3)]
    assert detect_onset(group, after=T0) == T0 + 11 * MIN
    quiet = [series("q", "cpu", [5.0] * 15)]
    assert detect_onset(quiet, after=T0) is None


def test_onset_is_the_new_excursion_not_the_larger_one_still_fading() -> None:
    # The previous fault: huge, at the window's start, fading over four samples. The
    # current one: smaller, from sample 10. A single split of the window prefers the old.
    fading = [90.0, 70.0, 45.0, 25.0, 12.0, *NOISE[:5]]
    new = [30.0, 32.0, 31.0, 29.0, 30.0]
    old = series("a", "cpu", [*fading, *NOISE[:5]])
    now = series("b", "cpu", [*NOISE, *new])
    assert detect_onset([old, now], after=T0) == T0 + 10 * MIN
    # One series holding both (faults cover less than half of it): both are found, in order.
    assert excursions([90.0, 60.0, 30.0, *NOISE, 30.0, 31.0, 29.0, 30.0]) == [0, 13]


def test_a_single_clean_step_is_found_where_it_starts() -> None:
    assert detect_onset([series("a", "cpu", [*NOISE, 40.0, 41.0, 39.0, 40.0])], after=T0) == (
        T0 + 10 * MIN
    )


def test_no_change_and_a_lone_spike_give_no_onset() -> None:
    assert detect_onset([series("a", "cpu", [*NOISE, *NOISE[:5]])], after=T0) is None
    flat = [0.0046] * 15
    spike = [*flat[:11], 0.25, *flat[12:]]
    assert excursions(spike) == []
    assert detect_onset([series("a", "latency", spike)], after=T0) is None


def test_onset_falls_are_read_where_a_fall_hurts() -> None:
    ok = [100.0] * 10 + [60.0] * 5
    avail = series("a", "success_rate", ok)
    assert detect_onset([avail], after=T0) is None
    assert detect_onset([avail], after=T0, hurts=lambda s: -1) == T0 + 10 * MIN
    # A success rate losing a few points: under a floor of a quarter of its median (25
    # points) it is nothing; under the bounded floor the scores use (1 point) it is the onset.
    dip = series("a", "success_rate", [100.0] * 10 + [95.7, 97.7, 94.5, 100.0, 100.0])
    assert detect_onset([dip], after=T0, hurts=lambda s: -1) is None
    found = detect_onset([dip], after=T0, hurts=lambda s: -1, floor=bounded_floor)
    assert found == T0 + 10 * MIN


def test_series_several_services_report_identically_are_nobodys() -> None:
    host = [10.0, 11.0, 12.0]
    kept = own_series(
        [series("a", "node_cpu", host), series("b", "node_cpu", host), series("a", "cpu", host)]
    )
    assert [(s.service, s.name) for s in kept] == [("a", "cpu")]


def test_client_latency_is_named_apart_from_own_latency() -> None:
    assert signal_of("PodClientLatencyP90(s)") == "client_latency"
    assert signal_of("PodServerLatencyP90(s)") == "latency"
    assert signal_of("CpuUsageRate(%)") == "saturation"


def test_a_template_at_its_usual_rate_is_noise_and_a_new_one_is_not() -> None:
    assert template_shift(before=60, after=15, base_minutes=60, after_minutes=15) < 1
    assert template_shift(before=0, after=15, base_minutes=60, after_minutes=15) > 10
    assert template_shift(before=60, after=60, base_minutes=60, after_minutes=15) > 5


def _span(trace: str, sid: str, parent: str | None, svc: str, op: str, at: float, ms: float):  # type: ignore[no-untyped-def]
    start = T0 + timedelta(seconds=at)
    return SpanRecord(
        trace_id=trace,
        span_id=sid,
        parent_id=parent,
        service=svc,
        operation=op,
        start=start,
        end=start + timedelta(milliseconds=ms),
    )


def _traces(*, at: float, n: int, wire_ms: float, own_ms: float, children: int) -> list[SpanRecord]:
    """`n` traces: front calls (client span) back's server span, which calls db."""
    out: list[SpanRecord] = []
    for i in range(n):
        t = f"{int(at)}-{i}"
        server = own_ms + 2.0 * children
        out.append(_span(t, f"{t}r", None, "front", "GET /", at + i, server + wire_ms + 5))
        out.append(_span(t, f"{t}c", f"{t}r", "front", "Back/Get", at + i, server + wire_ms))
        out.append(_span(t, f"{t}s", f"{t}c", "back", "Back/Get", at + i, server))
        for k in range(children):
            out.append(_span(t, f"{t}d{k}", f"{t}s", "db", "query", at + i, 2.0))
    return out


def test_wire_time_grows_on_the_edge_when_the_callee_did_not_slow() -> None:
    onset = T0 + timedelta(seconds=100)
    spans = _traces(at=0, n=20, wire_ms=1, own_ms=3, children=2)
    spans += _traces(at=100, n=20, wire_ms=200, own_ms=3, children=2)
    found = analyse(spans, onset)
    assert [w.what for w in found.wire["back"]] == ["wire time front->back"]
    assert "back" not in found.own_time


def test_own_time_and_calls_cut_short_point_at_the_service() -> None:
    onset = T0 + timedelta(seconds=100)
    spans = _traces(at=0, n=20, wire_ms=1, own_ms=3, children=2)
    slow = analyse([*spans, *_traces(at=100, n=20, wire_ms=1, own_ms=300, children=2)], onset)
    assert slow.own_time["back"].z > 10 and not slow.wire
    cut = analyse([*spans, *_traces(at=100, n=20, wire_ms=1, own_ms=3, children=0)], onset)
    assert cut.calls["back"].after == 0.0


def test_too_few_spans_say_nothing() -> None:
    onset = T0 + timedelta(seconds=100)
    spans = _traces(at=0, n=3, wire_ms=1, own_ms=3, children=1)
    spans += _traces(at=100, n=3, wire_ms=500, own_ms=300, children=0)
    found = analyse(spans, onset)
    assert not found.wire and not found.own_time and not found.calls


def test_a_silent_dependency_of_several_anomalous_callers_wins() -> None:
    calls = {"web": ["a", "b"], "a": ["db"], "b": ["db"], "db": []}
    # db moved little itself, but both its callers wait on it (see scoring.wait_strength).
    anomaly = {"web": 1.0, "a": 2.0, "b": 2.0, "db": 1.5}
    mass = propagation.rank(anomaly, calls)
    assert max(mass, key=lambda n: mass[n]) == "db"
    assert abs(sum(mass.values()) - 1) < 1e-6


def test_a_caller_slow_because_of_its_callee_loses() -> None:
    calls = {"web": ["api"], "api": ["cache"], "cache": []}
    mass = propagation.rank({"web": 1.5, "api": 2.0, "cache": 3.0}, calls)
    assert mass["cache"] > mass["api"] > 0


def test_a_service_more_anomalous_than_its_callees_keeps_its_mass() -> None:
    calls = {"web": ["a", "b", "c"], "a": [], "b": [], "c": []}
    mass = propagation.rank({"web": 6.0, "a": 0.5, "b": 0.5, "c": 0.5}, calls)
    assert max(mass, key=lambda n: mass[n]) == "web"


def test_victims_hand_their_mass_down() -> None:
    calls = {"payments": ["db"], "db": []}
    plain = propagation.rank({"payments": 4.0, "db": 1.0}, calls)
    told = propagation.rank({"payments": 4.0, "db": 1.0}, calls, victims=frozenset({"payments"}))
    assert plain["payments"] > plain["db"]
    assert told["db"] > told["payments"]


def _silent_db_world() -> Scenario:
    """web calls a and b, both call db; a and b wait longer on their calls, db says nothing,
    web's CPU moves a little (its own evidence), and only web alerts."""
    graph = ServiceGraph(
        services=[
            Service(name="web", depends_on=["a", "b"]),
            Service(name="a", depends_on=["db"]),
            Service(name="b", depends_on=["db"]),
            Service(name="db"),
        ]
    )
    calm = [0.020, 0.021, 0.019, 0.020, 0.022, 0.020, 0.018, 0.021, 0.020, 0.019] * 3
    slow = [*calm, 0.9, 0.95, 0.92, 0.93, 0.9]
    flat = [*calm, *calm[:5]]
    # Each service's series differ (identical series would read as a shared host's).
    metrics = [
        series("a", "client_latency_p99_seconds", slow),
        series("b", "client_latency_p99_seconds", [v * 1.1 for v in slow]),
        series("a", "cpu_usage_ratio", [v * 10 for v in flat]),
        series("b", "cpu_usage_ratio", [v * 11 for v in flat]),
        series("db", "cpu_usage_ratio", [v * 12 for v in flat]),
        series("web", "cpu_usage_ratio", [*[v * 10 for v in calm], 0.8, 0.8, 0.8, 0.8, 0.8]),
    ]
    alert = {
        "status": "firing",
        "labels": {"alertname": "WebSlow", "service": "web", "severity": "critical"},
        "annotations": {"summary": "web is slow"},
        "startsAt": (T0 + 31 * MIN).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "00000000000000aa",
    }
    return Scenario(
        name="silent-db",
        topology=graph,
        alert_payloads=[{"version": "4", "status": "firing", "alerts": [alert]}],
        metrics=metrics,
    )


def test_a_silent_database_its_callers_wait_on_is_named_with_the_path() -> None:
    _, [inv] = run_offline(_silent_db_world())
    top = inv.hypotheses[0]
    assert top.service == "db" and top.fault_type.value == "network"
    assert top.path in (["web", "a", "db"], ["web", "b", "db"])
    assert "web" in [h.service for h in inv.hypotheses]
    assert all(h.why for h in inv.hypotheses)
    cited = {i for h in inv.hypotheses for i in (*h.evidence_ids, *h.contradicting_ids)}
    assert cited <= {e.id for e in inv.evidence}
    assert top.confidence >= max(h.confidence for h in inv.hypotheses)
    shown = "\n".join(hypotheses_text(inv))
    assert "why:" in shown and "path: web ->" in shown


def test_callers_that_only_wait_on_their_callee_are_listed_as_its_victims() -> None:
    # a and b wait on db like all db's callers: evidence, so listed (after db, at 0), not dropped.
    _, [inv] = run_offline(_silent_db_world())
    by = {h.service: h for h in inv.hypotheses}
    assert len(inv.hypotheses) >= 3 and {"a", "b"} <= set(by)
    for name in ("a", "b"):
        assert by[name].confidence == 0 and "only waits longer on db" in by[name].why
        assert any(r.service == name and "db" in r.reason for r in inv.rejected)


def test_a_tie_is_reported_as_a_tie_not_settled_by_name() -> None:
    world = _silent_db_world()
    # web waits on x and y alike; nothing else tells them apart.
    graph = ServiceGraph(
        services=[Service(name="web", depends_on=["x", "y"]), Service(name="x"), Service(name="y")]
    )
    calm = [0.020, 0.021, 0.019, 0.020, 0.022, 0.020, 0.018, 0.021, 0.020, 0.019] * 3
    tied = world.model_copy(
        update={
            "topology": graph,
            "metrics": [series("web", "client_latency_p99_seconds", [*calm, 0.9, 0.9, 0.9])],
        }
    )
    _, [inv] = run_offline(tied)
    first, second = inv.hypotheses[:2]
    assert {first.service, second.service} == {"x", "y"}
    assert first.confidence == second.confidence
    assert first.why.startswith(f"tied with {second.service}")
    assert second.why.startswith(f"tied with {first.service}")


def test_a_caller_that_waits_where_no_other_caller_does_is_the_slow_end() -> None:
    world = _silent_db_world()
    calm = [0.020, 0.021, 0.019, 0.020, 0.022, 0.020, 0.018, 0.021, 0.020, 0.019] * 3
    only_a = [m for m in world.metrics if m.id != "b:client_latency_p99_seconds"]
    only_a.append(series("b", "client_latency_p99_seconds", [*calm, *calm[:5]]))
    _, [inv] = run_offline(world.model_copy(update={"metrics": only_a}))
    ranked = [h.service for h in inv.hypotheses]
    # b calls db too and does not wait longer: the extra time is on a's side of the wire.
    assert ranked.index("a") < ranked.index("db")
    a = next(h for h in inv.hypotheses if h.service == "a")
    assert a.fault_type.value == "network" and "waits where others do not" in a.why
    # Both callers wait on db: the shared end is db, and neither caller is blamed for it.
    _, [both] = run_offline(world)
    assert both.hypotheses[0].service == "db"
    assert all("waits where others do not" not in h.why for h in both.hypotheses)


def _erring_world(*, errors: bool) -> Scenario:
    """web calls api; api's CPU rises; web's success ratio falls part way, or not."""
    world = _silent_db_world()
    graph = ServiceGraph(services=[Service(name="web", depends_on=["api"]), Service(name="api")])
    base = [0.20, 0.22, 0.19, 0.21, 0.20, 0.23, 0.18, 0.21, 0.20, 0.19] * 3
    ok = [1.0, 0.999, 1.0, 1.0, 0.998, 1.0, 1.0, 0.999, 1.0, 1.0] * 3
    metrics = [
        series("api", "cpu_usage_ratio", [*base, 0.9, 0.9, 0.92, 0.9, 0.91]),
        series("web", "success_ratio", [*ok, *([0.7] * 5 if errors else ok[:5])]),
    ]
    return world.model_copy(update={"topology": graph, "metrics": metrics})


def test_requests_failing_part_way_at_the_caller_type_the_callee_as_a_code_fault() -> None:
    _, [erring] = run_offline(_erring_world(errors=True))
    _, [busy] = run_offline(_erring_world(errors=False))
    api = next(h for h in erring.hypotheses if h.service == "api")
    assert api.fault_type.value == "code_exception"
    assert next(h for h in busy.hypotheses if h.service == "api").fault_type.value == (
        "resource_exhaustion"
    )


def _silent_root_world(*, named: bool) -> Scenario:
    """api -> app -> db. db raises no alert and none of its series moves; an infra change
    landed on it two minutes before app started failing. When `named`, app's error lines
    say a call to db timed out (peer.service=db)."""
    graph = ServiceGraph(
        services=[
            Service(name="api", depends_on=["app"]),
            Service(name="app", depends_on=["db"]),
            Service(name="db", tier="datastore"),
        ]
    )
    calm = [0.010, 0.011, 0.009, 0.010, 0.012, 0.010, 0.008, 0.011, 0.010, 0.009] * 4
    failing = [*calm, 0.3, 0.32, 0.31, 0.3, 0.33]
    metrics = [
        series("app", "http_error_ratio", failing),
        series("api", "http_error_ratio", [v * 0.9 for v in failing]),
        series("db", "up", [1.0] * 45),
        series("db", "cpu_usage_ratio", [v * 20 for v in [*calm, *calm[:5]]]),
    ]
    onset = T0 + 40 * MIN
    lines = [
        LogRecord(
            at=onset + i * 10 * timedelta(seconds=1),
            service="app",
            level=LogLevel.ERROR,
            message=f"dial tcp 10.0.0.7:5432: i/o timeout calling db (request {i:04x}ab)"
            if named
            else f"request {i:04x}ab failed",
            attributes={"peer.service": "db"} if named else {},
        )
        for i in range(20)
    ]
    change = ChangeRecord(
        id="chg-db-policy",
        service="db",
        kind=ChangeKind.INFRA,
        at=onset - 2 * MIN,
        before="absent",
        after="kind: NetworkPolicy\nmetadata: {name: db-ingress}\n",
    )
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "service": svc, "severity": "critical"},
            "annotations": {"summary": f"{svc} errors"},
            "startsAt": (onset + 2 * MIN).isoformat().replace("+00:00", "Z"),
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"00000000000000{n}f",
        }
        for n, svc in enumerate(("app", "api"))
    ]
    return Scenario(
        name="silent-root",
        topology=graph,
        alert_payloads=[{"version": "4", "status": "firing", "alerts": alerts}],
        metrics=metrics,
        logs=lines,
        changes=[change],
    )


def test_a_silent_root_its_callers_name_and_a_change_touched_wins() -> None:
    _, [inv] = run_offline(_silent_root_world(named=True))
    top = inv.hypotheses[0]
    assert top.service == "db" and top.change_id == "chg-db-policy"
    # The change is the trigger; the callers' i/o timeouts say what kind of fault it made.
    assert top.fault_type.value == "network"
    by = {h.service: h for h in inv.hypotheses}
    assert by["app"].confidence == 0 and "db" in by["app"].why
    assert any(r.service == "app" and "db" in r.reason for r in inv.rejected)


def test_a_change_on_a_silent_service_nobody_names_does_not_convict_it() -> None:
    _, [inv] = run_offline(_silent_root_world(named=False))
    assert inv.hypotheses[0].service == "app"
    assert any(r.service == "db" and "changed" in r.reason for r in inv.rejected)
