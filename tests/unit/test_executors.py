"""Executors against real local peers: a recording kubectl, a loopback receiver, scripts."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from fakes import Receiver, install_fake_kubectl, kubectl_calls, kubectl_state

from incidentflow.errors import ConfigError, ExecutorFailed, ExecutorUnavailable
from incidentflow.executors import build_executors
from incidentflow.executors.http import HttpExecutor, sign
from incidentflow.executors.kubectl import KubectlExecutor
from incidentflow.executors.script import ScriptExecutor
from incidentflow.models import (
    FeatureFlagParams,
    RestartParams,
    RollbackParams,
    RunbookScriptParams,
    ScaleParams,
)
from incidentflow.settings import ExecutorSettings


def test_kubectl_reads_state_first_so_a_repeat_is_harmless(tmp_path: Path) -> None:
    # No cluster is reachable here: a recording kubectl stands in (tests/integration/fakes.py).
    fake = install_fake_kubectl(tmp_path, {"p": {"images": ["p:v1", "p:v2"], "replicas": 3}})
    ex = KubectlExecutor(binary=str(fake), kubeconfig=tmp_path / "kubeconfig", timeout=10)
    rb = RollbackParams(service="p", from_version="v2", to_version="v1")
    ex.apply(rb, key="k:do")
    assert "already runs" in ex.apply(rb, key="k:do")
    assert sum(c.startswith("rollout undo") for c in kubectl_calls(fake)) == 1
    ex.apply(RestartParams(service="p"), key="r:do")
    assert "already restarted" in ex.apply(RestartParams(service="p"), key="r:do")
    ex.apply(ScaleParams(service="p", from_replicas=3, to_replicas=6), key="s:do")
    assert "already has 6" in ex.apply(
        ScaleParams(service="p", from_replicas=3, to_replicas=6), key="s:do"
    )
    dep = kubectl_state(fake)["deployments"]["p"]
    assert (dep["images"][-1], dep.get("restarts"), dep["replicas"]) == ("p:v1", 1, 6)
    assert ex.describe(rb, key="k")[0].startswith(f"{fake} --kubeconfig {tmp_path}")


def test_http_signs_and_sends_the_idempotency_key() -> None:
    with Receiver(secret=b"k") as rx:
        ex = HttpExecutor(url=rx.url, secret=b"k", timeout=5)
        params = FeatureFlagParams(flag="new-checkout", from_value=True, to_value=False)
        ex.apply(params, key="a:do")
        ex.apply(params, key="a:do")
        assert rx.bad_signatures == 0 and len(rx.requests) == 2 and list(rx.effects) == ["a:do"]
        with pytest.raises(ExecutorFailed, match="401"):
            HttpExecutor(url=rx.url, secret=b"wrong", timeout=5).apply(params, key="b:do")
    assert sign(b"k", b"{}").startswith("sha256=")


def test_script_runs_only_allow_listed_scripts_with_typed_args(tmp_path: Path) -> None:
    script = tmp_path / "flush.sh"
    script.write_text('#!/bin/sh\necho "args: $* key: $INCIDENTFLOW_ACTION_KEY"\n')
    script.chmod(0o755)
    ex = ScriptExecutor(directory=tmp_path, timeout=5, lock_dir=tmp_path / "locks")
    out = ex.apply(
        RunbookScriptParams(script="flush.sh", args={"zone": "a b", "n": 2, "force": True}),
        key="x:do",
    )
    assert out.strip() == "args: --force=true --n=2 --zone=a b key: x:do"
    with pytest.raises(ExecutorFailed, match="missing or not executable"):
        ex.apply(RunbookScriptParams(script="nope.sh"), key="y")
    slow = tmp_path / "slow.sh"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    with pytest.raises(ExecutorFailed, match="timed out"):
        ScriptExecutor(directory=tmp_path, timeout=0.5, lock_dir=tmp_path / "locks").apply(
            RunbookScriptParams(script="slow.sh"), key="z"
        )


def test_script_learns_it_resumes_and_runs_of_one_key_never_overlap(tmp_path: Path) -> None:
    script = tmp_path / "act.sh"
    # Leaves a child behind that holds the inherited lock descriptor for 1.5 s, as a script
    # still running after its worker was killed would.
    script.write_text(
        "#!/bin/sh\n"
        'echo "attempt=$INCIDENTFLOW_ACTION_ATTEMPT resumed=$INCIDENTFLOW_ACTION_RESUMED"\n'
        "sleep 1.5 >/dev/null 2>&1 &\n"
    )
    script.chmod(0o755)
    ex = ScriptExecutor(directory=tmp_path, timeout=10, lock_dir=tmp_path / "locks")
    params = RunbookScriptParams(script="act.sh")
    assert ex.apply(params, key="k:do").strip() == "attempt=1 resumed=0"
    started = time.monotonic()
    assert ex.apply(params, key="k:do", attempt=2).strip() == "attempt=2 resumed=1"
    assert time.monotonic() - started >= 1.0, "the second run waited for the first's lock"
    started = time.monotonic()
    ex.apply(params, key="other:do")
    assert time.monotonic() - started < 1.0, "another key does not wait"
    with pytest.raises(ExecutorUnavailable, match="still running"):
        ScriptExecutor(directory=tmp_path, timeout=0.3, lock_dir=tmp_path / "locks").apply(
            params, key="other:do"
        )


def test_dry_run_is_default_and_config_errors_name_the_variable(tmp_path: Path) -> None:
    ex = build_executors(ExecutorSettings(), lock_dir=tmp_path)
    assert ex.names == []
    dry = ex.for_params(RollbackParams(service="p", from_version="v2", to_version="v1"))
    assert dry.dry_run and "rollout undo" in " ".join(
        dry.describe(RollbackParams(service="p", from_version="v2", to_version="v1"), key="k")
    )
    with pytest.raises(ConfigError, match="INCIDENTFLOW_EXECUTOR_HTTP_URL"):
        build_executors(ExecutorSettings(executor="http"), lock_dir=tmp_path)
    with pytest.raises(ConfigError, match="HTTP_SECRET"):
        build_executors(
            ExecutorSettings(executor="http", executor_http_url="http://127.0.0.1:9"),
            lock_dir=tmp_path,
        )
    with pytest.raises(ConfigError, match="unknown ssh"):
        build_executors(ExecutorSettings(executor="ssh"), lock_dir=tmp_path)
    only_k = build_executors(ExecutorSettings(executor="kubectl"), lock_dir=tmp_path)
    with pytest.raises(ExecutorFailed, match="needs the http executor"):
        only_k.for_params(FeatureFlagParams(flag="f", from_value=True, to_value=False))
