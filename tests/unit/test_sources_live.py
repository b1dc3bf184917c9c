"""Loki and the HTTP change log against loopback peers that speak their protocols.

Loki is out of reach here (not packaged in Debian; Debian's `loki` is a genetics tool), so
`FakeLoki`-style peers in `live_peers.py` serve `query_range` JSON on 127.0.0.1 and record the
LogQL, time range and headers each request carried; the assertions read those records.
"""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from live_peers import LokiLine, Peer, serve
from pydantic import SecretStr

from incidentflow.errors import ConfigError, EvidenceUnavailable
from incidentflow.evidence import ChangeKind, LogLevel
from incidentflow.settings import SourceSettings
from incidentflow.sources.build import evidence_sources
from incidentflow.sources.changelog_http import HttpChangeLog
from incidentflow.sources.kubectl import KubectlChangeLog
from incidentflow.sources.loki import LokiSource, level_of, logql

T0 = datetime(2026, 3, 14, 14, 0, tzinfo=UTC)
START, END = T0 - timedelta(hours=1), T0 + timedelta(minutes=15)


def _ns(at: datetime) -> str:
    return str(int(at.timestamp()) * 1_000_000_000)


def _lines() -> list[LokiLine]:
    return [
        LokiLine(
            "payments", T0 + timedelta(seconds=5), "ERROR tokenise failed", {"level": "error"}
        ),
        LokiLine(
            "payments",
            T0 + timedelta(seconds=9),
            json.dumps(
                {
                    "level": "fatal",
                    "msg": "SDK 5 NullPointerException",
                    "trace_id": "abc123",
                    "service.version": "v2.15.0",
                }
            ),
            {"pod": "payments-7f9"},
        ),
        LokiLine("payments", T0 + timedelta(seconds=7), 'ts=1 level=warn msg="slow card"'),
        LokiLine("payments", T0 + timedelta(seconds=8), "GET /healthz 200 ok"),
        LokiLine("payments", T0 - timedelta(hours=2), "ERROR before the window"),
        LokiLine("checkout", T0 + timedelta(seconds=6), "timeout calling payments"),
    ]


def test_loki_sends_logql_per_service_and_parses_streams_into_records() -> None:
    with serve(Peer(lines=_lines())) as peer:
        source = LokiSource(
            peer.url,
            template='{service="{service}", env="prod"} |~ "(?i)error|timeout"',
            tenant="team-a",
            grafana_url="http://grafana.test:3000/",
            datasource="loki-prod",
        )
        records = source.logs(services=["payments", "checkout"], start=START, end=END)

    assert [p["query"] for p in peer.params] == [
        '{service="payments", env="prod"} |~ "(?i)error|timeout"',
        '{service="checkout", env="prod"} |~ "(?i)error|timeout"',
    ]
    first = peer.params[0]
    assert (first["start"], first["end"]) == (_ns(START), _ns(END))
    assert first["direction"] == "backward" and int(first["limit"]) >= 1000
    assert {path for path, _, _ in peer.requests} == {"/loki/api/v1/query_range"}
    assert all(h.get("X-Scope-OrgID") == "team-a" for _, _, h in peer.requests)

    # The healthz line reads as info and falls under the default min level; the old one is
    # outside the window. Levels come from the label, the JSON field, logfmt and the words.
    got = [(r.service, r.level, r.message) for r in records]
    assert got == [
        ("payments", LogLevel.ERROR, "ERROR tokenise failed"),
        ("checkout", LogLevel.WARNING, "timeout calling payments"),
        ("payments", LogLevel.WARNING, 'ts=1 level=warn msg="slow card"'),
        ("payments", LogLevel.FATAL, "SDK 5 NullPointerException"),
    ]
    fatal = records[-1]
    assert fatal.at == T0 + timedelta(seconds=9)
    assert fatal.trace_id == "abc123"
    assert fatal.attributes["service.version"] == "v2.15.0"
    assert fatal.attributes["pod"] == "payments-7f9"
    link = urlparse(records[0].link or "")
    assert (link.netloc, link.path) == ("grafana.test:3000", "/explore")
    pane = json.loads(unquote(parse_qs(link.query)["panes"][0]))["incidentflow"]
    assert pane["datasource"] == "loki-prod"
    assert pane["queries"][0]["expr"] == first["query"]
    assert pane["range"] == {
        "from": str(int(START.timestamp() * 1000)),
        "to": str(int(END.timestamp() * 1000)),
    }

    with serve(Peer(lines=_lines())) as peer:
        everything = LokiSource(peer.url).logs(
            services=["payments"], start=START, end=END, min_level=LogLevel.DEBUG
        )
    assert [r.level for r in everything].count(LogLevel.INFO) == 1
    own = urlparse(everything[0].link or "")
    assert own.path == "/loki/api/v1/query_range"
    assert parse_qs(own.query)["query"] == [peer.params[0]["query"]]


@pytest.mark.parametrize(
    ("mode", "error", "names"),
    [
        ("500", EvidenceUnavailable, "answered 500"),
        ("garbage", EvidenceUnavailable, "sent no query_range answer"),
        ("slow", EvidenceUnavailable, "did not answer"),
        ("400", ConfigError, "INCIDENTFLOW_LOKI_QUERY_TEMPLATE"),
        ("matrix", ConfigError, "not a metric query"),
    ],
)
def test_loki_failures_are_clear_errors(mode: str, error: type[Exception], names: str) -> None:
    with serve(Peer(mode=mode, lines=_lines())) as peer:
        source = LokiSource(peer.url, timeout_s=0.3)
        with pytest.raises(error, match=names) as caught:
            source.logs(services=["payments"], start=START, end=END)
    assert mode in ("400", "matrix") or peer.url in str(caught.value)
    assert len(peer.requests) == 1  # no client-side retry: Temporal owns retries


def test_loki_down_and_bad_config_name_the_setting() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Building a source touches nothing: a dead URL only fails when the agent asks.
    source = LokiSource(f"http://127.0.0.1:{port}")
    with pytest.raises(
        EvidenceUnavailable, match=re.escape(f"INCIDENTFLOW_LOKI_URL=http://127.0.0.1:{port}")
    ):
        source.logs(services=["payments"], start=START, end=END)
    with pytest.raises(ConfigError, match="INCIDENTFLOW_LOKI_URL"):
        LokiSource("loki:3100")
    with pytest.raises(ConfigError, match=r"has no \{service\}"):
        LokiSource("http://loki:3100", template='{app="payments"}')
    assert logql('{service="{service}"}', 'we"ird\\') == '{service="we\\"ird\\\\"}'
    assert level_of({}, {}, "Traceback (most recent call last)") is LogLevel.ERROR
    assert level_of({"detected_level": "WARN"}, {"level": "info"}, "x") is LogLevel.WARNING


CHANGES = [
    {
        "id": "chg-2150",
        "service": "payments",
        "kind": "deploy",
        "at": "2026-03-14T13:55:00Z",
        "before": "v2.14.0",
        "after": "v2.15.0",
        "author": "argocd",
        "description": "move tokenisation to SDK 5",
        "link": "https://deploys.example/2150",
    },
    {
        "id": "chg-flag-9",
        "service": "payments",
        "kind": "feature_flag",
        "at": "2026-03-14T13:40:00Z",
        "before": "off",
        "after": "on",
    },
    # The endpoint ignores the parameters: these must still be filtered out here.
    {
        "id": "old",
        "service": "payments",
        "kind": "config",
        "at": "2026-03-13T00:00:00Z",
        "before": "a",
        "after": "b",
    },
    {
        "id": "other",
        "service": "search",
        "kind": "config",
        "at": "2026-03-14T13:50:00Z",
        "before": "a",
        "after": "b",
    },
]


def test_http_changelog_sends_service_window_and_token() -> None:
    with serve(Peer(changes=CHANGES)) as peer:
        source = HttpChangeLog(f"{peer.url}/v1/changes", token=SecretStr("s3cret"))
        found = source.changes(services=["payments", "checkout"], start=START, end=END)

    assert [p["service"] for p in peer.params] == ["payments", "checkout"]
    assert all(path == "/v1/changes" for path, _, _ in peer.requests)
    first = peer.params[0]
    assert datetime.fromisoformat(first["start"]) == START
    assert datetime.fromisoformat(first["end"]) == END
    assert all(h["Authorization"] == "Bearer s3cret" for _, _, h in peer.requests)
    assert [(c.id, c.kind) for c in found] == [
        ("chg-flag-9", ChangeKind.FEATURE_FLAG),
        ("chg-2150", ChangeKind.DEPLOY),
    ]
    assert found[1].link == "https://deploys.example/2150"
    assert found[0].link is not None and found[0].link.endswith("#chg-flag-9")
    assert found[0].author == "unknown"


@pytest.mark.parametrize(
    ("mode", "changes", "error", "names"),
    [
        ("500", CHANGES, EvidenceUnavailable, "answered 500"),
        ("401", CHANGES, ConfigError, "INCIDENTFLOW_CHANGELOG_TOKEN"),
        ("garbage", CHANGES, EvidenceUnavailable, "sent no JSON"),
        ("not-a-list", CHANGES, EvidenceUnavailable, "not a list"),
        ("ok", [{"id": "x", "service": "payments"}], EvidenceUnavailable, "does not fit"),
        ("slow", CHANGES, EvidenceUnavailable, "did not answer"),
    ],
)
def test_http_changelog_failures_are_clear_errors(
    mode: str, changes: list[dict[str, str]], error: type[Exception], names: str
) -> None:
    with serve(Peer(mode=mode, changes=changes)) as peer:
        source = HttpChangeLog(peer.url, timeout_s=0.3)
        with pytest.raises(error, match=names) as caught:
            source.changes(services=["payments"], start=START, end=END)
    assert f"INCIDENTFLOW_CHANGELOG_URL={peer.url}" in str(caught.value)


def test_nothing_is_enabled_by_default_and_each_setting_enables_one_source() -> None:
    assert evidence_sources(SourceSettings()) == []
    # Unreachable addresses: building the sources must not contact them.
    sources = evidence_sources(
        SourceSettings().replace(
            dict(
                loki_url="http://127.0.0.1:9",
                changelog_url="http://127.0.0.1:9/changes",
                changelog_token=SecretStr("t"),
                kubectl_changes=True,
                kubectl_binary="/nonexistent/kubectl",
            )
        )
    )
    assert [type(s) for s in sources] == [LokiSource, HttpChangeLog, KubectlChangeLog]
    assert [s.name for s in sources] == ["loki", "changelog", "kubernetes"]
    with pytest.raises(ConfigError, match="INCIDENTFLOW_CHANGELOG_URL"):
        evidence_sources(SourceSettings().replace(dict(changelog_url="changes.internal")))
