"""The kubectl executor: rollout undo, restart, scale, and the kinds in `kubectl_kinds.py`
(config revert, object revert, resources, HPA bounds, node drain); it reads state before acting.

Reading first makes a repeat harmless: a retry after a crash finds the deployment already as
the action wants it and does nothing.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from incidentflow.errors import ExecutorFailed
from incidentflow.executors.kubectl_kinds import KubePlan, Step, kube_plan
from incidentflow.models import ActionParams, RestartParams, RollbackParams, ScaleParams

IMAGE = "jsonpath={.spec.template.spec.containers[0].image}"
REPLICAS = "jsonpath={.spec.replicas}"
# The last action key is kept on the deployment so a repeated restart is recognised.
ACTION_ANNOTATION = "incidentflow.io/last-action"
LAST_ACTION = "jsonpath={.metadata.annotations.incidentflow\\.io/last-action}"
ROLLOUT_TIMEOUT = "--timeout=5m"
MAX_OUTPUT = 4000


def kubectl_plan(params: ActionParams, key: str) -> list[list[str]]:
    """The kubectl argument lists an action may run, reads first (what dry-run reports)."""
    match params:
        case RollbackParams(service=svc):
            dep = f"deployment/{svc}"
            return [
                ["get", dep, "-o", IMAGE],
                ["rollout", "undo", dep],
                ["rollout", "status", dep, ROLLOUT_TIMEOUT],
                ["get", dep, "-o", IMAGE],
            ]
        case RestartParams(service=svc):
            dep = f"deployment/{svc}"
            return [
                ["get", dep, "-o", LAST_ACTION],
                ["rollout", "restart", dep],
                ["annotate", dep, f"{ACTION_ANNOTATION}={key}", "--overwrite"],
                ["rollout", "status", dep, ROLLOUT_TIMEOUT],
            ]
        case ScaleParams(service=svc, to_replicas=n):
            dep = f"deployment/{svc}"
            return [["get", dep, "-o", REPLICAS], ["scale", dep, f"--replicas={n}"]]
    found = kube_plan(params)
    if found is not None:
        return [found.read.args, *(step.args for step in found.steps)]
    raise ExecutorFailed(f"the kubectl executor cannot run action kind {params.kind}")


class KubectlExecutor:
    """Runs kubectl with the remediation worker's kubeconfig (never from workflow input)."""

    name = "kubectl"
    dry_run = False

    def __init__(self, *, binary: str, kubeconfig: Path | None, timeout: float) -> None:
        self._binary = binary
        self._kubeconfig = kubeconfig
        self._timeout = timeout

    def command(self, args: list[str]) -> list[str]:
        """The full argv for one kubectl call."""
        config = ["--kubeconfig", str(self._kubeconfig)] if self._kubeconfig else []
        return [self._binary, *config, *args]

    def describe(self, params: ActionParams, *, key: str) -> list[str]:
        found = kube_plan(params)
        if found is not None:
            return [self._line(step) for step in [found.read, *found.steps]]
        lines = [shlex.join(self.command(args)) for args in kubectl_plan(params, key)]
        if isinstance(params, RollbackParams):
            # The read after the undo is the check: say what it must find.
            lines[-1] += f"  # expect {params.service}:{params.to_version}"
        return lines

    def _line(self, step: Step) -> str:
        line = shlex.join(self.command(step.args))
        if step.stdin is not None:
            # Exactly what goes in: the manifest as a here-document.
            line += f" <<'EOF'\n{step.stdin.rstrip()}\nEOF"
        return line

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        argv = self.command(args)
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self._timeout,
                check=False,
                input=stdin,
            )
        except FileNotFoundError as err:
            raise ExecutorFailed(
                f"{self._binary} not found: install kubectl or set INCIDENTFLOW_EXECUTOR_KUBECTL"
            ) from err
        except subprocess.TimeoutExpired as err:
            raise ExecutorFailed(f"{shlex.join(argv)} timed out after {self._timeout} s") from err
        if done.returncode != 0:
            raise ExecutorFailed(
                f"{shlex.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}"
            )
        return done.stdout.strip()

    def _apply_plan(self, plan: KubePlan, what: str) -> str:
        now = self._run(plan.read.args)
        if plan.want is not None and now == plan.want:
            return f"{what} already as wanted ({now or 'absent'}); nothing to do"
        out = [self._run(step.args, step.stdin) for step in plan.steps]
        return "\n".join(out)[-MAX_OUTPUT:]

    def apply(self, params: ActionParams, *, key: str, attempt: int = 1) -> str:
        found = kube_plan(params)
        if found is not None:
            return self._apply_plan(found, params.kind)
        steps = kubectl_plan(params, key)
        match params:
            case RollbackParams(service=svc, to_version=want):
                image = self._run(steps[0])
                if image.endswith(f":{want}"):
                    return f"{svc} already runs {image}; nothing to do"
                out = [self._run(steps[1]), self._run(steps[2])]
                now = self._run(steps[3])
                if not now.endswith(f":{want}"):
                    raise ExecutorFailed(
                        f"rollout undo left {svc} on {now}, not {want}: roll it by hand"
                    )
                return "\n".join([*out, f"{svc} now runs {now}"])[-MAX_OUTPUT:]
            case RestartParams(service=svc):
                if self._run(steps[0]) == key:
                    return f"{svc} was already restarted for {key}; nothing to do"
                out = [self._run(args) for args in steps[1:]]
                return "\n".join(out)[-MAX_OUTPUT:]
            case ScaleParams(service=svc, to_replicas=n):
                if self._run(steps[0]) == str(n):
                    return f"{svc} already has {n} replicas; nothing to do"
                return self._run(steps[1])[-MAX_OUTPUT:]
        raise ExecutorFailed(f"the kubectl executor cannot run action kind {params.kind}")
