"""The call history: one SQLite row per call, written from the first ring or dial.

Why a row exists before the call is over: an agent's console can be killed mid-call (a
laptop lid, an OOM kill, a closed SSH session), and the call must still be in the
history afterwards. So :meth:`CallHistory.start_call` inserts the row at once, the call's
events update it, and a heartbeat (``last_seen``) moves while it runs; the next process
to open the database closes any row a dead process left open with disposition
``interrupted`` and ``ended_at = last_seen``.

Storage: ``$XDG_DATA_HOME/agentconsole/history.sqlite3`` (default
``~/.local/share/...``), directory 0700 and file 0600 because numbers, names and notes
are personal data; WAL journal so a reader (the history screen) never blocks the writer
and a crash never corrupts committed rows. The schema version is SQLite's
``user_version`` pragma: each entry of ``MIGRATIONS`` moves it one step forward.

Only the standard library here (no UI imports): scripts and the console share it, and a
database error is logged, never raised into the phone's event handlers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

from . import paths

logger = logging.getLogger(__name__)

DISPOSITIONS = ("answered", "missed", "rejected", "busy", "failed", "canceled",
                "transferred", "interrupted", "refused")
#: Inbound calls the agent did not take and may want to call back (the missed badge):
#: rang out or was given up, or turned away by the agent state before it rang.
UNSEEN = "disposition IN ('missed', 'refused') AND seen=0"
#: How often a running call's ``last_seen`` is written (seconds): the precision of the
#: end time of a call whose process was killed.
HEARTBEAT_S = 5.0
BUSY_CODES = frozenset({486, 600})
DECLINE_CODES = frozenset({603})

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        call_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        number TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL DEFAULT '',
        company TEXT NOT NULL DEFAULT '',
        queue TEXT NOT NULL DEFAULT '',
        did TEXT NOT NULL DEFAULT '',
        started_at REAL NOT NULL,
        answered_at REAL,
        ended_at REAL,
        last_seen REAL NOT NULL,
        duration REAL NOT NULL DEFAULT 0,
        disposition TEXT,
        end_cause TEXT NOT NULL DEFAULT '',
        end_code INTEGER,
        wrapup_code TEXT NOT NULL DEFAULT '',
        wrapup_notes TEXT NOT NULL DEFAULT '',
        wrapup_at REAL,
        recording_path TEXT NOT NULL DEFAULT '',
        seen INTEGER NOT NULL DEFAULT 0,
        pid INTEGER
    );
    CREATE INDEX calls_started ON calls (started_at DESC);
    CREATE INDEX calls_call_id ON calls (call_id);
    CREATE INDEX calls_open ON calls (disposition) WHERE disposition IS NULL;
    """,
)


class HistoryError(Exception):
    """The history database cannot be used (unreadable, newer schema, disk full)."""


@dataclass(frozen=True)
class HistoryEntry:
    """One call as stored. Times are epoch seconds; ``disposition`` is None while open."""

    id: int
    call_id: str
    direction: str
    number: str
    name: str
    company: str
    queue: str
    did: str
    started_at: float
    answered_at: float | None
    ended_at: float | None
    last_seen: float
    duration: float
    disposition: str | None
    end_cause: str
    end_code: int | None
    wrapup_code: str
    wrapup_notes: str
    wrapup_at: float | None
    recording_path: str
    seen: bool
    pid: int | None

    @property
    def is_open(self) -> bool:
        return self.disposition is None


_COLUMNS = ", ".join(f.name for f in fields(HistoryEntry))


def default_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/agentconsole/history.sqlite3`` (``~/.local/share`` by default)."""
    return paths.history_db_path(env)


def disposition_for(direction: str, established: bool, cause: str, code: int | None) -> str:
    """How a finished call is filed, from the session's end cause and SIP code.

    Inbound: the caller gave up or nobody answered in time -> missed; we declined ->
    rejected. Outbound: 486/600 -> busy, 603 -> rejected, our own CANCEL -> canceled.
    A talking call handed over by REFER (RFC 3515) ends with cause "Transferred".
    """
    if established:
        return "transferred" if cause == "Transferred" else "answered"
    if direction == "inbound":
        if cause == "Rejected":
            return "rejected"
        if cause in ("Canceled", "No Answer", "Request Terminated") or code == 487:
            return "missed"
        return "failed"
    if code in BUSY_CODES or cause == "Busy":
        return "busy"
    if code in DECLINE_CODES:
        return "rejected"
    if cause == "Canceled":
        return "canceled"
    return "failed"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


class CallHistory:
    """The history database. ``CallHistory(path=None, *, clock=time.time)``.

    Raises :class:`HistoryError` when the file cannot be opened or was written by a
    newer schema. Use from one thread (the asyncio loop's).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.clock = clock
        self._open: dict[str, int] = {}  # call_id -> row id of this process's open rows
        self._beat: dict[str, float] = {}
        self._attached: list[tuple[Any, str, Callable[..., None]]] = []
        self._session_handlers: dict[str, list[tuple[Any, str, Callable[..., None]]]] = {}
        try:
            self._prepare_files(fix_dir_mode=path is None)
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=2000")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open the call history {self.path}: {exc}") from exc
        self.interrupted = self.close_interrupted()

    # ----- files and schema ---------------------------------------------------------------
    def _prepare_files(self, fix_dir_mode: bool) -> None:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask
        elif fix_dir_mode:
            os.chmod(directory, 0o700)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(self.path, 0o600)  # SQLite gives -wal and -shm the database's mode

    def _migrate(self) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise HistoryError(f"{self.path} has schema version {version}; this version "
                               f"knows up to {len(MIGRATIONS)} (written by a newer release?)")
        for step in range(version, len(MIGRATIONS)):
            with self._transaction():
                self.db.executescript(f"BEGIN;{MIGRATIONS[step]}")
                self.db.execute(f"PRAGMA user_version = {step + 1}")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextlib.contextmanager
    def _transaction(self) -> Any:
        try:
            yield
            if self.db.in_transaction:
                self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.detach()
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    def close_interrupted(self) -> int:
        """Close rows a dead process left open: ``interrupted``, ended at ``last_seen``.

        Rows owned by another live process (a second console on the same account) stay.
        """
        rows = self.db.execute(
            "SELECT id, pid FROM calls WHERE disposition IS NULL").fetchall()
        me = os.getpid()
        dead = [r["id"] for r in rows if r["pid"] is None or r["pid"] == me
                or not _pid_alive(int(r["pid"]))]
        for row_id in dead:
            self.db.execute(
                "UPDATE calls SET disposition='interrupted', ended_at=last_seen, "
                "end_cause='Interrupted', duration=CASE WHEN answered_at IS NULL THEN 0 "
                "ELSE MAX(0, last_seen - answered_at) END WHERE id=?", (row_id,))
        if dead:
            logger.info("closed %d call(s) left open by a stopped console", len(dead))
        return len(dead)

    # ----- writing ------------------------------------------------------------------------
    def start_call(self, call_id: str, direction: str, number: str, *, name: str = "",
                   company: str = "", queue: str = "", did: str = "",
                   at: float | None = None) -> int:
        """Insert the row of a call that starts ringing or is dialled; returns its id."""
        now = self.clock() if at is None else at
        cur = self.db.execute(
            "INSERT INTO calls (call_id, direction, number, name, company, queue, did, "
            "started_at, last_seen, pid) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (call_id, direction, number, name, company, queue, did, now, now, os.getpid()))
        row_id = int(cur.lastrowid or 0)
        self._open[call_id] = row_id
        self._beat[call_id] = now
        return row_id

    def record_refused(self, call_id: str, number: str, *, name: str = "", code: int = 0,
                       reason: str = "", at: float | None = None) -> None:
        """A call turned away before it rang (the phone's ``refused`` event): one closed
        row, so the agent can see who called while Away or in DND and call back."""
        now = self.clock() if at is None else at
        self.db.execute(
            "INSERT INTO calls (call_id, direction, number, name, started_at, ended_at, "
            "last_seen, disposition, end_cause, end_code, pid) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (call_id, "inbound", number, name, now, now, now, "refused", reason, code or None,
             os.getpid()))

    def _row_id(self, call_id: str) -> int | None:
        row_id = self._open.get(call_id)
        if row_id is not None:
            return row_id
        row = self.db.execute("SELECT id FROM calls WHERE call_id=? ORDER BY id DESC LIMIT 1",
                              (call_id,)).fetchone()
        return int(row["id"]) if row is not None else None

    def answer_call(self, call_id: str, *, at: float | None = None) -> None:
        now = self.clock() if at is None else at
        row_id = self._open.get(call_id)
        if row_id is not None:
            self.db.execute("UPDATE calls SET answered_at=COALESCE(answered_at, ?), "
                            "last_seen=? WHERE id=?", (now, now, row_id))

    def update_call(self, call_id: str, **values: Any) -> None:
        """Identity or recording changes of an open call (number, name, recording_path...)."""
        allowed = {"number", "name", "company", "queue", "did", "recording_path"}
        changes = {k: v for k, v in values.items() if k in allowed and v is not None}
        row_id = self._open.get(call_id)
        if row_id is None or not changes:
            return
        assignments = ", ".join(f"{key}=?" for key in changes)
        self.db.execute(f"UPDATE calls SET {assignments} WHERE id=?",  # noqa: S608 - fixed keys
                        (*changes.values(), row_id))

    def heartbeat(self, call_id: str, *, at: float | None = None, force: bool = False) -> None:
        """Move ``last_seen`` (at most every :data:`HEARTBEAT_S` unless ``force``)."""
        now = self.clock() if at is None else at
        row_id = self._open.get(call_id)
        if row_id is None or (not force and now - self._beat.get(call_id, 0.0) < HEARTBEAT_S):
            return
        self._beat[call_id] = now
        self.db.execute("UPDATE calls SET last_seen=? WHERE id=?", (now, row_id))

    def end_call(self, call_id: str, disposition: str, *, cause: str = "",
                 code: int | None = None, recording_path: str | None = None,
                 at: float | None = None) -> None:
        """Complete the row: end time, talk duration, disposition, cause."""
        if disposition not in DISPOSITIONS:
            raise ValueError(f"unknown disposition {disposition!r}")
        now = self.clock() if at is None else at
        row_id = self._open.pop(call_id, None)
        self._beat.pop(call_id, None)
        if row_id is None:
            return
        self.db.execute(
            "UPDATE calls SET ended_at=?, last_seen=?, disposition=?, end_cause=?, end_code=?, "
            "recording_path=COALESCE(?, recording_path), duration=CASE WHEN answered_at IS "
            "NULL THEN 0 ELSE MAX(0, ? - answered_at) END WHERE id=?",
            (now, now, disposition, cause, code, recording_path, now, row_id))

    def set_wrapup(self, call_id: str, code: str, notes: str, *,
                   at: float | None = None) -> bool:
        """File the agent's wrap-up on the (latest) row of ``call_id``; False if none."""
        row_id = self._row_id(call_id)
        if row_id is None:
            return False
        now = self.clock() if at is None else at
        self.db.execute("UPDATE calls SET wrapup_code=?, wrapup_notes=?, wrapup_at=? "
                        "WHERE id=?", (code, notes, now, row_id))
        return True

    def mark_seen(self) -> int:
        """The agent looked at the history: missed calls stop counting for the badge."""
        cur = self.db.execute(f"UPDATE calls SET seen=1 WHERE {UNSEEN}")
        return int(cur.rowcount)

    # ----- reading ------------------------------------------------------------------------
    def _entries(self, sql: str, args: tuple[Any, ...]) -> list[HistoryEntry]:
        rows = self.db.execute(sql, args).fetchall()
        return [HistoryEntry(**{**dict(row), "seen": bool(row["seen"])}) for row in rows]

    def recent(self, limit: int = 100) -> list[HistoryEntry]:
        """Newest first."""
        return self._entries(f"SELECT {_COLUMNS} FROM calls ORDER BY started_at DESC, id DESC "
                             "LIMIT ?", (limit,))

    def search(self, text: str, limit: int = 100) -> list[HistoryEntry]:
        """Calls whose number, name, company, queue, disposition or wrap-up contains
        ``text`` (case-insensitive), newest first; empty text is :meth:`recent`."""
        text = text.strip()
        if not text:
            return self.recent(limit)
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where = " OR ".join(f"{col} LIKE ? ESCAPE '\\'" for col in (
            "number", "name", "company", "queue", "did", "disposition", "wrapup_code",
            "wrapup_notes"))
        return self._entries(f"SELECT {_COLUMNS} FROM calls WHERE {where} "  # noqa: S608
                             "ORDER BY started_at DESC, id DESC LIMIT ?",
                             (*([pattern] * 8), limit))

    def get(self, call_id: str) -> HistoryEntry | None:
        found = self._entries(f"SELECT {_COLUMNS} FROM calls WHERE call_id=? "
                              "ORDER BY id DESC LIMIT 1", (call_id,))
        return found[0] if found else None

    def missed_count(self, since: float | None = None) -> int:
        """Missed inbound calls not yet seen (optionally only those started since)."""
        sql = f"SELECT COUNT(*) FROM calls WHERE {UNSEEN}"
        args: tuple[Any, ...] = ()
        if since is not None:
            sql += " AND started_at >= ?"
            args = (since,)
        return int(self.db.execute(sql, args).fetchone()[0])

    def numbers(self, limit: int = 50) -> list[tuple[str, str]]:
        """Distinct (name, number) of recent calls, newest first (dial completion)."""
        rows = self.db.execute(
            "SELECT name, number, MAX(started_at) AS last FROM calls WHERE number != '' "
            "GROUP BY number ORDER BY last DESC LIMIT ?", (limit,)).fetchall()
        return [(str(r["name"]), str(r["number"])) for r in rows]

    def contact(self, number: str) -> tuple[str, str] | None:
        """(name, company) last seen with ``number``, None if it never had a name: what a
        call back shows before the other side says who it is."""
        row = self.db.execute(
            "SELECT name, company FROM calls WHERE number = ? AND name != '' AND name != number "
            "ORDER BY started_at DESC LIMIT 1", (number,)).fetchone()
        return (str(row["name"]), str(row["company"])) if row is not None else None

    # ----- following a phone ----------------------------------------------------------------
    def attach(self, phone: Any, *, wrapups: bool = False) -> None:
        """Record every call of ``phone`` (a Phone, or anything with its events).

        ``wrapups=True`` also files the phone's ``wrapup`` events (``agentconsole serve``,
        a script); the console files its form's wrap-ups itself, to show a failure.
        """
        events: list[tuple[str, Callable[..., None]]] = [
            ("new_session", self._on_new_session), ("refused", self._on_refused)]
        if wrapups:
            events.append(("wrapup", self._on_wrapup))
        handlers = {event: self._safe(fn) for event, fn in events}
        for event, handler in handlers.items():
            phone.on(event, handler)
            self._attached.append((phone, event, handler))
        handler = handlers["new_session"]
        for session in list(getattr(phone, "sessions", {}).values()):
            handler(session)

    def detach(self) -> None:
        for emitter, event, handler in self._attached:
            with contextlib.suppress(Exception):
                emitter.remove_listener(event, handler)
        self._attached.clear()
        for call_id in list(self._session_handlers):
            self._unhook(call_id)

    def _safe(self, fn: Callable[..., None]) -> Callable[..., None]:
        """A database problem must never reach the phone's event loop."""
        def run(*args: Any) -> None:
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - history is best effort next to the call
                logger.exception("call history: could not record an event")
        return run

    def _on_new_session(self, session: Any) -> None:
        call_id = session.call_id
        if call_id in self._session_handlers:
            return
        s = session.status
        self.start_call(call_id, s.communication_type, s.number, name=s.name,
                        company=s.company, queue=s.queue, did=s.did)
        hooks = []
        for event, fn in (("accepted", self._on_accepted), ("ended", self._on_finished),
                          ("failed", self._on_finished), ("status_change", self._on_status),
                          ("static_status_change", self._on_static),
                          ("update_timer", self._on_timer)):
            handler = self._safe(partial(fn, session))
            session.on(event, handler)
            hooks.append((session, event, handler))
        self._session_handlers[call_id] = hooks

    def _on_wrapup(self, info: Any = None, *_: Any) -> None:
        if isinstance(info, dict) and info.get("call_id"):
            self.set_wrapup(str(info["call_id"]), str(info.get("code") or ""),
                            str(info.get("notes") or ""))

    def _on_refused(self, info: Any = None, *_: Any) -> None:
        if isinstance(info, dict):
            self.record_refused(str(info.get("call_id") or ""), str(info.get("number") or ""),
                                name=str(info.get("name") or ""),
                                code=int(info.get("code") or 0),
                                reason=str(info.get("reason") or ""))

    def _on_accepted(self, session: Any, *_: Any) -> None:
        self.answer_call(session.call_id)

    def _on_status(self, session: Any, new: Any = None, old: Any = None, *_: Any) -> None:
        if new is None or old is None:
            return
        changed = {key: getattr(new, key) for key in ("number", "name", "company")
                   if getattr(new, key) != getattr(old, key)}
        if new.record_status != old.record_status:
            changed["recording_path"] = getattr(session, "recording_path", None)
        if changed:
            self.update_call(session.call_id, **changed)

    def _on_static(self, session: Any, new: Any = None, old: Any = None, *_: Any) -> None:
        """A name or company set on the call (the console names a call back)."""
        if new is None or old is None:
            return
        changed = {key: getattr(new, key) or "" for key in ("name", "company")
                   if getattr(new, key) != getattr(old, key)}
        if changed:
            self.update_call(session.call_id, **changed)

    def _on_timer(self, session: Any, *_: Any) -> None:
        self.heartbeat(session.call_id)

    def _on_finished(self, session: Any, info: Any = None, *_: Any) -> None:
        call_id = session.call_id
        info = info if isinstance(info, Mapping) else {}
        cause = str(info.get("cause") or getattr(session, "end_cause", "") or "")
        code = info.get("code", getattr(session, "end_code", None))
        established = bool(getattr(session, "established", False))
        disposition = disposition_for(session.status.communication_type, established,
                                      cause, code)
        self.end_call(call_id, disposition, cause=cause, code=code,
                      recording_path=getattr(session, "recording_path", None))
        self._unhook(call_id)

    def _unhook(self, call_id: str) -> None:
        for emitter, event, handler in self._session_handlers.pop(call_id, []):
            with contextlib.suppress(Exception):
                emitter.remove_listener(event, handler)
