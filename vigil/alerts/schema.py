"""The alert store's schema, as an ordered list of migrations. `PRAGMA user_version` is the number applied.

Rules for changing it: never edit a migration that has shipped; append a new one. Each migration runs inside the
same transaction as the `user_version` bump, so a store is always at exactly one version. A store whose version is
higher than `SCHEMA_VERSION` was written by a newer vigil and is refused (see `store.py`).
"""

from __future__ import annotations

import sqlite3
import typing as t
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    # optional Python step for data changes SQL alone cannot express
    run: t.Optional[t.Callable[[sqlite3.Connection], None]] = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "alerts, their status history, scheduler state",
        (
            """CREATE TABLE alerts (
                id            TEXT PRIMARY KEY,          -- kibana.alert.uuid (also the _bulk _id)
                rule_id       TEXT NOT NULL,             -- kibana.alert.rule.rule_id
                rule_uuid     TEXT,                      -- kibana.alert.rule.uuid
                rule_name     TEXT NOT NULL,
                severity      TEXT,
                risk_score    REAL,
                status        TEXT NOT NULL,             -- kibana.alert.workflow_status
                created_at    TEXT NOT NULL,             -- alert @timestamp (ISO, UTC, ms)
                original_time TEXT,                      -- kibana.alert.original_time
                host_name     TEXT,
                process_name  TEXT,
                group_id      TEXT,                      -- kibana.alert.group.id (sequences)
                building_block INTEGER NOT NULL DEFAULT 0,
                updated_at    TEXT NOT NULL,
                document      TEXT NOT NULL              -- the full alert document, JSON
            )""",
            "CREATE INDEX alerts_by_time ON alerts (created_at)",
            "CREATE INDEX alerts_by_rule ON alerts (rule_id, created_at)",
            "CREATE INDEX alerts_by_status ON alerts (status, created_at)",
            """CREATE TABLE alert_status_history (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                alert_id    TEXT NOT NULL REFERENCES alerts (id),
                changed_at  TEXT NOT NULL,
                user        TEXT NOT NULL,
                from_status TEXT NOT NULL,
                to_status   TEXT NOT NULL,
                reason      TEXT
            )""",
            "CREATE INDEX history_by_alert ON alert_status_history (alert_id, id)",
            """CREATE TABLE state (
                key        TEXT PRIMARY KEY,
                value      TEXT NOT NULL,                -- JSON
                updated_at TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "notes, rule executions, user.name column",
        (
            """CREATE TABLE alert_notes (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                alert_id   TEXT NOT NULL REFERENCES alerts (id),
                created_at TEXT NOT NULL,
                user       TEXT NOT NULL,
                text       TEXT NOT NULL
            )""",
            "CREATE INDEX notes_by_alert ON alert_notes (alert_id, id)",
            """CREATE TABLE rule_executions (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                rule_id         TEXT NOT NULL,
                execution_uuid  TEXT,
                started_at      TEXT NOT NULL,
                duration_ms     REAL,
                window_from     TEXT,
                window_to       TEXT,
                status          TEXT NOT NULL,           -- succeeded | partial failure | failed
                message         TEXT,
                events_searched INTEGER,
                alerts_created  INTEGER,
                gap_ms          REAL,
                details         TEXT                     -- JSON: warnings, errors, metrics
            )""",
            "CREATE INDEX executions_by_rule ON rule_executions (rule_id, started_at)",
            "ALTER TABLE alerts ADD COLUMN user_name TEXT",
            # backfill from the stored documents (nested `user.name` or a flat dotted key)
            """UPDATE alerts SET user_name = COALESCE(
                   json_extract(document, '$.user.name'), json_extract(document, '$."user.name"'))""",
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def apply(conn: sqlite3.Connection, current: int, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations after `current` up to `target`; the caller holds a write transaction."""
    for migration in MIGRATIONS:
        if current < migration.version <= target:
            for statement in migration.statements:
                conn.execute(statement)
            if migration.run is not None:
                migration.run(conn)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            current = migration.version
    return current
