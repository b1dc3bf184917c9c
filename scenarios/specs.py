"""What each generated bundle is about: the fault, its alerts, the noise, the right answer.

The faults live per topology in specs_shop.py and specs_bank.py; the no-fault controls here."""

from __future__ import annotations

from spec_types import (
    BANK_DISK,
    DISK_WARNING,
    AlertSpec,
    ChangeSpec,
    Spec,
    _t,
)
from specs_bank import BANK_SPECS
from specs_capacity import CAPACITY_SPECS
from specs_changes import CHANGE_SPECS
from specs_shop import SHOP_SPECS

__all__ = ["SPECS", "AlertSpec", "Spec"]

CONTROLS: list[Spec] = [
    Spec(
        name="control-shop-quiet-deploy",
        topology="shop",
        description="No fault. A catalog deploy goes out cleanly; a disk-fill warning and a "
        "flapping probe fire on their own. Nothing should open an incident.",
        onset=_t(15, 10, 0),
        root=None,
        propagates=False,
        changes=[ChangeSpec("chg-catalog-400", "catalog", "deploy", 6, "v4.0.0", "v4.0.1")],
        alerts=[
            DISK_WARNING,
            AlertSpec("BlackboxProbeSlow", "web-frontend", "warning", 60, flapping=True),
            AlertSpec("CatalogCacheWarm", "catalog", "info", 80),
        ],
        expected=[],
        unrelated=["HostDiskWillFillIn24Hours", "BlackboxProbeSlow", "CatalogCacheWarm"],
    ),
    Spec(
        name="control-bank-flapping",
        topology="bank",
        description="No fault. A flapping latency warning on statements during a batch run and "
        "a lone disk warning; two unrelated deploys. Nothing should open an incident.",
        onset=_t(16, 2, 0),
        root=None,
        propagates=False,
        changes=[
            ChangeSpec("chg-profile-21", "profile", "deploy", 15, "v2.0.0", "v2.1.0"),
            ChangeSpec(
                "chg-pricing-cfg", "pricing", "config", 3, "margin=0.8", "margin=0.9", "ops"
            ),
        ],
        alerts=[
            AlertSpec("HighLatency", "statements", "warning", 0, flapping=True),
            BANK_DISK,
            AlertSpec("Watchdog", "batch-scheduler", "none", 30),
        ],
        expected=[],
        unrelated=["HighLatency", "HostDiskWillFillIn24Hours", "Watchdog"],
    ),
]

SPECS: list[Spec] = [*SHOP_SPECS, *BANK_SPECS, *CHANGE_SPECS, *CAPACITY_SPECS, *CONTROLS]
