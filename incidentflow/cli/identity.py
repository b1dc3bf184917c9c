"""Who is at the keyboard: `--by` defaults to the logged-in user, read from the OS.

`$USER` is empty in some shells (root in tmux, cron, containers), so the OS is asked first:
the terminal's login name, then the account of this process; the environment comes last.
"""

from __future__ import annotations

import os
import pwd

from incidentflow.errors import BadInput

BY_HELP = "Who does it (recorded); default: the logged-in user."


def logged_in_user() -> str | None:
    """The logged-in user's name, or None when neither the OS nor the environment knows it."""
    try:
        name = os.getlogin()
        if name.strip():
            return name.strip()
    except OSError:
        pass  # no controlling terminal (tmux, cron, a container): ask the account database
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
        if name.strip():
            return name.strip()
    except KeyError:
        pass  # a uid with no passwd entry (some containers)
    for var in ("USER", "LOGNAME", "USERNAME"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return None


def who(by: str | None) -> str:
    """`--by` as given, else the logged-in user; one-line BadInput when there is neither."""
    if by is not None and by.strip():
        return by.strip()
    found = logged_in_user()
    if found is None:
        raise BadInput("no logged-in user could be found: pass --by NAME (who is recorded)")
    return found
