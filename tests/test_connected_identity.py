"""Who the call is connected to, updated from the network (RFC 4916): a re-INVITE or
UPDATE with a new P-Asserted-Identity / Remote-Party-ID (a PBX transferred the call),
or a changed From, renames the call unless the application set the name in manual mode.

A Session with a stub phone and media: the SIP core's ``DialogRefreshed`` events are fed
in directly (the core's side is in ``tests/sip/test_dialog_refreshed.py``, the wire in
``tests/interop/test_calls_sipp.py``)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from agentconsole import CallStatus, Session, parse_config
from agentconsole.sip.events import DialogRefreshed
from agentconsole.sip.message import Request
from agentconsole.sip.parser import parse_message
from agentconsole.sip.uri import parse_name_addr
from agentconsole.softphone.identity import CallerIdentity, answering_identity

CONFIG = parse_config("account:\n  aor: sip:1001@127.0.0.1\n  register: false\n")


class StubHost:
    config = CONFIG
    sessions: dict[str, Any] = {}
    incoming_list: list[Any] = []
    devices = None

    def clock(self) -> float:
        return 0.0

    def signal(self, action: Callable[..., Any]) -> Any:
        raise AssertionError("an identity update sends nothing")


class StubMedia:
    call_id = extension = ""
    on_connection_state = on_dtmf = None
    codec = dtmf_payload_type = None

    def add_close_hook(self, hook: Callable[[], None]) -> None:
        pass


def talking(name: str = "Ann Caller", number: str = "+15551234") -> Session:
    leg = SimpleNamespace(id="leg-1", remote_identity=parse_name_addr(
        '"Ann Caller" <sip:+15551234@pbx.example>;tag=p1'))
    status = CallStatus(call_id="c-1", number=number, name=name,
                        communication_type="inbound", call_status="talking")
    return Session(StubHost(), leg, StubMedia(), status)  # type: ignore[arg-type]


def refresh(session: Session, *headers: str, method: str = "UPDATE",
            sender: str = '"Ann Caller" <sip:+15551234@pbx.example>;tag=p1') -> None:
    lines = [f"{method} sip:1001@127.0.0.1 SIP/2.0",
             "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1", f"From: {sender}",
             "To: <sip:1001@127.0.0.1>;tag=a1", "Call-ID: c-1", f"CSeq: 5 {method}",
             *headers, "Content-Length: 0"]
    request = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(request, Request)
    session.on_call_event(DialogRefreshed(session.leg, request))


def test_a_new_p_asserted_identity_renames_the_call() -> None:
    session = talking()
    changes: list[tuple[CallStatus, CallStatus]] = []
    session.on("status_change", lambda new, old: changes.append((new, old)))
    refresh(session, 'P-Asserted-Identity: "Dana Transferred" <sip:+15550142@pbx.example>')
    assert (session.status.name, session.status.number) == ("Dana Transferred", "+15550142")
    assert len(changes) == 1 and changes[0][0].call_id == "c-1"  # the payload names its call


def test_remote_party_id_from_a_reinvite() -> None:
    session = talking()
    refresh(session, 'Remote-Party-ID: "Eve" <sip:2002@pbx.example>;party=calling;screen=yes',
            method="INVITE")
    assert (session.status.name, session.status.number) == ("Eve", "2002")


def test_manual_mode_keeps_the_name_and_the_number_follows() -> None:
    session = talking()
    static: list[Any] = []
    session.on("static_status_change", lambda new, old: static.append((new, old)))
    session.set_static_status(name="Ann from the CRM", manual=True)
    assert static[0][0].call_id == "c-1" and static[0][0].name == "Ann from the CRM"
    refresh(session, 'P-Asserted-Identity: "Dana Transferred" <sip:+15550142@pbx.example>')
    assert (session.status.name, session.status.number) == ("Ann from the CRM", "+15550142")
    session.set_static_status(name="Ann again")  # manual omitted: off again (SDK §3.6)
    refresh(session, 'P-Asserted-Identity: "Fay" <sip:+15550199@pbx.example>')
    assert (session.status.name, session.status.number) == ("Fay", "+15550199")


def test_a_plain_session_refresh_changes_nothing() -> None:
    session = talking()
    changes: list[Any] = []
    session.on("status_change", lambda *args: changes.append(args))
    refresh(session)  # RFC 4028 refresh: same From, no identity headers
    assert changes == [] and session.status.number == "+15551234"


def test_a_changed_from_is_the_rfc_4916_update() -> None:
    session = talking()
    refresh(session, sender='"Gus" <sip:3003@pbx.example>;tag=p1')
    assert (session.status.name, session.status.number) == ("Gus", "3003")


def headers_of(*lines: str) -> Any:
    text = "\r\n".join(["SIP/2.0 200 OK", "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1",
                        'From: "Agent 1001" <sip:1001@127.0.0.1>;tag=a1',
                        "To: <sip:600@pbx.example>;tag=q1", "Call-ID: c-1",
                        "CSeq: 1 INVITE", *lines, "Content-Length: 0"]) + "\r\n\r\n"
    return parse_message(text.encode()).headers


def test_the_answer_names_who_picked_up_and_never_from_its_from() -> None:
    """RFC 3325 §9.1 in a 2xx: P-Asserted-Identity, then Remote-Party-ID; a response's
    From is our own, so without either the answer names nobody."""
    pai = headers_of('P-Asserted-Identity: "Dana" <sip:+15550177@pbx.example>',
                     'Remote-Party-ID: "Other" <sip:+15550999@pbx.example>')
    assert answering_identity(pai) == CallerIdentity(number="+15550177", name="Dana")
    rpid = headers_of('Remote-Party-ID: "Eve" <sip:+15550188@pbx.example>;party=called')
    assert answering_identity(rpid) == CallerIdentity(number="+15550188", name="Eve")
    assert answering_identity(headers_of()) is None
