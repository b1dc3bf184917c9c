"""The console's frame and forms: the page shell, the login form, the decision panel.

Plain forms that POST with a per-session CSRF token; they work without JavaScript, and the tab
order is the reading order (no tabindex games), so a keyboard reaches every button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incidentflow.models import IncidentRecord, IncidentState
from incidentflow.web.text import text

if TYPE_CHECKING:
    from incidentflow.web.page import PlanRef, View

# The console's verbs, in the order the panel shows them (a subset of the decision API's).
PANEL_VERBS = ("approve", "reject", "pause", "resume", "assign", "note", "escalate", "resolve")
# Verbs whose body carries free text (the decision API's `reason` or `text`).
REASON_VERBS = frozenset({"approve", "reject"})
# verb -> (form field, its label, required): the field is the API body's `reason` or `text`.
FIELDS = {
    "reject": ("reason", "reason", True),
    "assign": ("text", "new owner", True),
    "note": ("text", "note", True),
    "escalate": ("text", "why", False),
    "resolve": ("text", "how", False),
}


def shell(title: str, body: str, *, identity: str = "", csrf: str = "") -> str:
    """A whole HTML document around `body`."""
    who = ""
    if identity:
        who = (
            f"<form method='post' action='/ui/logout' class='who'><span>{text(identity)}</span>"
            f"<input type='hidden' name='csrf' value='{text(csrf)}'>"
            "<button type='submit'>Log out</button></form>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{text(title)} · IncidentFlow</title>"
        "<link rel='stylesheet' href='/ui/static/console.css'></head><body>"
        "<a class='skip' href='#main'>Skip to content</a>"
        f"<nav class='top'><a href='/ui/' class='brand'>IncidentFlow</a>{who}</nav>"
        f"<main id='main'>{body}</main></body></html>"
    )


def login_page(*, error: str = "", next_url: str = "/ui/", oidc: bool = False) -> str:
    """The login form: a person's API token, or an OIDC token from the configured issuer."""
    hint = " or an ID token from your OIDC issuer" if oidc else ""
    problem = f"<p class='flash refused' role='alert'>{text(error)}</p>" if error else ""
    body = (
        f"<h1>Log in</h1>{problem}<form method='post' action='/ui/login' class='login'>"
        f"<label for='token'>Your IncidentFlow API token{hint}</label>"
        "<input id='token' name='token' type='password' autocomplete='current-password' required>"
        f"<input type='hidden' name='next' value='{text(next_url)}'>"
        "<button type='submit'>Log in</button></form>"
        "<p class='meta'>The same credential the CLI uses (INCIDENTFLOW_API_TOKEN).</p>"
    )
    return shell("Log in", body)


def decide_panel(incident_id: str, record: IncidentRecord, ref: PlanRef, view: View) -> str:
    """The buttons a person may use now, each a form bound to the plan they see."""
    flash = ""
    if view.flash:
        kind = "done" if view.flash_ok else "refused"
        flash = f"<p class='flash {kind}' role='status' id='flash'>{text(view.flash)}</p>"
    verbs: list[str] = []
    if not record.state.terminal:
        verbs = [v for v in PANEL_VERBS if v in view.verbs]
        if record.state is not IncidentState.AWAITING_APPROVAL:
            verbs = [v for v in verbs if v not in REASON_VERBS]
        verbs = [v for v in verbs if v != ("resume" if not record.paused else "pause")]
    if not verbs:
        why = (
            "This incident has ended."
            if record.state.terminal
            else "Read-only: you hold no role on this incident's service."
        )
        return (
            f"<section id='decide' class='panel quiet'>{flash}<p class='meta'>{why}</p></section>"
        )
    forms = []
    for verb in verbs:
        hidden = (
            f"<input type='hidden' name='csrf' value='{text(view.csrf)}'>"
            f"<input type='hidden' name='plan_id' value='{text(ref.id or '')}'>"
            f"<input type='hidden' name='plan_digest' value='{text(ref.digest or '')}'>"
        )
        field = ""
        if verb in FIELDS:
            name, label, required = FIELDS[verb]
            field = (
                f"<label for='f-{verb}'>{label}</label><input id='f-{verb}' name='{name}' "
                f"maxlength='2000'{' required' if required else ''}>"
            )
        forms.append(
            f"<form method='post' action='/ui/incidents/{text(incident_id)}/{verb}' "
            f"class='verb verb-{verb}'>{hidden}{field}"
            f"<button type='submit' id='do-{verb}'>{verb.capitalize()}</button></form>"
        )
    plan = ""
    if ref.id and record.state is IncidentState.AWAITING_APPROVAL:
        plan = (
            f"<p class='meta'>Deciding on plan <code>{text(ref.id)}</code> "
            f"(digest <code>{text((ref.digest or '')[:16])}</code>)</p>"
        )
    return (
        f"<section id='decide' class='panel' aria-label='Decide'>{flash}{plan}"
        f"<div class='verbs'>{''.join(forms)}</div></section>"
    )
