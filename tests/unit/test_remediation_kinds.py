"""Issue 18 item 1 and issue 17 item 3: the kinds that take back a change or adjust capacity.

Each kind's text, risk, verification and undo come from its params; its bounds hold; dry-run
records the exact kubectl commands; the kubectl executor (against a recording stand-in, no
cluster is reachable here) reads first, skips what is already done, and feeds manifests on
stdin.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from incidentflow.catalog import CATALOG
from incidentflow.executors import DryRunExecutor
from incidentflow.executors.kubectl import KubectlExecutor
from incidentflow.models import (
    ConfigRevertParams,
    HpaBoundsParams,
    InfraRevertParams,
    NodeDrainParams,
    ReleaseRollbackParams,
    ResourcesParams,
    Risk,
    RollbackParams,
)
from incidentflow.settings import Settings

POLICY = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n"

CONFIG = ConfigRevertParams(
    service="search",
    source="configmap",
    name="search-config",
    key="fuzzy.enabled",
    from_value="true",
    to_value="false",
)
DELETE_POLICY = InfraRevertParams(
    object_kind="NetworkPolicy",
    name="deny",
    namespace="shop",
    service="payments-db",
    from_manifest=POLICY,
    to_manifest=None,
)
RESOURCES = ResourcesParams(
    service="inventory",
    resource="memory",
    from_request="512Mi",
    to_request="1Gi",
    from_limit="1Gi",
    to_limit="2Gi",
)
HPA = HpaBoundsParams(service="reco", from_min=1, from_max=2, to_min=4, to_max=8)
NODE = NodeDrainParams(node="node-3")
RELEASE = ReleaseRollbackParams(
    service="cart", tool="argocd", release="cart", from_revision=12, to_revision=11
)


@pytest.mark.parametrize(
    ("params", "risk", "summary"),
    [
        (CONFIG, Risk.MEDIUM, "Revert configmap search-config key fuzzy.enabled from 'true' to"),
        (DELETE_POLICY, Risk.MEDIUM, "Delete NetworkPolicy/deny in shop, which the change created"),
        (
            RESOURCES,
            Risk.MEDIUM,
            "Set inventory's memory request 512Mi -> 1Gi and limit 1Gi -> 2Gi",
        ),
        (HPA, Risk.MEDIUM, "Set reco's autoscaler bounds from 1-2 to 4-8 replicas"),
        (NODE, Risk.HIGH, "Cordon and drain node node-3"),
        (RELEASE, Risk.MEDIUM, "Roll argocd release cart (cart) back from revision 12 to 11"),
    ],
)
def test_each_new_kind_is_generated_from_its_params_and_undoes_itself(
    params: object, risk: Risk, summary: str
) -> None:
    action = CATALOG.action(
        params,  # type: ignore[arg-type]
        incident_id="INC-20250603-abc123",
        n=1,
        alerts=["HighErrorRate"],
        window_seconds=600,
    )
    assert action.summary.startswith(summary) and action.risk is risk
    assert CATALOG.problems(action) == []
    # The undo of the undo is the action: every kind can be taken back exactly.
    undo_of_undo = CATALOG.describe(action.undo)[1]
    assert undo_of_undo == params
    assert "All alerts of INC-20250603-abc123 (HighErrorRate) resolve within 10 min" in (
        action.verify.description
    )


def test_the_words_an_approver_reads_are_the_catalogs_not_free_text() -> None:
    rb = RollbackParams(service="payments", from_version="v2", to_version="v1")
    action = CATALOG.action(rb, incident_id="INC-1", n=1, alerts=[], window_seconds=60)
    lying = action.model_copy(update={"summary": "Roll payments back (harmless)"})
    assert any("not free text" in p for p in CATALOG.problems(lying))
    # A person's override gives params; regenerate() writes the words and keeps raised risk.
    fixed = CATALOG.regenerate(lying.model_copy(update={"risk": Risk.HIGH}))
    assert fixed.summary == action.summary and fixed.risk is Risk.HIGH
    assert CATALOG.problems(fixed) == []
    # A Secret is never shown and needs two people.
    secret = CONFIG.model_copy(update={"source": "secret", "name": "db-creds"})
    shown = CATALOG.action(secret, incident_id="INC-1", n=1, alerts=[], window_seconds=60)
    assert "true" not in shown.summary and shown.risk is Risk.HIGH


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        (RESOURCES.model_copy(update={"to_limit": "8Gi"}), "at most 4x"),
        (RESOURCES.model_copy(update={"to_request": "4Gi", "to_limit": "2Gi"}), "exceed"),
        (RESOURCES.model_copy(update={"to_limit": "lots"}), "not a Kubernetes quantity"),
        (HPA.model_copy(update={"to_max": 9}), "at most 4x"),
        (HPA.model_copy(update={"to_min": 9}), "minReplicas may not exceed"),
        (CONFIG.model_copy(update={"to_value": "true"}), "must differ"),
        (DELETE_POLICY.model_copy(update={"from_manifest": None}), "nothing to revert"),
    ],
)
def test_bounds_are_the_catalogs(params: object, problem: str) -> None:
    action = CATALOG.action(
        params,  # type: ignore[arg-type]
        incident_id="INC-1",
        n=1,
        alerts=[],
        window_seconds=60,
    )
    assert any(problem in p for p in CATALOG.problems(action)), CATALOG.problems(action)


def test_dry_run_records_the_exact_kubectl_commands() -> None:
    dry = DryRunExecutor(Settings().executors)
    assert dry.describe(CONFIG, key="k") == [
        "kubectl get configmap/search-config -o 'jsonpath={.data.fuzzy\\.enabled}'",
        "kubectl patch configmap/search-config --type=merge -p "
        '\'{"data":{"fuzzy.enabled":"false"}}\'',
        "kubectl rollout restart deployment/search",
        "kubectl rollout status deployment/search --timeout=5m",
    ]
    assert dry.describe(DELETE_POLICY, key="k")[1] == (
        "kubectl delete NetworkPolicy/deny --ignore-not-found --wait=true -n shop"
    )
    restore = dry.describe(CATALOG.describe(DELETE_POLICY)[1], key="k")
    assert restore[1] == f"kubectl apply -f - -n shop <<'EOF'\n{POLICY.rstrip()}\nEOF"
    assert dry.describe(HPA, key="k")[1] == (
        'kubectl patch hpa/reco --type=merge -p \'{"spec":{"maxReplicas":8,"minReplicas":4}}\''
    )
    assert dry.describe(NODE, key="k")[1:] == [
        "kubectl cordon node-3",
        "kubectl drain node-3 --ignore-daemonsets --delete-emptydir-data --timeout=5m",
    ]
    assert dry.describe(CATALOG.describe(NODE)[1], key="k")[1] == "kubectl uncordon node-3"
    assert dry.describe(RESOURCES, key="k")[1] == (
        "kubectl set resources deployment/inventory --requests=memory=1Gi --limits=memory=2Gi"
    )
    # An http kind: the signed request the http executor would send.
    assert any("release_rollback" in line for line in dry.describe(RELEASE, key="k"))


RECORDER = r'''#!PYTHON
"""Records each call and its stdin; answers `get` from a JSON map of object -> value."""
import json, sys
from pathlib import Path

here = Path(__file__)
state_path, log_path = here.with_suffix(".json"), here.with_suffix(".log")
args = sys.argv[1:]
state = json.loads(state_path.read_text())
stdin = sys.stdin.read() if "-f" in args else ""
with log_path.open("a") as log:
    log.write(json.dumps({"args": args, "stdin": stdin}) + "\n")
if args[0] == "get":
    print(state.get(args[1], ""), end="")
elif args[0] == "delete":
    state[args[1]] = ""
elif args[0] == "patch" and args[1].startswith("hpa/"):
    spec = json.loads(args[4])["spec"]
    state[args[1]] = f"{spec['minReplicas']},{spec['maxReplicas']}"
state_path.write_text(json.dumps(state))
'''


def _recorder(tmp_path: Path, objects: dict[str, str]) -> Path:
    path = tmp_path / "kubectl"
    path.write_text(RECORDER.replace("PYTHON", sys.executable, 1))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    path.with_suffix(".json").write_text(json.dumps(objects))
    return path


def _calls(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.with_suffix(".log").read_text().splitlines()]


def test_kubectl_reads_first_skips_what_is_done_and_feeds_manifests(tmp_path: Path) -> None:
    fake = _recorder(tmp_path, {"NetworkPolicy/deny": "networkpolicy/deny", "hpa/reco": "1,2"})
    ex = KubectlExecutor(binary=str(fake), kubeconfig=None, timeout=10)
    ex.apply(DELETE_POLICY, key="a")
    assert "nothing to do" in ex.apply(DELETE_POLICY, key="a")
    ex.apply(HPA, key="b")
    assert "nothing to do" in ex.apply(HPA, key="b")
    ex.apply(CATALOG.describe(DELETE_POLICY)[1], key="c")  # the undo re-creates it
    calls = _calls(fake)
    acts = [c["args"][0] for c in calls if c["args"][0] != "get"]  # type: ignore[index]
    assert acts == ["delete", "patch", "apply"]
    assert calls[-1]["stdin"] == POLICY
