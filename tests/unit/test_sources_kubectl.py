"""Rollout history through kubectl, and the investigation citing live Loki and kubectl evidence.

No cluster is reachable from the tests: a RECORDING `kubectl` script (`live_peers.py`) is put
first on PATH; it logs the argv it was called with and prints canned
`kubectl get replicasets -o json` output. Loki is a loopback peer speaking `query_range`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from live_peers import LokiLine, Peer, install_kubectl, kubectl_calls, replicaset, serve

from incidentflow.agents.investigation import investigate
from incidentflow.context import build_context
from incidentflow.errors import ConfigError, EvidenceUnavailable
from incidentflow.evidence import ChangeKind
from incidentflow.models import (
    Alert,
    AlertStatus,
    EvidenceKind,
    Incident,
    InvestigationInput,
    Severity,
)
from incidentflow.settings import Settings
from incidentflow.sources.kubectl import KubectlChangeLog, image_tag

T0 = datetime(2026, 3, 14, 14, 0, tzinfo=UTC)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _history() -> dict[str, object]:
    rollback = {"deployment.kubernetes.io/revision-history": "1"}
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            replicaset(
                "payments",
                2,
                "reg.local:5000/shop/payments:v2.15.0",
                _iso(T0 - timedelta(minutes=5)),
            ),
            replicaset(
                "payments", 1, "reg.local:5000/shop/payments:v2.14.0", _iso(T0 - timedelta(days=3))
            ),
            # cart rolled back to its first ReplicaSet: revision 3, created days ago.
            replicaset("cart", 2, "cart:1.1", _iso(T0 - timedelta(days=1))),
            replicaset(
                "cart",
                3,
                "cart:1.0",
                _iso(T0 - timedelta(days=2)),
                extra_annotations=rollback,
                written=_iso(T0 - timedelta(minutes=20)),
            ),
            {"metadata": {"name": "orphan", "labels": {"app": "payments"}}},  # no revision
        ],
    }


@pytest.fixture
def kubectl_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The recording kubectl, first on PATH."""
    folder = install_kubectl(tmp_path / "bin", {"output": _history()})
    monkeypatch.setenv("PATH", f"{folder}:{Path('/usr/bin')}:{Path('/bin')}")
    return folder


def test_replicasets_become_deploys_with_images_before_and_after(
    kubectl_dir: Path, tmp_path: Path
) -> None:
    source = KubectlChangeLog(
        namespace="shop", kubeconfig=tmp_path / "ro.kubeconfig", context="prod-eu"
    )
    found = source.changes(
        services=["payments", "cart", "bad name!"], start=T0 - timedelta(hours=6), end=T0
    )
    assert kubectl_calls(kubectl_dir) == [
        [
            "--kubeconfig",
            str(tmp_path / "ro.kubeconfig"),
            "--context",
            "prod-eu",
            "get",
            "replicasets",
            "-n",
            "shop",
            "-l",
            "app in (cart,payments)",
            "-o",
            "json",
        ]
    ]
    got = [(c.service, c.kind, c.before, c.after, c.at) for c in found]
    assert got == [
        ("cart", ChangeKind.DEPLOY, "1.1", "1.0", T0 - timedelta(minutes=20)),
        ("payments", ChangeKind.DEPLOY, "v2.14.0", "v2.15.0", T0 - timedelta(minutes=5)),
    ]
    assert found[0].id == "k8s-shop-cart-r3" and "rollback" in found[0].description
    assert (
        found[1].link == "k8s://prod-eu/apis/apps/v1/namespaces/shop/replicasets/payments-0002abc"
    )
    assert "reg.local:5000/shop/payments:v2.14.0 -> reg.local:5000/shop/payments:v2.15.0" in (
        found[1].description
    )
    # The first revision is outside this window; in a wider one it is a deploy from nothing.
    wide = source.changes(services=["payments"], start=T0 - timedelta(days=4), end=T0)
    assert [(c.before, c.after) for c in wide] == [("none", "v2.14.0"), ("v2.14.0", "v2.15.0")]
    assert source.changes(services=["bad name!"], start=T0, end=T0) == []
    assert len(kubectl_calls(kubectl_dir)) == 2  # no call for names no label can hold
    assert image_tag("reg.local:5000/payments") == "latest"
    assert image_tag("payments@sha256:ab") == "sha256:ab"


@pytest.mark.parametrize(
    ("canned", "error", "names"),
    [
        (
            {"exit": 1, "stderr": 'error: context "prod-eu" does not exist'},
            EvidenceUnavailable,
            'exited 1: error: context "prod-eu" does not exist',
        ),
        ({"stdout": "not json"}, EvidenceUnavailable, "printed no list"),
        (
            {
                "output": {
                    "items": [
                        {
                            "metadata": {
                                "annotations": {"deployment.kubernetes.io/revision": "x"},
                                "labels": {"app": "payments"},
                            }
                        }
                    ]
                }
            },
            EvidenceUnavailable,
            "does not fit",
        ),
        ({"sleep": 5, "output": {"items": []}}, EvidenceUnavailable, "took over 0.5s"),
    ],
)
def test_kubectl_failures_are_clear_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    canned: dict[str, object],
    error: type[Exception],
    names: str,
) -> None:
    folder = install_kubectl(tmp_path / "bin", canned)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    source = KubectlChangeLog(context="prod-eu", timeout_s=0.5)
    with pytest.raises(error, match=names):
        source.changes(services=["payments"], start=T0 - timedelta(hours=1), end=T0)
    assert len(kubectl_calls(folder)) == 1


def test_missing_kubectl_names_the_setting() -> None:
    source = KubectlChangeLog(binary="/nonexistent/kubectl")
    with pytest.raises(ConfigError, match="INCIDENTFLOW_KUBECTL_BINARY='/nonexistent/kubectl'"):
        source.changes(services=["payments"], start=T0 - timedelta(hours=1), end=T0)


def _loki_lines() -> list[LokiLine]:
    """An hour of quiet baseline, then payments fails on v2.15.0 and checkout blames it."""
    quiet = [
        LokiLine("payments", T0 - timedelta(minutes=m), "WARN card issuer slow, retrying")
        for m in (55, 40, 25)
    ]
    failing = [
        LokiLine(
            "payments",
            T0 + timedelta(seconds=20 * i),
            json.dumps(
                {
                    "level": "error",
                    "msg": f"tokenise failed: SDK5 NullPointerException request {i}",
                    "service.version": "v2.15.0",
                }
            ),
        )
        for i in range(8)
    ]
    blaming = [
        LokiLine(
            "checkout",
            T0 + timedelta(seconds=20 * i + 5),
            f"ERROR timeout calling payments after 2000ms order {i}",
            {"level": "error"},
        )
        for i in range(8)
    ]
    return [*quiet, *failing, *blaming]


def test_investigation_cites_loki_and_kubectl_evidence(kubectl_dir: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "services:\n  - {name: checkout, depends_on: [payments]}\n  - {name: payments}\n"
    )
    with serve(Peer(lines=_loki_lines())) as loki:
        settings = Settings().replace(
            dict(
                catalog_path=catalog,
                loki_url=loki.url,
                loki_grafana_url="http://grafana.test",
                kubectl_changes=True,
                kubectl_namespace="shop",
            )
        )
        ctx = build_context(settings)  # no bundle: live sources only
        alert = Alert(
            fingerprint="loki-1",
            source="alertmanager",
            name="HighErrorRate",
            status=AlertStatus.FIRING,
            labels={"alertname": "HighErrorRate", "service": "checkout"},
            starts_at=T0 + timedelta(minutes=1),
        )
        incident = Incident(
            id="INC-loki-1",
            environment="test",
            title="checkout errors",
            severity=Severity.CRITICAL,
            origin_service="checkout",
            services=["checkout"],
            alerts=[alert],
            opened_at=alert.starts_at,
        )
        inv = investigate(
            InvestigationInput(incident=incident), ctx.graph, ctx.evidence, ctx.investigation
        )

    asked = {p["query"] for p in loki.params}
    assert asked == {
        f'{{service="{s}"}} |~ "(?i)error|exception|timeout|fatal|panic|warn"'
        for s in ("checkout", "payments")
    }
    top = inv.top
    assert top is not None and top.service == "payments"
    evidence = {e.id: e for e in inv.evidence}
    log = evidence["ev-log-payments-1"]
    assert log.id in top.evidence_ids
    assert log.kind is EvidenceKind.LOG and "loki" in log.source.split("+")
    assert "SDK5 NullPointerException" in log.finding and "v2.15.0" in log.finding
    link = urlparse(log.link or "")
    assert link.netloc == "grafana.test"
    pane = json.loads(unquote(parse_qs(link.query)["panes"][0]))["incidentflow"]
    assert 'service="payments"' in pane["queries"][0]["expr"]
    change = evidence["ev-change-k8s-shop-payments-r2"]
    assert change.id in top.evidence_ids
    assert change.attributes["after"] == "v2.15.0" and (change.link or "").startswith("k8s://")
    assert kubectl_calls(kubectl_dir)[0][-4:] == ["-l", "app in (checkout,payments)", "-o", "json"]
