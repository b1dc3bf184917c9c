"""Who a person is and what they may decide (issue 19).

- `canonical`: one spelling per identity (NFKC, case-folded, no whitespace or zero-width
  characters; look-alike scripts refused). Pure, stdlib only.
- `signing`: the decision API's Ed25519 signature over a decision, verified by workflows.
- `roles`: approver and owner roles per service or team, from configuration and the catalog.
- `admission`: the pure check the incident workflow runs on every decision attempt.
- `authn`: the decision API's credentials: per-person tokens and OIDC/JWT.

This package's `__init__` imports nothing, so models and workflows can import `canonical`
without pulling in the API's dependencies.
"""
