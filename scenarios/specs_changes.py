"""Faults a recorded change introduced: a ConfigMap value, an env var, a feature flag, an object.

Written from the published classes of Kubernetes fault scenarios whose accepted fixes are
SRE-written: a bad config value (ConfigMap, Secret, environment variable), a feature flag
turned on, and an infrastructure object a change created or modified (a NetworkPolicy that
cuts a path, an autoscaler whose bounds were lowered). Each accepted action is the revert of
that change; none is copied from any one benchmark's files.
"""

from __future__ import annotations

from spec_types import DISK_WARNING, AlertSpec, ChangeSpec, ExpectedSpec, Spec, _t

DENY_PAYMENTS_DB = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: payments-db-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: payments-db}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels: {app: reporting-worker}
"""

HPA_BEFORE = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: recommendations
  namespace: shop
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: recommendations}
  minReplicas: 4
  maxReplicas: 20
"""

HPA_AFTER = HPA_BEFORE.replace("minReplicas: 4", "minReplicas: 1").replace(
    "maxReplicas: 20", "maxReplicas: 2"
)


def _revert(kind: str, svc: str) -> dict[str, str]:
    return {"kind": kind, "service": svc}


CHANGE_SPECS: list[Spec] = [
    Spec(
        name="shop-checkout-configmap-timeout",
        topology="shop",
        description="A ConfigMap edit drops checkout's payment call timeout from 3000 ms to "
        "30 ms; checkout fails most payments with timeouts; the gateway's checkout route "
        "fails. A cart deploy an hour earlier is unrelated.",
        onset=_t(16, 11, 20),
        root="checkout",
        effects={"http_error_ratio": (0.41, 1)},
        symptom_tops=["api-gateway"],
        logs={
            "checkout": [
                (
                    "error",
                    "payment authorisation aborted: deadline of 30ms exceeded calling payments "
                    "(order {n})",
                    {},
                )
            ]
        },
        changes=[
            ChangeSpec("chg-cart-431", "cart", "deploy", 62, "v4.3.0", "v4.3.1"),
            ChangeSpec(
                "chg-checkout-cm-88",
                "checkout",
                "config",
                4,
                "configmap/checkout-config:payments.timeout_ms=3000",
                "configmap/checkout-config:payments.timeout_ms=30",
                "ravi.p",
                "tighten payment timeouts",
            ),
        ],
        alerts=[
            AlertSpec("HighErrorRate", "checkout"),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=75),
            DISK_WARNING,
        ],
        expected=[
            ExpectedSpec(
                ["HighErrorRate/checkout", "HighErrorRate/api-gateway"],
                "checkout",
                "checkout",
                "config_change",
                "chg-checkout-cm-88",
                [_revert("config_revert", "checkout")],
            )
        ],
        unrelated=["HostDiskWillFillIn24Hours"],
    ),
    Spec(
        name="bank-cards-flag-new-auth-path",
        topology="bank",
        description="A feature flag switches cards to a new authorisation path whose client "
        "sends a malformed request; card payments fail and the gateway follows.",
        onset=_t(17, 9, 40),
        root="cards",
        effects={"http_error_ratio": (0.3, 1)},
        symptom_tops=["api-gateway"],
        logs={
            "cards": [
                (
                    "error",
                    "authorise failed: 400 Bad Request from network-gateway: field 'pan_token' "
                    "missing (request {n})",
                    {},
                )
            ]
        },
        changes=[
            ChangeSpec(
                "chg-flag-cards-auth-v2",
                "cards",
                "feature_flag",
                3,
                "cards.auth_v2=false",
                "cards.auth_v2=true",
                "mira.l",
                "roll out authorisation v2 to all",
            )
        ],
        alerts=[
            AlertSpec("HighErrorRate", "cards"),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=80),
        ],
        expected=[
            ExpectedSpec(
                ["HighErrorRate/cards", "HighErrorRate/api-gateway"],
                "cards",
                "cards",
                "config_change",
                "chg-flag-cards-auth-v2",
                [{"kind": "feature_flag", "service": "cards.auth_v2"}],
            )
        ],
    ),
    Spec(
        name="shop-payments-db-networkpolicy",
        topology="shop",
        description="A NetworkPolicy applied to payments-db admits only the reporting worker; "
        "payments cannot connect to its database and fails; checkout and the gateway follow.",
        onset=_t(18, 14, 5),
        root="payments-db",
        effects={"connections_in_use": (2.0, 1)},
        symptom_tops=["api-gateway"],
        caller_error="dial tcp 10.0.4.17:5432: i/o timeout",
        changes=[
            ChangeSpec(
                "chg-np-payments-db-3",
                "payments-db",
                "infra",
                2,
                "absent",
                DENY_PAYMENTS_DB,
                "netops-bot",
                "restrict payments-db ingress",
            )
        ],
        alerts=[
            AlertSpec("HighErrorRate", "payments"),
            AlertSpec("HighErrorRate", "checkout", delay_s=40),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=90),
        ],
        expected=[
            ExpectedSpec(
                [
                    "HighErrorRate/payments",
                    "HighErrorRate/checkout",
                    "HighErrorRate/api-gateway",
                ],
                "payments",
                "payments-db",
                "network",
                "chg-np-payments-db-3",
                [_revert("infra_revert", "payments-db")],
            )
        ],
    ),
    Spec(
        name="shop-recommendations-hpa-bounds",
        topology="shop",
        description="A change lowers recommendations' autoscaler bounds from 4-20 to 1-2 "
        "replicas before the evening peak; its CPU saturates and latency climbs; the frontend "
        "slows.",
        onset=_t(19, 19, 10),
        root="recommendations",
        lead_minutes=6,
        effects={"cpu_usage_ratio": (0.98, 4), "http_latency_p99_seconds": (2.8, 4)},
        symptom_tops=["web-frontend"],
        changes=[
            ChangeSpec(
                "chg-hpa-reco-5",
                "recommendations",
                "infra",
                12,
                HPA_BEFORE,
                HPA_AFTER,
                "capacity-bot",
                "right-size recommendations",
            )
        ],
        alerts=[
            AlertSpec("HighLatency", "recommendations"),
            AlertSpec("HighLatency", "web-frontend", delay_s=70),
        ],
        expected=[
            ExpectedSpec(
                ["HighLatency/recommendations", "HighLatency/web-frontend"],
                "recommendations",
                "recommendations",
                "resource_exhaustion",
                "chg-hpa-reco-5",
                [
                    _revert("infra_revert", "recommendations"),
                    _revert("hpa_bounds", "recommendations"),
                ],
            )
        ],
    ),
]
