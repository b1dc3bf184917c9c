"""The script executor: runbook scripts from one allow-listed directory, typed arguments.

No shell: each argument is one argv element `--name=value`. The action's idempotency key is in
the script's environment (INCIDENTFLOW_ACTION_KEY) so a script can make a repeat harmless.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from incidentflow.errors import ExecutorFailed
from incidentflow.models import ActionParams, RunbookScriptParams

ARG_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_OUTPUT = 4000


def script_argv(directory: Path, params: ActionParams, *, resolve: bool = True) -> list[str]:
    """The argv for a runbook action; refuses names outside the directory and odd arguments."""
    if not isinstance(params, RunbookScriptParams):
        raise ExecutorFailed(f"the script executor cannot run action kind {params.kind}")
    root = directory.resolve() if resolve else directory
    path = (root / params.script).resolve() if resolve else root / params.script
    if path.parent != root:
        raise ExecutorFailed(f"runbook {params.script!r} is not directly in {root}")
    argv = [str(path)]
    for name, value in sorted(params.args.items()):
        if not ARG_NAME.match(name):
            raise ExecutorFailed(f"runbook argument name {name!r} is not allowed")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        argv.append(f"--{name}={text}")
    return argv


class ScriptExecutor:
    """Runs allow-listed runbook scripts with a timeout, capturing their output."""

    name = "script"
    dry_run = False

    def __init__(self, *, directory: Path, timeout: float) -> None:
        self._dir = directory
        self._timeout = timeout

    def describe(self, params: ActionParams, *, key: str) -> list[str]:
        return [shlex.join(script_argv(self._dir, params))]

    def apply(self, params: ActionParams, *, key: str) -> str:
        argv = script_argv(self._dir, params)
        if not os.access(argv[0], os.X_OK):
            raise ExecutorFailed(f"runbook {argv[0]} is missing or not executable")
        env = {"PATH": os.defpath, "INCIDENTFLOW_ACTION_KEY": key}
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self._timeout,
                env=env,
                cwd=self._dir,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise ExecutorFailed(f"{shlex.join(argv)} timed out after {self._timeout} s") from err
        output = (done.stdout + done.stderr)[-MAX_OUTPUT:]
        if done.returncode != 0:
            raise ExecutorFailed(f"{shlex.join(argv)} exited {done.returncode}: {output[-500:]}")
        return output
