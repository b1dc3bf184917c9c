"""Every command's user mistakes are one line on stderr and exit code 1, never a traceback.

Driven in-process through `incidentflow.cli.run` (what the `incidentflow` script runs before
it exits) against the session's real dev server, so each error comes from the real path.
"""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import pytest

from incidentflow.cli import run
from incidentflow.cli.identity import logged_in_user, who
from incidentflow.errors import BadInput
from incidentflow.temporal import DevServer, free_port

UNKNOWN = "INC-20000101-abcdef"


@pytest.fixture
def env(dev_server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("INCIDENTFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("INCIDENTFLOW_TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("INCIDENTFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INCIDENTFLOW_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    params = {"action": {"params": {"kind": "restart", "service": "cart"}}}
    (tmp_path / "params.json").write_text(json.dumps(params))
    return tmp_path


def mistakes(tmp: Path) -> list[list[str]]:
    """At least one wrong use of every command."""
    bad = str(tmp / "bad.json")
    return [
        ["no-such-command"],
        ["show"],
        ["show", UNKNOWN],
        ["incidents", "--limit", "many"],
        ["postmortem", UNKNOWN],
        ["approve", UNKNOWN, "--yes"],
        ["approve", UNKNOWN, "--by", "alice", "--yes"],
        ["reject", UNKNOWN],
        ["reject", UNKNOWN, "--by", "alice", "--reason", "no"],
        *([name, UNKNOWN] for name in ("pause", "resume", "escalate", "resolve")),
        ["note", UNKNOWN],
        ["note", UNKNOWN, "--text", "hi"],
        ["assign", UNKNOWN],
        ["assign", UNKNOWN, "--to", "bob"],
        ["retry", UNKNOWN, "nowhere"],
        ["retry", UNKNOWN, "investigation"],
        ["skip", UNKNOWN, "planning"],
        ["override", UNKNOWN, "planning", bad],
        ["override", UNKNOWN, "planning", str(tmp / "missing.json")],
        ["override", UNKNOWN, "planning", str(tmp / "params.json")],
        ["merge", UNKNOWN],
        ["merge", UNKNOWN, "INC-20000101-fedcba"],
        ["split", UNKNOWN],
        ["split", UNKNOWN, "--alert", "fp-1"],
        ["alert", "send", bad],
        ["alert", "send", str(tmp / "missing.json"), "--source", "grafana"],
        ["demo", "--timeout", "soon"],
        ["eval", str(tmp / "nowhere")],
    ]


def test_every_command_error_is_one_line_and_exit_1(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in mistakes(env):
        code = run(argv)
        out, err = capsys.readouterr()
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1, (argv, out, err)
        assert len(lines) == 1 and lines[0].startswith("incidentflow: "), (argv, err)
        assert "Traceback" not in out + err, (argv, err)


def test_a_bad_setting_is_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["INCIDENTFLOW_APPROVAL_TIMEOUT_SECONDS"] = "soon"
    try:
        assert run(["incidents"]) == 1
    finally:
        del os.environ["INCIDENTFLOW_APPROVAL_TIMEOUT_SECONDS"]
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "approval_timeout_seconds" in err


def test_by_defaults_to_the_logged_in_user_from_the_os(monkeypatch: pytest.MonkeyPatch) -> None:
    # Root in tmux: no login name on the terminal and $USER empty; the account still names us.
    def no_terminal() -> str:
        raise OSError("no controlling terminal")

    monkeypatch.setattr(os, "getlogin", no_terminal)
    monkeypatch.setenv("USER", "")
    assert who(None) == pwd.getpwuid(os.getuid()).pw_name
    assert who("  ") == logged_in_user()
    assert who(" alice ") == "alice"

    def no_account(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    monkeypatch.setattr(pwd, "getpwuid", no_account)
    for var in ("USER", "LOGNAME", "USERNAME"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(BadInput, match="pass --by NAME"):
        who(None)


def test_no_user_at_all_is_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("incidentflow.cli.identity.logged_in_user", lambda: None)
    assert run(["approve", UNKNOWN, "--yes"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "incidentflow: no logged-in user could be found: pass --by NAME (who is recorded)"
    )
    assert json.dumps(err)  # printable, one line


def test_up_with_a_bad_template_stops_before_starting_anything(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INCIDENTFLOW_LOKI_URL", "http://127.0.0.1:3100")
    monkeypatch.setenv("INCIDENTFLOW_LOKI_QUERY_TEMPLATE", '{app="{svc}"}')
    monkeypatch.setenv("INCIDENTFLOW_WEBHOOK_PORT", str(free_port()))
    assert run(["up"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("incidentflow: INCIDENTFLOW_LOKI_QUERY_TEMPLATE: unknown placeholder")
    assert len(err.splitlines()) == 1
