"""The event bridge: phone and session pyee events as control events, in the order they happened.

Every event is a flat dict ``{"event": E, "seq": N, "time": T, "call_id": ..., <call
fields>, <event fields>}``: the call's fields (:func:`~.fields.call_fields`) beside what
the event adds (``cause``/``code``/``duration`` on ``ended`` ...), so a client never has
to ask who a ``dtmf_received`` was about. ``seq`` counts from 1 per phone; events reach
every listener synchronously from the pyee handler that saw them, so listeners get them
in exactly the phone's order.

The names (README "Integration") are a contract: registered, unregistered,
registration_failed, connected, disconnected, incoming, outgoing, progress, confirmed,
hold, unhold, remote_hold, remote_unhold, mute, unmute, record, ended, failed,
transfer_progress, dtmf_received, call_error, call_report, agent_state, refused, missed,
wrapup; and, from the integration's own parts, auto_answer and hook_failed.

``wrapup`` is the phone's event whoever files a wrap-up (the console's form, the socket's
``wrapup`` method: both through ``phone.agent.wrapup_filed``), so every client sees it the
same way. The bridge remembers the fields of recently ended calls to give a wrap-up,
which comes after the call, its number, name and queue.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

from ..softphone.api import PhoneAPI, SessionAPI
from .fields import call_fields, report_fields
from .protocol import Notification, encode

logger = logging.getLogger(__name__)

EVENT_NAMES: tuple[str, ...] = (
    "registered", "unregistered", "registration_failed", "connected", "disconnected",
    "incoming", "outgoing", "progress", "confirmed", "hold", "unhold", "remote_hold",
    "remote_unhold", "mute", "unmute", "record", "ended", "failed", "transfer_progress",
    "dtmf_received", "call_error", "call_report", "agent_state", "refused", "missed",
    "wrapup", "auto_answer", "hook_failed",
)
#: How many ended calls are remembered for the wrap-ups that follow them.
REMEMBERED_CALLS = 256
#: status_change flags reported as event pairs (on, off).
FLAG_EVENTS = {"is_hold": ("hold", "unhold"), "remote_hold": ("remote_hold", "remote_unhold"),
               "is_mute": ("mute", "unmute")}

Listener = Callable[[dict[str, Any]], None]


class EventBridge:
    """Follows one phone and hands each event, as a dict, to every listener."""

    def __init__(self, phone: PhoneAPI, *, clock: Callable[[], float] = time.time) -> None:
        self.phone = phone
        self._clock = clock
        self._listeners: list[Listener] = []
        self._seq = 0
        self._phone_handlers: list[tuple[str, Callable[..., None]]] = []
        self._session_handlers: dict[str, list[tuple[SessionAPI, str, Callable[..., None]]]] = {}
        self._ended: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._line_event: dict[str, Any] | None = None
        self._line = b""

    # ----- listeners ----------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def publish(self, event: str, session: SessionAPI | None = None, **fields: Any
                ) -> dict[str, Any]:
        """Build one event (with ``session``'s fields) and hand it to every listener."""
        self._seq += 1
        message: dict[str, Any] = {"event": event, "seq": self._seq,
                                   "time": round(self._clock(), 3)}
        if session is not None:
            message.update(call_fields(session))
        message.update(fields)
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:  # noqa: BLE001 - one broken client must not stop the others
                logger.exception("control event listener failed")
        return message

    def line(self, event: dict[str, Any]) -> bytes:
        """``event`` as its notification line, encoded once however many clients get it."""
        if self._line_event is not event:
            self._line_event = event
            self._line = encode(Notification("event", event))
        return self._line

    def remembered(self, call_id: str) -> dict[str, Any] | None:
        """The last fields of a call that ended recently (for its wrap-up), or None."""
        return self._ended.get(call_id)

    def ended_ids(self) -> list[str]:
        """The recently ended calls remembered, oldest first."""
        return list(self._ended)

    # ----- wiring -------------------------------------------------------------------------
    def attach(self) -> None:
        """Follow the phone (and its calls, present and future)."""
        if self._phone_handlers:
            return
        handlers = {
            "registered": self._on_registered, "unregistered": self._on_unregistered,
            "registration_failed": self._on_registration_failed,
            "connected": self._on_connected, "disconnected": self._on_disconnected,
            "new_session": self._on_new_session, "incoming": self._on_incoming,
            "delete_session": self._on_delete_session,
            "agent_state_change": self._on_agent_state, "refused": self._on_refused,
            "missed": self._on_missed, "wrapup": self._on_wrapup,
        }
        for name, handler in handlers.items():
            guarded = self._guard(handler)
            self.phone.on(name, guarded)
            self._phone_handlers.append((name, guarded))
        for session in list(self.phone.sessions.values()):
            self._follow(session)

    def detach(self) -> None:
        for name, handler in self._phone_handlers:
            self.phone.remove_listener(name, handler)
        self._phone_handlers.clear()
        for call_id in list(self._session_handlers):
            self._unfollow(call_id)

    def _guard(self, handler: Callable[..., None]) -> Callable[..., None]:
        """A pyee handler that never raises into the phone (pyee would re-emit it)."""

        def run(*args: Any) -> None:
            try:
                handler(*args)
            except Exception:  # noqa: BLE001 - the phone must not notice the bridge
                logger.exception("control event bridge failed on %s", handler.__name__)

        return run

    def _follow(self, session: SessionAPI) -> None:
        if session.call_id in self._session_handlers:
            return
        handlers = {
            "progress": self._on_progress, "confirmed": self._on_confirmed,
            "status_change": self._on_status_change, "ended": self._on_ended,
            "failed": self._on_failed, "transfer_progress": self._on_transfer_progress,
            "dtmf_received": self._on_dtmf, "call_report": self._on_call_report,
            "client_error": self._on_client_error,
        }
        registered = []
        for name, handler in handlers.items():
            guarded = self._guard(partial(handler, session))
            session.on(name, guarded)
            registered.append((session, name, guarded))
        self._session_handlers[session.call_id] = registered

    def _unfollow(self, call_id: str) -> None:
        for session, name, handler in self._session_handlers.pop(call_id, []):
            try:
                session.remove_listener(name, handler)
            except Exception:  # noqa: BLE001 - an already-destroyed session is fine
                logger.debug("listener of %s already gone", call_id)

    # ----- phone events -------------------------------------------------------------------
    def _on_registered(self, expires: Any = None, *_: Any) -> None:
        self.publish("registered", expires=expires)

    def _on_unregistered(self, *_: Any) -> None:
        self.publish("unregistered")

    def _on_registration_failed(self, failure: Any = None, *_: Any) -> None:
        self.publish("registration_failed", code=getattr(failure, "code", None),
                     cause=getattr(failure, "cause", str(failure or "")),
                     retry_in=getattr(failure, "retry_in", None))

    def _on_connected(self, *_: Any) -> None:
        self.publish("connected")

    def _on_disconnected(self, reason: Any = "", *_: Any) -> None:
        self.publish("disconnected", reason=str(reason or ""))

    def _on_new_session(self, session: SessionAPI) -> None:
        self._follow(session)
        if session.status.communication_type == "outbound":
            self.publish("outgoing", session)

    def _on_incoming(self, session: SessionAPI) -> None:
        self._follow(session)
        self.publish("incoming", session)

    def _on_delete_session(self, info: Any = None, *_: Any) -> None:
        call_id = info.get("call_id") if isinstance(info, dict) else None
        if call_id:
            self._unfollow(call_id)

    def _on_agent_state(self, state: str, reason: str | None = None, *_: Any) -> None:
        self.publish("agent_state", state=state, reason=reason)

    def _on_refused(self, info: Any = None, *_: Any) -> None:
        self.publish("refused", **_plain(info))

    def _on_missed(self, info: Any = None, *_: Any) -> None:
        self.publish("missed", **_plain(info))

    def _on_wrapup(self, info: Any = None, *_: Any) -> None:
        data = _plain(info)
        call_id = str(data.get("call_id") or "")
        known = {k: v for k, v in (self._ended.get(call_id) or {}).items()
                 if k not in ("event", "seq", "time", "code")}
        known.update({"call_id": call_id, "wrapup_code": data.get("code", ""),
                      "notes": data.get("notes", ""),
                      "timed_out": bool(data.get("timed_out", False))})
        for key in ("number", "name"):
            if data.get(key) and not known.get(key):
                known[key] = data[key]
        self.publish("wrapup", **known)

    # ----- session events -----------------------------------------------------------------
    def _on_progress(self, session: SessionAPI, status: Any = None, *_: Any) -> None:
        self.publish("progress", session, code=status)

    def _on_confirmed(self, session: SessionAPI, *_: Any) -> None:
        self.publish("confirmed", session)

    def _on_status_change(self, session: SessionAPI, new: Any = None, old: Any = None,
                          *_: Any) -> None:
        if new is None or old is None:
            return
        for flag, (on, off) in FLAG_EVENTS.items():
            was, now = getattr(old, flag, False), getattr(new, flag, False)
            if was != now:
                self.publish(on if now else off, session)
        if new.record_status != old.record_status:
            self.publish("record", session)

    def _on_ended(self, session: SessionAPI, info: Any = None, *_: Any) -> None:
        self._finished("ended", session, info)

    def _on_failed(self, session: SessionAPI, info: Any = None, *_: Any) -> None:
        self._finished("failed", session, info)

    def _finished(self, event: str, session: SessionAPI, info: Any) -> None:
        data = _plain(info)
        code = data.get("code", session.end_code)
        message = self.publish(event, session, cause=data.get("cause", ""), code=code,
                               duration=round(float(session.timer.call_duration), 1))
        self._ended[session.call_id] = message
        while len(self._ended) > REMEMBERED_CALLS:
            self._ended.popitem(last=False)

    def _on_transfer_progress(self, session: SessionAPI, info: Any = None, *_: Any) -> None:
        data = _plain(info)
        self.publish("transfer_progress", session, state=data.get("state"),
                     status=data.get("status"))

    def _on_dtmf(self, session: SessionAPI, info: Any = None, *_: Any) -> None:
        data = _plain(info)
        self.publish("dtmf_received", session, digit=data.get("digit"),
                     method=data.get("method"), duration_ms=data.get("duration_ms"))

    def _on_call_report(self, session: SessionAPI, report: Any = None, *_: Any) -> None:
        self.publish("call_report", session, report=report_fields(report))

    def _on_client_error(self, session: SessionAPI, info: Any = None, *_: Any) -> None:
        self.publish("call_error", session, cause=_plain(info).get("cause", ""))


def _plain(info: Any) -> dict[str, Any]:
    return dict(info) if isinstance(info, dict) else {}


__all__ = ["EVENT_NAMES", "EventBridge"]
