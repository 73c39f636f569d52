"""Timer arithmetic and status values of a call (pure functions, fake clock)."""

from __future__ import annotations

import pytest

from agentconsole.softphone.status import CallStatus, SessionTicker, TimerType, advance_timer


def status(**kw: object) -> CallStatus:
    base = CallStatus(call_id="c1", number="1002", communication_type="outbound")
    return base.merged(**kw)


def test_outbound_calling_then_ringing_then_talking() -> None:
    t = TimerType()
    t = advance_timer(t, status(call_status="calling"), 1.5)
    t = advance_timer(t, status(call_status="ringing"), 4.0)
    t = advance_timer(t, status(call_status="talking"), 10.0)
    assert t == TimerType(ring_duration=4.0, calling_duration=1.5, call_duration=10.0,
                          hold_duration=0.0)


def test_inbound_ringing_counts_as_ring_time() -> None:
    s = status(communication_type="inbound", call_status="connecting", is_ring=True)
    t = advance_timer(TimerType(), s, 7.0)
    assert t.ring_duration == 7.0 and t.call_duration == 0.0


def test_hold_duration_is_the_current_spell_and_talk_time_keeps_running() -> None:
    t = advance_timer(TimerType(), status(call_status="talking"), 5.0)
    t = advance_timer(t, status(call_status="talking", is_hold=True), 3.0)
    assert t.hold_duration == 3.0 and t.call_duration == 8.0
    t = advance_timer(t, status(call_status="talking"), 2.0)
    assert t.hold_duration == 0.0 and t.call_duration == 10.0
    t = advance_timer(t, status(call_status="talking", is_hold=True), 1.0)
    assert t.hold_duration == 1.0


def test_negative_or_zero_time_changes_nothing() -> None:
    t = TimerType(1, 2, 3, 4)
    assert advance_timer(t, status(call_status="talking"), 0) is t
    assert advance_timer(t, status(call_status="talking"), -5) is t


def test_ticker_catches_up_after_a_stall_and_freezes_when_stopped() -> None:
    ticker = SessionTicker(started_at=100.0)
    talking = status(call_status="talking")
    ticker.tick(101.0, talking)
    ticker.tick(131.0, talking)  # the loop stalled for 30 s: one tick catches up
    assert ticker.timer.call_duration == 31.0
    ticker.stopped = True
    ticker.tick(200.0, talking)
    assert ticker.timer.call_duration == 31.0


def test_status_merge_rejects_unknown_fields() -> None:
    with pytest.raises(TypeError):
        status(no_such_field=1)
    assert status(is_mute=True).is_mute
