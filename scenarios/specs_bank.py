"""The faults of the 34-service bank topology."""

from __future__ import annotations

from spec_types import (
    AlertSpec,
    ChangeSpec,
    ExpectedSpec,
    Spec,
    _act,
    _rollback,
    _t,
)

BANK_SPECS: list[Spec] = [
    Spec(
        name="bank-transfers-bad-deploy",
        topology="bank",
        description="transfers v7.0.0 breaks idempotency keys; transfers fail; the gateway and "
        "mobile BFF alert. notifications was deployed 20 minutes earlier (noise); a flapping "
        "disk warning on batch-scheduler is unrelated.",
        onset=_t(9, 11, 0),
        root="transfers",
        effects={"http_error_ratio": (0.41, 1)},
        symptom_tops=["mobile-bff", "web-banking"],
        logs={
            "transfers": [
                (
                    "error",
                    "IdempotencyKeyError: duplicate key {id} rejected by ledger contract v3",
                    {"service.version": "v7.0.0"},
                )
            ]
        },
        trace_from="api-gateway",
        trace_effect="error",
        changes=[
            ChangeSpec("chg-notif-51", "notifications", "deploy", 20, "v2.3.0", "v2.4.0"),
            ChangeSpec(
                "chg-transfers-700",
                "transfers",
                "deploy",
                4,
                "v6.9.2",
                "v7.0.0",
                description="transfers: idempotency keys v2",
            ),
        ],
        alerts=[
            AlertSpec("HighErrorRate", "transfers"),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=60),
            AlertSpec("HighErrorRate", "mobile-bff", delay_s=100),
            AlertSpec(
                "HostDiskWillFillIn24Hours", "batch-scheduler", "warning", 150, flapping=True
            ),
        ],
        expected=[
            ExpectedSpec(
                [
                    "HighErrorRate/transfers",
                    "HighErrorRate/api-gateway",
                    "HighErrorRate/mobile-bff",
                ],
                "transfers",
                "transfers",
                "bad_deploy",
                "chg-transfers-700",
                [_rollback("transfers", "v6.9.2")],
            )
        ],
        unrelated=["HostDiskWillFillIn24Hours"],
    ),
    Spec(
        name="bank-ledger-db-network",
        topology="bank",
        description="Packet loss on the node hosting ledger-db: queries are fast on the server "
        "but ledger waits on the wire; accounts, transfers and statements slow down.",
        onset=_t(10, 16, 40),
        root="ledger-db",
        lead_minutes=4,
        effects={},
        symptom_tops=["accounts", "transfers", "statements"],
        caller_error="read tcp 10.2.7.14:5432: i/o timeout",
        trace_from="transfers",
        trace_effect="wire",
        alerts=[
            AlertSpec("HighLatency", "ledger"),
            AlertSpec("HighLatency", "transfers", delay_s=40),
            AlertSpec("HighLatency", "accounts", delay_s=60),
            AlertSpec("HighLatency", "statements", "warning", 90),
        ],
        expected=[
            ExpectedSpec(
                [
                    "HighLatency/ledger",
                    "HighLatency/transfers",
                    "HighLatency/accounts",
                    "HighLatency/statements",
                ],
                "ledger",
                "ledger-db",
                "network",
                None,
                [_act("none", "ledger-db")],
            )
        ],
    ),
    Spec(
        name="bank-fraud-code-exception",
        topology="bank",
        description="A merchant category the fraud model never saw makes fraud throw on every "
        "card payment (no change shipped); cards and transfers fail on fraud checks.",
        onset=_t(11, 8, 15),
        root="fraud",
        effects={"http_error_ratio": (0.27, 1)},
        symptom_tops=["cards", "transfers"],
        logs={
            "fraud": [
                ("error", "NullPointerException: MerchantCategory.riskBand is null for mcc {n}", {})
            ]
        },
        trace_from="cards",
        trace_effect="error",
        changes=[ChangeSpec("chg-rewards-9", "rewards", "deploy", 25, "v1.1.0", "v1.2.0")],
        alerts=[
            AlertSpec("HighErrorRate", "fraud"),
            AlertSpec("HighErrorRate", "cards", delay_s=50),
            AlertSpec("HighErrorRate", "transfers", delay_s=70),
        ],
        expected=[
            ExpectedSpec(
                ["HighErrorRate/fraud", "HighErrorRate/cards", "HighErrorRate/transfers"],
                "fraud",
                "fraud",
                "code_exception",
                None,
                [_act("restart", "fraud"), _act("none", "fraud")],
            )
        ],
    ),
    Spec(
        name="bank-payments-bus-disk-full",
        topology="bank",
        description="The payments bus broker fills its disk and stops accepting writes; "
        "transfers, notifications and rewards fail to publish.",
        onset=_t(12, 3, 50),
        root="payments-bus",
        lead_minutes=10,
        effects={"disk_used_ratio": (0.995, 8)},
        symptom_tops=["transfers", "notifications"],
        caller_error="publish failed: broker unavailable",
        logs={
            "payments-bus": [
                (
                    "error",
                    "No space left on device while appending segment {n} of topic transfers.events",
                    {},
                )
            ]
        },
        alerts=[
            AlertSpec("KafkaDiskAlmostFull", "payments-bus"),
            AlertSpec("HighErrorRate", "transfers", delay_s=40),
            AlertSpec("HighErrorRate", "notifications", "warning", 75),
        ],
        expected=[
            ExpectedSpec(
                [
                    "KafkaDiskAlmostFull/payments-bus",
                    "HighErrorRate/transfers",
                    "HighErrorRate/notifications",
                ],
                "payments-bus",
                "payments-bus",
                "resource_exhaustion",
                None,
                [_act("scale", "payments-bus"), _act("none", "payments-bus")],
            )
        ],
    ),
    Spec(
        name="bank-fx-config-change",
        topology="bank",
        description="An fx config change points the rate provider client at a retired "
        "endpoint; fx fails, transfers in foreign currency fail. A deploy of loans 40 minutes "
        "earlier is unrelated.",
        onset=_t(13, 12, 25),
        root="fx",
        effects={"http_error_ratio": (0.35, 1)},
        symptom_tops=["transfers"],
        logs={
            "fx": [
                (
                    "error",
                    "rates refresh failed: 404 Not Found from "
                    "https://rates.example.net/v1/latest (attempt {n})",
                    {},
                )
            ]
        },
        changes=[
            ChangeSpec("chg-loans-314", "loans", "deploy", 40, "v3.1.3", "v3.1.4"),
            ChangeSpec(
                "chg-fx-cfg-7",
                "fx",
                "config",
                5,
                "configmap/fx-config:rates.endpoint=v2",
                "configmap/fx-config:rates.endpoint=v1",
                "sam.k",
                "rate provider endpoint",
            ),
        ],
        alerts=[
            AlertSpec("HighErrorRate", "fx"),
            AlertSpec("HighErrorRate", "transfers", delay_s=60),
        ],
        expected=[
            ExpectedSpec(
                ["HighErrorRate/fx", "HighErrorRate/transfers"],
                "fx",
                "fx",
                "config_change",
                "chg-fx-cfg-7",
                [_act("config_revert", "fx")],
            )
        ],
    ),
    Spec(
        name="bank-accounts-db-connections",
        topology="bank",
        description="A slow batch report holds connections on accounts-db until the pool is "
        "exhausted; accounts errors and times out; loans and the gateway follow.",
        onset=_t(14, 18, 5),
        root="accounts-db",
        lead_minutes=6,
        effects={"connections_in_use": (500.0, 4), "db_query_latency_p99_seconds": (0.9, 4)},
        symptom_tops=["api-gateway", "loans"],
        caller_error="FATAL: sorry, too many clients already",
        logs={
            "accounts-db": [
                (
                    "error",
                    "FATAL: remaining connection slots are reserved; "
                    "too many connections for role app (pid {n})",
                    {},
                )
            ]
        },
        alerts=[
            AlertSpec("PostgresqlTooManyConnections", "accounts-db", "warning"),
            AlertSpec("HighErrorRate", "accounts", delay_s=30),
            AlertSpec("HighErrorRate", "loans", delay_s=80),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=100),
        ],
        expected=[
            ExpectedSpec(
                [
                    "PostgresqlTooManyConnections/accounts-db",
                    "HighErrorRate/accounts",
                    "HighErrorRate/loans",
                    "HighErrorRate/api-gateway",
                ],
                "accounts-db",
                "accounts-db",
                "resource_exhaustion",
                None,
                [_act("restart", "accounts-db")],
            )
        ],
    ),
]
