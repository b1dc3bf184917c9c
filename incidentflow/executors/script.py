"""The script executor: runbook scripts from one allow-listed directory, typed arguments.

No shell: each argument is one argv element `--name=value`. The script's environment says
which action this is and whether an earlier run may have acted (docs/remediation.md, "What a
runbook script must do"):

- INCIDENTFLOW_ACTION_KEY: the same on every run of one action (or its undo);
- INCIDENTFLOW_ACTION_ATTEMPT: 1, 2, ...; INCIDENTFLOW_ACTION_RESUMED: "1" when an earlier
  run started and its result was never recorded (the worker died), else "0".

Runs of one key never overlap: the executor holds a lock per key for the script's whole life
and hands it to the script (an inherited descriptor), so a script still running after its
worker was killed keeps the retry waiting until it has finished.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

from incidentflow.errors import ExecutorFailed, ExecutorUnavailable
from incidentflow.models import ActionParams, RunbookScriptParams

ARG_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_OUTPUT = 4000
# How often a run waiting for an earlier run's lock looks again.
LOCK_POLL_S = 0.2


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

    def __init__(self, *, directory: Path, timeout: float, lock_dir: Path) -> None:
        self._dir = directory
        self._timeout = timeout
        self._locks = lock_dir

    def describe(self, params: ActionParams, *, key: str) -> list[str]:
        return [shlex.join(script_argv(self._dir, params))]

    def apply(self, params: ActionParams, *, key: str, attempt: int = 1) -> str:
        argv = script_argv(self._dir, params)
        if not os.access(argv[0], os.X_OK):
            raise ExecutorFailed(f"runbook {argv[0]} is missing or not executable")
        env = {
            "PATH": os.defpath,
            "INCIDENTFLOW_ACTION_KEY": key,
            "INCIDENTFLOW_ACTION_ATTEMPT": str(attempt),
            "INCIDENTFLOW_ACTION_RESUMED": "1" if attempt > 1 else "0",
        }
        lock = self._lock(key)
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self._timeout,
                env=env,
                cwd=self._dir,
                check=False,
                pass_fds=(lock,),
            )
        except subprocess.TimeoutExpired as err:
            raise ExecutorFailed(f"{shlex.join(argv)} timed out after {self._timeout} s") from err
        finally:
            os.close(lock)
        output = (done.stdout + done.stderr)[-MAX_OUTPUT:]
        if done.returncode != 0:
            raise ExecutorFailed(f"{shlex.join(argv)} exited {done.returncode}: {output[-500:]}")
        return output

    def _lock(self, key: str) -> int:
        """An open descriptor holding `key`'s lock; waits for an earlier run to finish."""
        self._locks.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock"
        fd = os.open(self._locks / name, os.O_CREAT | os.O_RDWR, 0o600)
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    # Retryable: the earlier run (of a worker that died) may still finish.
                    raise ExecutorUnavailable(
                        f"an earlier run of {key} is still running; trying again later"
                    ) from None
                time.sleep(LOCK_POLL_S)
