"""The web console: the incident list and the incident page, served by the ingest service.

    GET  /ui/                                the list (filters: state, severity, service, owner)
    GET  /ui/incidents/{id}                  one incident, every agent's artifact
    POST /ui/incidents/{id}/{verb}           a decision, through the decision service
    GET|POST /ui/login, POST /ui/logout      a session for a person's token or OIDC token
    GET  /ui/static/{file}                   the stylesheet, from the package

Server-rendered HTML, no script. A person logs in with the credential the CLI uses (an API
token, or an ID token from the configured OIDC issuer); decisions go through the same
DecisionService as the API and Slack (signed, role-checked, recorded), with path `web`.
People without a role on an incident's service read it and see no buttons.
"""

from incidentflow.web.routes import web_routes

__all__ = ["web_routes"]
