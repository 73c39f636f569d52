"""The call history: rows from the first ring, completion, crash recovery, search, modes."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentconsole.history import (
    MIGRATIONS,
    CallHistory,
    HistoryError,
    default_path,
    disposition_for,
)
from tests.ui.conftest import make_config
from tests.ui.fakes import FakePhone


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def history(tmp_path: Path, clock: Clock) -> CallHistory:
    h = CallHistory(tmp_path / "h" / "history.sqlite3", clock=clock)
    yield h  # type: ignore[misc]
    h.close()


def test_default_path_follows_xdg_data_home() -> None:
    assert default_path({"XDG_DATA_HOME": "/x"}) == Path("/x/agentconsole/history.sqlite3")
    assert default_path({}).parts[-3:] == ("share", "agentconsole", "history.sqlite3")


def test_files_are_private_and_wal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    os.umask(0o022)
    h = CallHistory()
    h.start_call("c1", "inbound", "5551")
    path = tmp_path / "data" / "agentconsole" / "history.sqlite3"
    assert h.path == path
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
    assert h.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert h.schema_version == len(MIGRATIONS)
    h.close()


def test_existing_group_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"")
    path.chmod(0o644)
    CallHistory(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(HistoryError, match="newer"):
        CallHistory(path)


def test_row_exists_from_the_first_ring(history: CallHistory, clock: Clock) -> None:
    history.start_call("c1", "inbound", "5551", name="Carol", company="Globex", queue="Sup")
    entry = history.get("c1")
    assert entry is not None and entry.is_open
    assert (entry.number, entry.name, entry.company, entry.queue) == (
        "5551", "Carol", "Globex", "Sup")
    assert entry.started_at == clock.now and entry.ended_at is None


def test_contact_is_the_last_name_seen_with_a_number(history: CallHistory,
                                                     clock: Clock) -> None:
    history.start_call("c1", "inbound", "5551", name="Carol", company="Globex")
    clock.now += 10
    history.start_call("c2", "outbound", "5551", name="5551")  # a call back, unnamed
    clock.now += 10
    history.start_call("c3", "inbound", "5552", name="5552")
    assert history.contact("5551") == ("Carol", "Globex")
    assert history.contact("5552") is None and history.contact("5553") is None


def test_completion_sets_times_duration_and_disposition(history: CallHistory,
                                                       clock: Clock) -> None:
    history.start_call("c1", "inbound", "5551")
    clock.now += 7
    history.answer_call("c1")
    clock.now += 65
    history.end_call("c1", "answered", cause="Terminated", recording_path="/r/c1.wav")
    entry = history.get("c1")
    assert entry is not None and not entry.is_open
    assert entry.disposition == "answered" and entry.end_cause == "Terminated"
    assert entry.answered_at == entry.started_at + 7
    assert entry.duration == 65 and entry.ended_at == entry.started_at + 72
    assert entry.recording_path == "/r/c1.wav"
    assert history.set_wrapup("c1", "Sale", "called back")
    entry = history.get("c1")
    assert entry is not None and (entry.wrapup_code, entry.wrapup_notes) == ("Sale",
                                                                             "called back")
    assert not history.set_wrapup("nope", "x", "")
    with pytest.raises(ValueError):
        history.end_call("c1", "exploded")


def test_open_rows_are_closed_as_interrupted_on_restart(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "history.sqlite3"
    first = CallHistory(path, clock=clock)
    first.start_call("c1", "inbound", "5551")
    first.answer_call("c1")
    clock.now += 30
    first.heartbeat("c1")
    clock.now += 3  # no write: under the heartbeat interval
    first.heartbeat("c1")
    first.db.close()  # no end_call: the process "died"
    clock.now += 600
    second = CallHistory(path, clock=clock)
    assert second.interrupted == 1
    entry = second.get("c1")
    assert entry is not None and entry.disposition == "interrupted"
    assert entry.ended_at == entry.started_at + 30 and entry.duration == 30
    second.close()


def test_a_killed_process_leaves_a_row_that_the_next_start_closes(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    script = textwrap.dedent(f"""
        import os, signal
        from agentconsole.history import CallHistory
        h = CallHistory({str(path)!r})
        h.start_call("killed", "inbound", "5551", name="Carol")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], timeout=30, check=False)
    assert proc.returncode == -signal.SIGKILL
    history = CallHistory(path)
    entry = history.get("killed")
    assert entry is not None and entry.disposition == "interrupted" and entry.name == "Carol"
    history.close()


def test_open_rows_of_a_live_other_process_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    first = CallHistory(path)
    first.start_call("c1", "inbound", "5551")
    first.db.execute("UPDATE calls SET pid=?", (os.getppid(),))  # alive, not us
    second = CallHistory(path)
    assert second.interrupted == 0
    entry = second.get("c1")
    assert entry is not None and entry.is_open
    first.close()
    second.close()


def test_search_recent_and_numbers(history: CallHistory, clock: Clock) -> None:
    for i, (number, name, company) in enumerate([("5551", "Carol", "Globex"),
                                                 ("5552", "Dave", "Initech"),
                                                 ("100%", "Per_cent", "")]):
        clock.now += 10
        history.start_call(f"c{i}", "inbound", number, name=name, company=company)
        history.end_call(f"c{i}", "answered")
    history.set_wrapup("c1", "Complaint", "printer on fire")
    assert [e.call_id for e in history.recent(2)] == ["c2", "c1"]
    assert [e.call_id for e in history.search("glob")] == ["c0"]
    assert [e.call_id for e in history.search("FIRE")] == ["c1"]
    assert [e.call_id for e in history.search("%")] == ["c2"]  # LIKE wildcards escaped
    assert [e.call_id for e in history.search("_")] == ["c2"]
    assert len(history.search("  ")) == 3
    assert history.numbers()[0] == ("Per_cent", "100%")


def test_missed_count_and_mark_seen(history: CallHistory, clock: Clock) -> None:
    start = clock.now
    for i in range(3):
        clock.now += 100
        history.start_call(f"m{i}", "inbound", "5551")
        history.end_call(f"m{i}", "missed", cause="Canceled")
    history.start_call("a", "inbound", "5552")
    history.end_call("a", "answered")
    assert history.missed_count() == 3
    assert history.missed_count(since=start + 150) == 2
    assert history.mark_seen() == 3
    assert history.missed_count() == 0


@pytest.mark.parametrize(("direction", "established", "cause", "code", "expected"), [
    ("inbound", True, "Terminated", None, "answered"),
    ("inbound", True, "Transferred", None, "transferred"),
    ("inbound", False, "Canceled", 487, "missed"),
    ("inbound", False, "No Answer", 480, "missed"),
    ("inbound", False, "Rejected", 486, "rejected"),
    ("inbound", False, "Incompatible SDP", 488, "failed"),
    ("outbound", False, "Busy", 486, "busy"),
    ("outbound", False, "Decline", 603, "rejected"),
    ("outbound", False, "Canceled", None, "canceled"),
    ("outbound", False, "Not Found", 404, "failed"),
])
def test_disposition_rules(direction: str, established: bool, cause: str, code: int | None,
                           expected: str) -> None:
    assert disposition_for(direction, established, cause, code) == expected


async def test_attach_follows_a_phone(history: CallHistory, clock: Clock) -> None:
    phone = FakePhone(make_config())
    history.attach(phone)
    ringing = phone.ring("5551", "Carol", "Globex", queue="Support")
    assert history.get(ringing.call_id) is not None  # the row exists while it rings
    clock.now += 4
    await ringing.answer()
    await ringing.start_record()
    ringing.recording_path = "/rec/a.wav"  # type: ignore[attr-defined]
    await ringing.stop_record()
    clock.now += 20
    ringing.finish("ended", "Terminated")
    missed = phone.ring("5552", "Dave")
    missed.finish("failed", "Canceled")
    out = await phone.call("5553")
    out.end_code = 486
    out.finish("failed", "Busy")
    entries = {e.call_id: e for e in history.recent()}
    first = entries[ringing.call_id]
    assert (first.disposition, first.duration, first.queue) == ("answered", 20, "Support")
    assert first.recording_path == "/rec/a.wav"
    assert entries[missed.call_id].disposition == "missed"
    assert entries[out.call_id].disposition == "busy"
    assert entries[out.call_id].direction == "outbound"
    assert history.missed_count() == 1
    phone.emit("refused", {"call_id": "r-1", "number": "5555", "name": "Erin", "code": 480,
                           "reason": "Away (Lunch)"})  # turned away before it rang
    refused = history.get("r-1")
    assert refused is not None and (refused.disposition, refused.end_code, refused.end_cause) \
        == ("refused", 480, "Away (Lunch)") and not refused.is_open
    assert history.missed_count() == 2  # a call back is owed to Erin too
    history.detach()
    late = phone.ring("5554")
    assert history.get(late.call_id) is None


async def test_a_broken_database_never_breaks_the_phone(history: CallHistory) -> None:
    phone = FakePhone(make_config())
    history.attach(phone)
    history.db.close()
    session = phone.ring("5551")  # the insert fails; the call still rings
    assert phone.sessions[session.call_id] is session
    session.hangup()
    assert not phone.sessions
