"""The remediation worker's ledger: which actions started and which took effect, by key.

Intent is written before an executor acts and the result after: a retry that finds an intent
without a result knows an earlier attempt may have acted (a crash between acting and
recording) and tells the executor so.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from incidentflow.models import ActionResult


class Ledger:
    """Which actions already took effect, keyed by idempotency key, on local disk.

    A retry after a crash finds the finished entry and does not act again.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS executions ("
                " key TEXT PRIMARY KEY, result TEXT NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS intents ("
                " key TEXT PRIMARY KEY, attempts INTEGER NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=30, isolation_level=None)

    def get(self, key: str) -> ActionResult | None:
        """The recorded result for `key`, if that action already ran."""
        with self._connect() as db:
            row = db.execute("SELECT result FROM executions WHERE key = ?", (key,)).fetchone()
        return ActionResult.model_validate_json(row[0]) if row else None

    def begin(self, key: str) -> int:
        """Record the intent to act on `key` before acting; returns which attempt this is.

        Above 1, an earlier attempt started and recorded no result: it may have acted.
        """
        with self._connect() as db:
            db.execute(
                "INSERT INTO intents (key, attempts) VALUES (?, 1) "
                "ON CONFLICT(key) DO UPDATE SET attempts = attempts + 1",
                (key,),
            )
            row = db.execute("SELECT attempts FROM intents WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def put(self, key: str, result: ActionResult) -> None:
        """Record that `key` ran; the first record wins."""
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO executions (key, result) VALUES (?, ?)",
                (key, result.model_dump_json()),
            )

    def count(self) -> int:
        """How many actions (and undos) this ledger has recorded."""
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM executions").fetchone()[0])
