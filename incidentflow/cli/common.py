"""What every command shares: one-line failures, the async entry point, settings.

Its own module so that command modules import it without importing the `cli` group (which
imports them to register their commands): the CLI has no import cycle.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec

from pydantic import ValidationError

from incidentflow.cli.output import echo
from incidentflow.errors import IncidentFlowError
from incidentflow.settings import Settings
from incidentflow.visible import one_line

P = ParamSpec("P")


def fail(message: str) -> None:
    """Print one line to stderr and exit 1."""
    echo(f"incidentflow: {one_line(message)}", err=True)
    sys.exit(1)


async def _interruptible(work: Coroutine[Any, Any, None]) -> None:
    """Run `work`; SIGINT or SIGTERM cancels it, so `finally` blocks stop what it started.

    Without this, SIGTERM (systemd, docker, kill) would end `up` at once and orphan the dev
    server and the worker processes, which run in their own sessions.
    """
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
    await work


def run_async(fn: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async command; IncidentFlowError becomes one line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            asyncio.run(_interruptible(fn(*args, **kwargs)))
        except (KeyboardInterrupt, asyncio.CancelledError):
            echo("stopped", err=True)
            sys.exit(130)
        except IncidentFlowError as err:
            fail(str(err))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "input"
            fail(f"{where}: {first['msg']}")

    return wrapper


def settings() -> Settings:
    """Settings from the environment, or one line naming the bad variable."""
    try:
        return Settings()
    except ValueError as err:
        fail(f"bad configuration: {err}".replace("\n", " "))
        raise
