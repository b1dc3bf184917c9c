"""The two service graphs the generated bundles run on: a 12-service shop, a 32-service bank."""

from __future__ import annotations

from typing import Any

RUNBOOKS = "https://runbooks.example.com"


def _svc(name: str, owner: str, tier: str, deps: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "owner": owner,
        "tier": tier,
        "depends_on": deps,
        "runbook": f"{RUNBOOKS}/{name}",
    }


SHOP = [
    _svc("web-frontend", "team-storefront", "edge", ["api-gateway", "recommendations"]),
    _svc("api-gateway", "team-platform", "edge", ["auth", "catalog", "search", "cart", "checkout"]),
    _svc("auth", "team-identity", "backend", []),
    _svc("catalog", "team-catalog", "backend", []),
    _svc("search", "team-catalog", "backend", ["catalog"]),
    _svc("recommendations", "team-discovery", "backend", ["catalog"]),
    _svc("cart", "team-checkout", "backend", ["inventory"]),
    _svc("checkout", "team-checkout", "backend", ["cart", "inventory", "payments"]),
    _svc("inventory", "team-fulfilment", "backend", []),
    _svc("payments", "team-payments", "backend", ["payments-db"]),
    _svc("payments-db", "team-payments", "datastore", []),
    _svc("reporting-worker", "team-data", "batch", []),
]

BANK = [
    _svc("web-banking", "team-web", "edge", ["api-gateway"]),
    _svc("mobile-bff", "team-mobile", "edge", ["api-gateway", "notifications"]),
    _svc(
        "api-gateway",
        "team-platform",
        "edge",
        ["auth", "accounts", "transfers", "cards", "loans", "statements", "profile"],
    ),
    _svc("auth", "team-identity", "backend", ["session-cache", "kyc"]),
    _svc("kyc", "team-identity", "backend", ["kyc-db", "document-store"]),
    _svc("profile", "team-identity", "backend", ["profile-db"]),
    _svc("accounts", "team-core", "backend", ["accounts-db", "ledger", "session-cache"]),
    _svc(
        "transfers",
        "team-payments",
        "backend",
        ["accounts", "ledger", "fraud", "fx", "payments-bus"],
    ),
    _svc("ledger", "team-core", "backend", ["ledger-db"]),
    _svc("fraud", "team-risk", "backend", ["risk-engine", "fraud-db"]),
    _svc("risk-engine", "team-risk", "backend", ["feature-store"]),
    _svc("fx", "team-payments", "backend", ["rates-provider"]),
    _svc("cards", "team-cards", "backend", ["cards-db", "card-network", "fraud"]),
    _svc("loans", "team-lending", "backend", ["loans-db", "pricing", "accounts"]),
    _svc("pricing", "team-lending", "backend", ["feature-store"]),
    _svc("statements", "team-core", "backend", ["ledger", "document-store"]),
    _svc("notifications", "team-engagement", "backend", ["sms-gateway", "payments-bus"]),
    _svc("rewards", "team-engagement", "backend", ["payments-bus", "rewards-db"]),
    _svc("payments-bus", "team-platform", "datastore", []),
    _svc("session-cache", "team-platform", "datastore", []),
    _svc("accounts-db", "team-core", "datastore", []),
    _svc("ledger-db", "team-core", "datastore", []),
    _svc("fraud-db", "team-risk", "datastore", []),
    _svc("feature-store", "team-risk", "datastore", []),
    _svc("cards-db", "team-cards", "datastore", []),
    _svc("loans-db", "team-lending", "datastore", []),
    _svc("kyc-db", "team-identity", "datastore", []),
    _svc("profile-db", "team-identity", "datastore", []),
    _svc("rewards-db", "team-engagement", "datastore", []),
    _svc("document-store", "team-core", "datastore", []),
    _svc("rates-provider", "team-payments", "external", []),
    _svc("card-network", "team-cards", "external", []),
    _svc("sms-gateway", "team-engagement", "external", []),
    _svc("batch-scheduler", "team-data", "batch", []),
]
