"""The faults of the 12-service shop topology."""

from __future__ import annotations

from spec_types import (
    DISK_WARNING,
    AlertSpec,
    ChangeSpec,
    ExpectedSpec,
    Spec,
    _act,
    _rollback,
    _t,
)

SHOP_SPECS: list[Spec] = [
    Spec(
        name="shop-cart-bad-deploy",
        topology="shop",
        description="cart v4.2.0 ships a serializer bug; checkout and the gateway fail on "
        "carts. recommendations was deployed 12 minutes earlier and is healthy (noise).",
        onset=_t(2, 10, 30),
        root="cart",
        effects={"http_error_ratio": (0.31, 1)},
        symptom_tops=["api-gateway"],
        logs={
            "cart": [
                (
                    "error",
                    "SerializationError: cannot encode field 'promo_code' of CartLine {id}",
                    {"service.version": "v4.2.0"},
                )
            ]
        },
        trace_from="api-gateway",
        trace_effect="error",
        changes=[
            ChangeSpec(
                "chg-reco-88",
                "recommendations",
                "deploy",
                12,
                "v1.8.0",
                "v1.9.0",
                description="recommendations: new ranking model",
            ),
            ChangeSpec(
                "chg-cart-420",
                "cart",
                "deploy",
                4.5,
                "v4.1.3",
                "v4.2.0",
                description="cart: promo codes on lines",
            ),
        ],
        alerts=[
            AlertSpec("HighErrorRate", "cart"),
            AlertSpec("HighErrorRate", "checkout", delay_s=60),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=100),
            DISK_WARNING,
        ],
        expected=[
            ExpectedSpec(
                ["HighErrorRate/cart", "HighErrorRate/checkout", "HighErrorRate/api-gateway"],
                "cart",
                "cart",
                "bad_deploy",
                "chg-cart-420",
                [_rollback("cart", "v4.1.3")],
            )
        ],
        unrelated=["HostDiskWillFillIn24Hours"],
        runbooks={
            "cart-errors": (
                ["HighErrorRate"],
                ["cart"],
                "Check the last cart rollout first; roll back if it is new.",
            )
        },
    ),
    Spec(
        name="shop-search-config-change",
        topology="shop",
        description="A search config change turns on fuzzy matching with a bad analyzer; "
        "search errors; the gateway's search route fails. A flapping probe alert is noise.",
        onset=_t(3, 15, 10),
        root="search",
        effects={"http_error_ratio": (0.22, 1), "http_latency_p99_seconds": (1.9, 2)},
        symptom_tops=["api-gateway"],
        logs={
            "search": [
                (
                    "error",
                    "query failed: analyzer 'fuzzy_v2' not found for index products (shard {n})",
                    {},
                )
            ]
        },
        changes=[
            ChangeSpec(
                "chg-search-cfg-12",
                "search",
                "config",
                5,
                "configmap/search-config:fuzzy.enabled=false",
                "configmap/search-config:fuzzy.enabled=true",
                "lena.w",
                "enable fuzzy matching",
            )
        ],
        alerts=[
            AlertSpec("HighErrorRate", "search"),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=90),
            AlertSpec("BlackboxProbeFailed", "web-frontend", "warning", 200, flapping=True),
        ],
        expected=[
            ExpectedSpec(
                ["HighErrorRate/search", "HighErrorRate/api-gateway"],
                "search",
                "search",
                "config_change",
                "chg-search-cfg-12",
                [_act("config_revert", "search")],
            )
        ],
        unrelated=["BlackboxProbeFailed"],
    ),
    Spec(
        name="shop-inventory-memory-leak",
        topology="shop",
        description="inventory leaks memory under a new traffic mix; the JVM thrashes and "
        "OOMs; cart and checkout slow down because inventory is slow.",
        onset=_t(4, 9, 45),
        root="inventory",
        lead_minutes=8,
        effects={
            "memory_usage_ratio": (0.97, 6),
            "http_latency_p99_seconds": (2.4, 6),
            "http_error_ratio": (0.08, 6),
        },
        symptom_tops=["checkout"],
        logs={
            "inventory": [
                (
                    "error",
                    "java.lang.OutOfMemoryError: Java heap space in "
                    "StockReservationCache (pod inventory-{n})",
                    {},
                )
            ]
        },
        trace_from="checkout",
        trace_effect="slow",
        alerts=[
            AlertSpec("ContainerMemoryNearLimit", "inventory"),
            AlertSpec("HighLatency", "cart", delay_s=70),
            AlertSpec("HighLatency", "checkout", delay_s=110),
        ],
        expected=[
            ExpectedSpec(
                ["ContainerMemoryNearLimit/inventory", "HighLatency/cart", "HighLatency/checkout"],
                "inventory",
                "inventory",
                "resource_exhaustion",
                None,
                [_act("restart", "inventory")],
            )
        ],
    ),
    Spec(
        name="shop-payments-db-down",
        topology="shop",
        description="The payments database primary is down after a failed storage attach; "
        "payments cannot connect; checkout fails because payments does.",
        onset=_t(5, 22, 5),
        root="payments-db",
        lead_minutes=2,
        effects={"up": (0.0, 0)},
        symptom_tops=["checkout"],
        caller_error="dial tcp: connection refused",
        alerts=[
            AlertSpec("PostgresqlDown", "payments-db"),
            AlertSpec("HighErrorRate", "payments", delay_s=30),
            AlertSpec("HighErrorRate", "checkout", delay_s=80),
        ],
        expected=[
            ExpectedSpec(
                ["PostgresqlDown/payments-db", "HighErrorRate/payments", "HighErrorRate/checkout"],
                "payments-db",
                "payments-db",
                "dependency_down",
                None,
                [_act("restart", "payments-db")],
            )
        ],
    ),
    Spec(
        name="shop-catalog-traffic-surge",
        topology="shop",
        description="A scraper hammers category pages: catalog request rate x5, CPU pegged, "
        "latency up; search and recommendations slow because catalog is.",
        onset=_t(6, 13, 20),
        root="catalog",
        lead_minutes=5,
        effects={
            "request_rate": (1500.0, 3),
            "cpu_usage_ratio": (0.96, 3),
            "http_latency_p99_seconds": (1.6, 3),
        },
        symptom_tops=["search", "recommendations"],
        logs={"catalog": [("warning", "request queue depth {n} above 200; shedding load", {})]},
        alerts=[
            AlertSpec("HighCpuUsage", "catalog", "warning"),
            AlertSpec("HighLatency", "catalog"),
            AlertSpec("HighLatency", "search", delay_s=60),
            AlertSpec("HighLatency", "recommendations", "warning", 90),
        ],
        expected=[
            ExpectedSpec(
                [
                    "HighCpuUsage/catalog",
                    "HighLatency/catalog",
                    "HighLatency/search",
                    "HighLatency/recommendations",
                ],
                "catalog",
                "catalog",
                "traffic_surge",
                None,
                [_act("scale", "catalog")],
            )
        ],
    ),
    Spec(
        name="shop-auth-cert-expiry",
        topology="shop",
        description="auth's token-signing certificate expired at midnight; logins fail; the "
        "gateway returns 401/500 on authenticated routes.",
        onset=_t(7, 0, 3),
        root="auth",
        lead_minutes=3,
        effects={"http_error_ratio": (0.64, 0)},
        symptom_tops=["api-gateway"],
        logs={
            "auth": [
                (
                    "error",
                    "x509: certificate has expired or is not yet valid: signing key kid={id}",
                    {},
                )
            ]
        },
        alerts=[
            AlertSpec("HighErrorRate", "auth"),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=45),
            AlertSpec("BlackboxProbeFailed", "web-frontend", delay_s=120),
        ],
        expected=[
            ExpectedSpec(
                [
                    "HighErrorRate/auth",
                    "HighErrorRate/api-gateway",
                    "BlackboxProbeFailed/web-frontend",
                ],
                "auth",
                "auth",
                "expiry",
                None,
                [_act("restart", "auth")],
            )
        ],
    ),
]
