"""The alert store: one SQLite file holding alerts, their workflow history, notes, rule executions and state.

Concurrency: WAL journal (readers never block the writer, nor the writer them) plus a busy timeout, so one writer
(the scheduler / `vigil run`) and several readers (`vigil alerts ...`, the web API) can use one file at once. Every
write is one `BEGIN IMMEDIATE` transaction: a batch of alerts is committed whole or not at all, and the ids returned
by `insert_alerts` are only returned after the commit, so nothing reports an alert that is not on disk.

Dedupe: alerts are keyed by their deterministic id; inserting an id already present is ignored (`INSERT OR IGNORE`),
which is how overlapping rule windows never produce duplicates.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import typing as t
from dataclasses import dataclass
from pathlib import Path

import orjson

from vigil.alerts import schema
from vigil.alerts.reason import get_path
from vigil.alerts.times import js_iso, utc_now
from vigil.errors import Location, StoreError
from vigil.paths import default_store_path

BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class StoredAlert:
    id: str
    rule_id: str
    rule_name: str
    severity: t.Optional[str]
    risk_score: t.Optional[float]
    status: str
    created_at: str
    original_time: t.Optional[str]
    host_name: t.Optional[str]
    process_name: t.Optional[str]
    user_name: t.Optional[str]
    group_id: t.Optional[str]
    building_block: bool
    document: dict


@dataclass(frozen=True)
class StatusChange:
    alert_id: str
    changed_at: str
    user: str
    from_status: str
    to_status: str
    reason: t.Optional[str]


@dataclass(frozen=True)
class Note:
    id: int
    alert_id: str
    created_at: str
    user: str
    text: str


@dataclass(frozen=True)
class Execution:
    id: int
    rule_id: str
    execution_uuid: t.Optional[str]
    started_at: str
    duration_ms: t.Optional[float]
    window_from: t.Optional[str]
    window_to: t.Optional[str]
    status: str
    message: t.Optional[str]
    events_searched: t.Optional[int]
    alerts_created: t.Optional[int]
    gap_ms: t.Optional[float]
    details: t.Optional[dict]


def _text(value: t.Any) -> t.Optional[str]:
    """A column value from a document field: arrays become "a, b"; absent is NULL."""
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or None
    return str(value)


def _iso(value: t.Union[str, dt.datetime, None]) -> t.Optional[str]:
    return js_iso(value) if isinstance(value, dt.datetime) else value


_ALERT_COLUMNS = (
    "id, rule_id, rule_name, severity, risk_score, status, created_at, original_time, host_name, process_name, "
    "user_name, group_id, building_block, document"
)


class AlertStore:
    """A connection to the store file. Use as a context manager, or call `close()`.

    `AlertStore()` opens `default_store_path()`; `AlertStore(path, create=False)` refuses to create a missing file
    (a mistyped `--db` should not silently start an empty store).
    """

    def __init__(self, path: t.Union[str, Path, None] = None, *, create: bool = True):
        self.path = Path(path) if path is not None else default_store_path()
        if not self.path.exists():
            if not create:
                raise StoreError("no alert store here", Location(path=str(self.path)),
                                 hint="check --db, or run a rule first to create the store")
            if not self.path.parent.is_dir():
                raise StoreError("the directory does not exist", Location(path=str(self.path.parent)))
        try:
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; never corrupt (WAL)
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot use the alert store: {error}", Location(path=str(self.path))) from None

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "AlertStore":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> t.Iterator[sqlite3.Connection]:
        """One write transaction; `IMMEDIATE` takes the write lock up front so it cannot fail half-way on a lock."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        if self.schema_version == schema.SCHEMA_VERSION:
            return
        with self.transaction() as conn:
            current = self.schema_version  # re-read under the lock: another process may have migrated meanwhile
            if current > schema.SCHEMA_VERSION:
                raise StoreError(
                    f"this alert store was written by a newer vigil (schema version {current}; this vigil knows "
                    f"up to {schema.SCHEMA_VERSION})",
                    Location(path=str(self.path)),
                    hint="upgrade vigil, or point --db at another file",
                )
            schema.apply(conn, current)

    # --- alerts --------------------------------------------------------------------------------------------------

    def insert_alerts(self, docs: t.Iterable[t.Mapping[str, t.Any]]) -> list[str]:
        """Store a batch of alert documents in one transaction; return the ids that were new (in input order).

        Ids already stored are skipped (dedupe across overlapping windows). If anything fails, or the process dies,
        nothing of the batch is stored.
        """
        with self.transaction() as conn:
            return self._insert(conn, docs)

    def _insert(self, conn: sqlite3.Connection, docs: t.Iterable[t.Mapping[str, t.Any]]) -> list[str]:
        new: list[str] = []
        for doc in docs:
            alert_id = doc.get("kibana.alert.uuid")
            if not isinstance(alert_id, str) or not alert_id:
                raise StoreError("an alert document has no kibana.alert.uuid", Location(key="kibana.alert.uuid"))
            now = doc.get("@timestamp") or js_iso(utc_now())
            cursor = conn.execute(
                "INSERT OR IGNORE INTO alerts (id, rule_id, rule_uuid, rule_name, severity, risk_score, status, "
                "created_at, original_time, host_name, process_name, user_name, group_id, building_block, "
                "updated_at, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    alert_id,
                    str(doc.get("kibana.alert.rule.rule_id", "")),
                    doc.get("kibana.alert.rule.uuid"),
                    str(doc.get("kibana.alert.rule.name", "")),
                    doc.get("kibana.alert.severity"),
                    doc.get("kibana.alert.risk_score"),
                    doc.get("kibana.alert.workflow_status", "open"),
                    now,
                    doc.get("kibana.alert.original_time"),
                    _text(get_path(doc, "host.name")),
                    _text(get_path(doc, "process.name")),
                    _text(get_path(doc, "user.name")),
                    doc.get("kibana.alert.group.id"),
                    1 if doc.get("kibana.alert.building_block_type") else 0,
                    now,
                    orjson.dumps(doc).decode(),
                ),
            )
            if cursor.rowcount == 1:
                new.append(alert_id)
        return new

    def write_alerts(self, new_docs: t.Sequence[t.Mapping[str, t.Any]],
                     updates: t.Optional[t.Mapping[str, t.Mapping[str, t.Any]]] = None) -> list[str]:
        """Insert `new_docs` (as `insert_alerts`) and set fields of stored alerts (`updates`: alert id → {top-level
        document key: new value}), all in one transaction; returns the ids that were new. Only the named keys
        change (`json_set` in SQLite), so a triage change made meanwhile by another process is never undone.
        Alert suppression uses it: an execution's new alerts and the alerts it extends commit together or not at
        all."""
        with self.transaction() as conn:
            new = self._insert(conn, new_docs)
            for alert_id, fields in (updates or {}).items():
                if not fields:
                    continue
                paths = ", ".join("?, json(?)" for _ in fields)
                args: list[t.Any] = []
                for key, value in fields.items():
                    args += ['$."' + key.replace('"', '\\"') + '"', orjson.dumps(value).decode()]
                cursor = conn.execute(f"UPDATE alerts SET document = json_set(document, {paths}), updated_at = ? "
                                      "WHERE id = ?", (*args, js_iso(utc_now()), alert_id))
                if cursor.rowcount != 1:  # raising rolls the whole batch back: nothing half-written
                    raise StoreError("cannot update an alert that is not stored", Location(key=str(alert_id)))
        return new

    def latest_by_instance(self, rule_id: str, instance_ids: t.Iterable[str], *, since: t.Optional[str] = None,
                           include_closed: bool = False) -> dict[str, dict]:
        """For each suppression instance id (`kibana.alert.instance.id`), the stored document of the rule's alert
        with that id and the latest `kibana.alert.start` (>= `since`, an ISO time, when given); closed alerts are
        left out unless `include_closed`. Kibana's search for the alerts a suppressed alert may extend."""
        wanted = list(dict.fromkeys(instance_ids))
        found: dict[str, dict] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            sql = ("SELECT document FROM alerts WHERE rule_id = ? AND json_extract(document, "
                   f"'$.\"kibana.alert.instance.id\"') IN ({', '.join('?' * len(chunk))})")
            if not include_closed:
                sql += " AND status != 'closed'"
            for (text,) in self._conn.execute(sql, [rule_id, *chunk]):
                doc = orjson.loads(text)
                began = str(doc.get("kibana.alert.start") or "")
                if since is not None and began < since:  # ISO-8601 UTC with ms: text order is time order
                    continue
                instance = doc["kibana.alert.instance.id"]
                if instance not in found or began > str(found[instance].get("kibana.alert.start") or ""):
                    found[instance] = doc
        return found

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM alerts").fetchone()[0])

    def resolve_id(self, prefix: str) -> str:
        """The full id of the one alert whose id starts with `prefix` (ids may be abbreviated, like git's)."""
        prefix = prefix.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise StoreError(f"not an alert id: {prefix!r}", Location(key=prefix), hint="ids are hexadecimal")
        rows = self._conn.execute(
            "SELECT id FROM alerts WHERE id >= ? AND id < ? ORDER BY id LIMIT 6", (prefix, prefix + "g")
        ).fetchall()
        if not rows:
            raise StoreError(f"no alert with id {prefix}", Location(path=str(self.path), key=prefix))
        if len(rows) > 1 and rows[0][0] != prefix:
            shown = ", ".join(r[0][: len(prefix) + 4] for r in rows[:5])
            raise StoreError(f"alert id prefix {prefix} is ambiguous ({shown}...)", Location(key=prefix),
                             hint="give more characters of the id")
        return rows[0][0]

    def get_alert(self, id_or_prefix: str) -> StoredAlert:
        alert_id = self.resolve_id(id_or_prefix)
        row = self._conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return _alert_from_row(row)

    def list_alerts(
        self,
        *,
        status: t.Union[str, t.Sequence[str], None] = None,
        severity: t.Union[str, t.Sequence[str], None] = None,
        rule: t.Optional[str] = None,
        host: t.Optional[str] = None,
        since: t.Union[str, dt.datetime, None] = None,
        include_building_blocks: bool = True,
        limit: t.Optional[int] = 100,
    ) -> list[StoredAlert]:
        """Newest first. `rule` matches the rule_id exactly or the rule name case-insensitively (substring)."""
        where, args = [], []  # type: ignore[var-annotated]
        for column, value in (("status", status), ("severity", severity)):
            if value:
                values = [value] if isinstance(value, str) else list(value)
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(v.lower() for v in values)
        if rule:
            where.append("(rule_id = ? OR rule_name LIKE ? ESCAPE '\\')")
            args.extend([rule, "%" + _like_escape(rule) + "%"])
        if host:
            where.append("host_name = ?")
            args.append(host)
        if since:
            where.append("created_at >= ?")
            args.append(_iso(since))
        if not include_building_blocks:
            where.append("building_block = 0")
        sql = f"SELECT {_ALERT_COLUMNS} FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_alert_from_row(row) for row in self._conn.execute(sql, args)]

    def iter_documents(self, since: t.Union[str, dt.datetime, None] = None) -> t.Iterator[dict]:
        """Every stored alert document, oldest first (for export)."""
        sql, args = "SELECT document FROM alerts", []
        if since:
            sql += " WHERE created_at >= ?"
            args.append(_iso(since))
        for (text,) in self._conn.execute(sql + " ORDER BY created_at, id", args):
            yield orjson.loads(text)

    # --- workflow (used by workflow.py) ----------------------------------------------------------------------------

    def record_status_change(self, conn: sqlite3.Connection, alert_id: str, doc: dict, change: StatusChange) -> None:
        conn.execute(
            "UPDATE alerts SET status = ?, updated_at = ?, document = ? WHERE id = ?",
            (change.to_status, change.changed_at, orjson.dumps(doc).decode(), alert_id),
        )
        conn.execute(
            "INSERT INTO alert_status_history (alert_id, changed_at, user, from_status, to_status, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (alert_id, change.changed_at, change.user, change.from_status, change.to_status, change.reason),
        )

    def history(self, alert_id: str) -> list[StatusChange]:
        rows = self._conn.execute(
            "SELECT alert_id, changed_at, user, from_status, to_status, reason FROM alert_status_history "
            "WHERE alert_id = ? ORDER BY id",
            (alert_id,),
        )
        return [StatusChange(*row) for row in rows]

    def add_note(self, alert_id: str, text: str, user: str, at: t.Union[str, dt.datetime, None] = None) -> Note:
        when = _iso(at) or js_iso(utc_now())
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO alert_notes (alert_id, created_at, user, text) VALUES (?, ?, ?, ?)",
                (alert_id, when, user, text),
            )
            note_id = int(cursor.lastrowid or 0)
        return Note(note_id, alert_id, when, user, text)

    def notes(self, alert_id: str) -> list[Note]:
        rows = self._conn.execute(
            "SELECT id, alert_id, created_at, user, text FROM alert_notes WHERE alert_id = ? ORDER BY id", (alert_id,)
        )
        return [Note(*row) for row in rows]

    # --- rule executions and scheduler state -------------------------------------------------------------------

    def record_execution(
        self,
        rule_id: str,
        *,
        started_at: t.Union[str, dt.datetime],
        status: str,
        duration_ms: t.Optional[float] = None,
        window_from: t.Union[str, dt.datetime, None] = None,
        window_to: t.Union[str, dt.datetime, None] = None,
        message: t.Optional[str] = None,
        events_searched: t.Optional[int] = None,
        alerts_created: t.Optional[int] = None,
        gap_ms: t.Optional[float] = None,
        execution_uuid: t.Optional[str] = None,
        details: t.Optional[dict] = None,
    ) -> int:
        """Record one rule execution (Kibana's rule monitoring); returns its row id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO rule_executions (rule_id, execution_uuid, started_at, duration_ms, window_from, "
                "window_to, status, message, events_searched, alerts_created, gap_ms, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rule_id, execution_uuid, _iso(started_at), duration_ms, _iso(window_from), _iso(window_to),
                    status, message, events_searched, alerts_created, gap_ms,
                    orjson.dumps(details).decode() if details is not None else None,
                ),
            )
            return int(cursor.lastrowid or 0)

    def list_executions(self, rule_id: t.Optional[str] = None, limit: int = 50) -> list[Execution]:
        """Newest first."""
        sql = (
            "SELECT id, rule_id, execution_uuid, started_at, duration_ms, window_from, window_to, status, message, "
            "events_searched, alerts_created, gap_ms, details FROM rule_executions"
        )
        args: list[t.Any] = []
        if rule_id:
            sql += " WHERE rule_id = ?"
            args.append(rule_id)
        sql += f" ORDER BY started_at DESC, id DESC LIMIT {int(limit)}"
        out = []
        for row in self._conn.execute(sql, args):
            *head, details = row
            out.append(Execution(*head, orjson.loads(details) if details else None))
        return out

    def get_state(self, key: str, default: t.Any = None) -> t.Any:
        row = self._conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else default

    def set_state(self, key: str, value: t.Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, orjson.dumps(value).decode(), js_iso(utc_now())),
            )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _alert_from_row(row: tuple) -> StoredAlert:
    *head, building_block, document = row
    return StoredAlert(*head, building_block=bool(building_block), document=orjson.loads(document))
