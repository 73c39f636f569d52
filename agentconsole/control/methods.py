"""The control socket's method table: each JSON-RPC method as a call on the softphone's API.

Methods (README "Integration"; a contract, extended never changed): ``status``;
``dial {number}``; with an optional ``call_id`` — ``answer``, ``reject {code?}``,
``hangup``, ``hold``, ``unhold``, ``mute``, ``unmute``, ``dtmf {digits}``,
``blind_transfer {target}``, ``consult {number}``, ``complete_transfer``,
``cancel_transfer``, ``record_start``, ``record_pause``, ``record_resume``,
``record_stop``; ``agent_state {state, reason?}``; and the extensions
``auto_answer {enabled?, delay_s?}`` and ``wrapup {call_id?, code?, notes?}``.
(``subscribe`` belongs to a connection: :mod:`.peer`.)

Which call: ``call_id`` when given (an unknown one is -211, the SDK's
NOT_FOUND_CALL_ID); otherwise the phone's current call — or, for ``answer`` and
``reject``, the oldest ringing one. A call action answers with the call's fields after
the action (:func:`~.fields.call_fields`), ``dial`` and ``consult`` with the new call's.
A refused action is the SDK's code (-205 too many calls, -208 too fast, -209 bad number,
-210 a call still being set up, -200 otherwise) with the phone's readable message.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..errors import AgentConsoleError, PhoneError
from ..softphone.api import PhoneAPI, SessionAPI
from .fields import call_fields, phone_status
from .params import Params
from .protocol import METHOD_NOT_FOUND, RpcError
from .targets import TargetError, dial_target

AGENT_STATES = ("available", "away", "acw", "dnd", "offline")
REJECT_CODES = (486, 603, 480)
_DTMF = re.compile(r"[0-9A-Da-d*#,]+")

Handler = Callable[[Params], Awaitable[Any]]
#: One call action: a Session method, sync or async, whose answer may be a bool.
CallAction = Callable[[SessionAPI], object]


class AutoAnswerControl(Protocol):
    """What the ``auto_answer`` method needs of the auto-answer component."""

    def state(self) -> dict[str, Any]: ...
    def configure(self, enabled: bool | None = None,
                  delay_s: float | None = None) -> dict[str, Any]: ...


#: ``file_wrapup(call_id or None, code, notes)`` -> what was filed (a dict).
WrapupFiler = Callable[[str | None, str, str], dict[str, Any]]


def not_found(message: str) -> RpcError:
    return RpcError(int(PhoneError.NOT_FOUND_CALL_ID), message)


class Methods:
    """Runs one method on ``phone`` (``account``: its AOR, for ``status``); raises
    :class:`RpcError` for the client to see."""

    def __init__(self, phone: PhoneAPI, *, account: str = "",
                 auto_answer: AutoAnswerControl | None = None,
                 file_wrapup: WrapupFiler | None = None) -> None:
        self.phone = phone
        self.account = account
        self.auto_answer = auto_answer
        self.file_wrapup = file_wrapup
        #: Where methods run (a copy per call); None: the connection's own task. The
        #: console sets its own context, so a socket command is handled as its keys are:
        #: the phone events it causes reach the console's handlers inside the app
        #: (Textual finds its app through a context variable).
        self.context: contextvars.Context | None = None
        call = ("call_id",)
        self._table: dict[str, tuple[Handler, tuple[str, ...]]] = {
            "status": (self.status, ()),
            "dial": (self.dial, ("number",)),
            "answer": (self.answer, call),
            "reject": (self.reject, (*call, "code")),
            "hangup": (self._action(lambda s: s.hangup()), call),
            "hold": (self._action(lambda s: s.hold()), call),
            "unhold": (self._action(lambda s: s.unhold()), call),
            "mute": (self._action(lambda s: s.mute()), call),
            "unmute": (self._action(lambda s: s.unmute()), call),
            "dtmf": (self.dtmf, (*call, "digits")),
            "blind_transfer": (self.blind_transfer, (*call, "target")),
            "consult": (self.consult, (*call, "number")),
            "complete_transfer": (self.complete_transfer, call),
            "cancel_transfer": (self.cancel_transfer, call),
            "record_start": (self._action(lambda s: s.start_record(), changed=True), call),
            "record_pause": (self._action(lambda s: s.pause_record(), changed=True), call),
            "record_resume": (self._action(lambda s: s.resume_record(), changed=True), call),
            "record_stop": (self._action(lambda s: s.stop_record(), changed=True), call),
            "agent_state": (self.agent_state, ("state", "reason")),
            "auto_answer": (self.set_auto_answer, ("enabled", "delay_s")),
            "wrapup": (self.wrapup, (*call, "code", "notes")),
        }

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._table)

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Run ``method``; raises :class:`RpcError` with the code the client sees."""
        if self.context is None:
            return await self._call(method, params)
        task = asyncio.get_running_loop().create_task(self._call(method, params),
                                                      context=self.context.copy())
        return await task

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        entry = self._table.get(method)
        if entry is None:
            raise RpcError(METHOD_NOT_FOUND, f"unknown method {method!r}",
                           {"methods": [*self._table, "subscribe", "unsubscribe"]})
        handler, allowed = entry
        try:
            return await handler(Params(method, params, allowed))
        except AgentConsoleError as exc:
            code = exc.code if exc.code is not None else int(PhoneError.UNKNOWN_ERROR)
            raise RpcError(code, exc.message, {"title": exc.title}) from exc

    # ----- which call ----------------------------------------------------------------------
    def _session(self, p: Params) -> SessionAPI:
        """``call_id``'s call, else the current one (the only connected call will do).

        A call still ringing in is never the default: after the talking call ends the
        phone's current call may be one that rings, and a ``hangup`` meant for the call
        just finished must not turn a new caller away (``reject`` is for that)."""
        call_id = p.text("call_id")
        if call_id is not None:
            return self.phone.get_session(call_id)
        current = self.phone.current_session
        if current is not None and not current.is_ended and not current.status.is_ring:
            return current
        live = [s for s in self.phone.sessions.values()
                if not s.is_ended and not s.status.is_ring]
        if len(live) == 1:
            return live[0]
        raise not_found("there is no current call: give call_id")

    def _ringing(self, p: Params) -> SessionAPI:
        call_id = p.text("call_id")
        if call_id is not None:
            return self.phone.get_session(call_id)
        ringing = self.phone.incoming_list
        if not ringing:
            raise not_found("no call is ringing")
        return ringing[0]

    def _consult_leg(self, p: Params) -> SessionAPI:
        """The consult leg of the chosen call (itself, when it is one)."""
        base = self._session(p)
        if base.status.is_transfer:
            return base
        for session in self.phone.sessions.values():
            parent = session.status.transfer_parent
            if parent is not None and parent.call_id == base.call_id and not session.is_ended:
                return session
        raise not_found(f"call {base.call_id} has no consultation call")

    # ----- methods -------------------------------------------------------------------------
    async def status(self, p: Params) -> dict[str, Any]:
        auto = self.auto_answer.state() if self.auto_answer is not None else None
        return phone_status(self.phone, account=self.account, auto_answer=auto)

    async def dial(self, p: Params) -> dict[str, Any]:
        session = await self.phone.call(_target(p, "number"))
        return call_fields(session)

    async def answer(self, p: Params) -> dict[str, Any]:
        session = self._ringing(p)
        await session.answer()
        return call_fields(session)

    async def reject(self, p: Params) -> dict[str, Any]:
        session = self._ringing(p)
        code = p.integer("code", REJECT_CODES)
        if not session.status.is_ring:
            raise not_found(f"call {session.call_id} is not ringing")
        session.reject(code)
        return call_fields(session)

    async def dtmf(self, p: Params) -> dict[str, Any]:
        digits = p.required_text("digits")
        if not _DTMF.fullmatch(digits):
            raise p.error("digits must be DTMF characters (0-9 * # A-D, ',' pauses)")
        session = self._session(p)
        await session.dtmf(digits)
        return call_fields(session)

    async def blind_transfer(self, p: Params) -> dict[str, Any]:
        target = _target(p, "target")
        session = self._session(p)
        await session.blind_transfer(target)
        return call_fields(session)

    async def consult(self, p: Params) -> dict[str, Any]:
        number = _target(p, "number")
        parent = self._session(p)
        leg = await self.phone.call(number, transfer_parent=parent.call_id)
        return call_fields(leg)

    async def complete_transfer(self, p: Params) -> dict[str, Any]:
        leg = self._consult_leg(p)
        await leg.attended_transfer()
        return call_fields(leg)

    async def cancel_transfer(self, p: Params) -> dict[str, Any]:
        leg = self._consult_leg(p)
        await leg.cancel_transfer()
        return call_fields(leg)

    def _action(self, action: CallAction, *, changed: bool = False) -> Handler:
        """A method that is ``action(session)`` on the chosen call (awaited when it is a
        coroutine); ``changed`` adds whether it did anything (the recording methods)."""

        async def run(p: Params) -> dict[str, Any]:
            session = self._session(p)
            result = action(session)
            if inspect.isawaitable(result):
                result = await result
            fields = call_fields(session)
            if changed:
                fields["changed"] = bool(result)
            return fields

        return run

    async def agent_state(self, p: Params) -> dict[str, Any]:
        state = p.required_text("state")
        if state not in AGENT_STATES:
            raise p.error(f"state must be one of {', '.join(AGENT_STATES)}")
        self.phone.agent.set(state, p.text("reason"))
        now = self.phone.agent.state
        return {"state": str(now.status), "reason": now.reason or None}

    async def set_auto_answer(self, p: Params) -> dict[str, Any]:
        if self.auto_answer is None:
            raise RpcError(METHOD_NOT_FOUND, "auto-answer is not available here")
        enabled = p.flag("enabled")
        delay = p.number("delay_s", 0, 60)
        return self.auto_answer.configure(enabled, delay)

    async def wrapup(self, p: Params) -> dict[str, Any]:
        if self.file_wrapup is None:
            raise RpcError(METHOD_NOT_FOUND, "wrap-ups are filed in the console's form "
                                             "here; the socket only reports them")
        code = p.raw.get("code", "")
        notes = p.raw.get("notes", "")
        if not isinstance(code, str) or not isinstance(notes, str):
            raise p.error("code and notes must be strings")
        return self.file_wrapup(p.text("call_id"), code, notes)


def _target(p: Params, name: str) -> str:
    try:
        return dial_target(p.required_text(name))
    except TargetError as exc:
        raise RpcError(int(PhoneError.INVALID_NUMBER), str(exc)) from exc


__all__ = ["AGENT_STATES", "AutoAnswerControl", "Methods", "WrapupFiler", "not_found"]
