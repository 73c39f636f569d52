"""Call set-up failures and endings between agentconsole and scripted SIPp peers.

agentconsole registers over WebSocket as 1004; SIPp speaks plain SIP/UDP with an
RTP/AVP offer through Kamailio, which anchors the media in rtpengine (exactly one side
is WS) so the agent sees a WebRTC offer. Each SIPp scenario asserts the far end of the
exchange (exact status codes, CANCEL/ACK/BYE); the test asserts agentconsole's side
(Session events, ``end_cause``/``end_code``, the phone's lists).

SIPp ports (UDP, 127.0.0.1): 5089 connected-identity UAC, 5090 UAS as 1003, 5091
REGISTER, 5092 reject UAC, 5093 cancel UAC, 5094 answered-then-BYE UAC; SIPp media
ports 6100-6140 and 6190.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentconsole import Phone, parse_config
from agentconsole.softphone.session import Session

from .rig import USERS, Kamailio
from .sipp import SCENARIOS, Sipp, SippStats, register, render
from .test_calls_baresip import agent_config, wait_for

pytestmark = pytest.mark.usefixtures("kamailio_rtpengine")

UAS_PORT = 5090


def caller_args(callee: str = "1004", caller: str = "1001") -> list[str]:
    """SIPp options for an authenticated caller (the proxy challenges local From users)."""
    return ["-s", callee, "-key", "caller", caller, "-au", caller, "-ap", USERS[caller]]


@pytest.fixture
async def phone(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Phone]:
    """agentconsole registered as 1004 over WS, its one binding checked in Kamailio."""
    kam: Kamailio = request.getfixturevalue("kamailio_rtpengine")
    text, _heard = agent_config(tmp_path)
    agent = Phone(parse_config(text))
    await agent.start()
    try:
        assert agent.is_registered
        await wait_for(lambda: len(kam.contacts("1004")) == 1, 5)
        yield agent
    finally:
        await agent.stop()
        await wait_for(lambda: kam.contacts("1004") == [], 5)


def record(session: Session) -> dict[str, list[Any]]:
    """Collect a Session's outcome events from now on."""
    seen: dict[str, list[Any]] = {"failed": [], "ended": [], "progress": []}
    for name, bucket in seen.items():
        session.on(name, bucket.append)
    return seen


def answered_caller(phone: Phone, tmp_path: Path, name: str, scenario: str, *, port: int,
                    media_port: int) -> tuple[Sipp, list[Session]]:
    """A SIPp caller that talks 2 s once answered; the calls reaching ``phone``."""
    incoming: list[Session] = []
    phone.on("incoming", incoming.append)
    uac = Sipp(name, SCENARIOS / scenario, tmp_path, port=port, media_port=media_port,
               timeout_s=20, extra=[*caller_args(), "-d", "2000"]).start()
    return uac, incoming


async def ringing_session(sipp: Sipp, incoming: list[Session]) -> Session:
    await wait_for(lambda: bool(incoming) or sipp.returncode is not None, 10)
    assert incoming, f"no incoming call\n{sipp.trace()}"
    session = incoming[0]
    assert session.status.is_ring and session.status.number == "1001"
    assert session.status.communication_type == "inbound"
    return session


@pytest.mark.parametrize(("code", "expected"), [(None, 486), (603, 603)])
async def test_agent_rejects_sipp_caller(phone: Phone, tmp_path: Path, code: int | None,
                                         expected: int) -> None:
    incoming: list[Session] = []
    phone.on("incoming", incoming.append)
    scenario = render("uac-final.xml", tmp_path, final=expected)
    uac = Sipp("reject", scenario, tmp_path, port=5092, media_port=6100, timeout_s=15,
               extra=caller_args()).start()
    try:
        session = await ringing_session(uac, incoming)
        assert phone.incoming_list == [session]
        seen = record(session)
        assert session.reject(code) if code is not None else session.reject()
        rc = await uac.wait()
        assert rc == 0, uac.trace()
        assert uac.stats() == SippStats(successful=1, failed=0)
        flow = uac.sent_and_received()
        assert any(line.startswith(f"<< SIP/2.0 {expected} ") for line in flow), flow
        assert flow[-1].startswith(">> ACK "), flow
        assert session.is_ended and session.end_cause == "Rejected"
        assert session.end_code == expected
        assert seen["failed"] == [{"call_id": session.call_id, "cause": "Rejected",
                                   "code": expected}]
        assert seen["ended"] == []
        assert phone.incoming_list == [] and phone.sessions == {}
    finally:
        uac.stop()


async def test_sipp_caller_cancels_while_agent_rings(phone: Phone, tmp_path: Path) -> None:
    incoming: list[Session] = []
    phone.on("incoming", incoming.append)
    uac = Sipp("cancel", SCENARIOS / "uac-cancel.xml", tmp_path, port=5093, media_port=6110,
               timeout_s=15, extra=[*caller_args(), "-d", "1500"]).start()
    try:
        session = await ringing_session(uac, incoming)
        seen = record(session)
        assert phone.incoming_list == [session]
        assert session.status.call_status == "connecting"
        await wait_for(lambda: session.is_ended or uac.returncode is not None, 10)
        rc = await uac.wait()
        assert rc == 0, uac.trace()
        assert uac.stats() == SippStats(successful=1, failed=0)
        flow = uac.sent_and_received()
        assert [line.split()[1] for line in flow if line.startswith(">>")] == [
            "INVITE", "ACK", "INVITE", "CANCEL", "ACK"], flow
        assert any(line.startswith("<< SIP/2.0 487 ") for line in flow), flow
        assert session.is_ended and session.end_cause == "Canceled", session.end_cause
        outcome = seen["failed"] + seen["ended"]
        assert len(outcome) == 1 and outcome[0]["cause"] == "Canceled", seen
        assert phone.incoming_list == [] and phone.sessions == {}
    finally:
        uac.stop()


@pytest.mark.parametrize(("code", "reason", "cause"), [
    (486, "Busy Here", "Busy"),
    (603, "Decline", "Rejected"),
    (404, "Not Found", "Not Found"),
])
async def test_agent_calls_refusing_sipp_callee(phone: Phone, tmp_path: Path, code: int,
                                               reason: str, cause: str) -> None:
    scenario = render("uas-refuse.xml", tmp_path, code=code, reason=reason)
    uas = Sipp(f"uas-{code}", scenario, tmp_path, port=UAS_PORT, media_port=6120,
               remote=None, timeout_s=15).start()
    registered = False
    try:
        reg = register(tmp_path, "1003", f"127.0.0.1:{UAS_PORT}", expires=60)
        assert reg.returncode == 0, reg.trace()
        registered = True
        session = await phone.call("1003")
        seen = record(session)
        await wait_for(lambda: session.is_ended or uas.returncode is not None, 10)
        rc = await uas.wait()
        assert rc == 0, uas.trace()
        assert uas.stats() == SippStats(successful=1, failed=0)
        await wait_for(lambda: session.is_ended, 5)
        assert seen["failed"] == [{"call_id": session.call_id, "cause": cause, "code": code}]
        assert seen["ended"] == []
        assert 180 in seen["progress"], seen
        assert session.end_cause == cause and session.end_code == code
        assert phone.sessions == {}
    finally:
        uas.stop()
        if registered:
            register(tmp_path, "1003", f"127.0.0.1:{UAS_PORT}", expires=0)


async def test_agent_answers_sipp_caller_who_hangs_up(phone: Phone, tmp_path: Path) -> None:
    uac, incoming = answered_caller(phone, tmp_path, "bye", "uac-answered-bye.xml",
                                    port=5094, media_port=6130)
    try:
        session = await ringing_session(uac, incoming)
        seen = record(session)
        offer = session.leg.remote_sdp or b""
        assert b"UDP/TLS/RTP/SAVPF" in offer and b"a=fingerprint:" in offer, offer
        await session.answer()
        assert session.status.call_status == "talking" and session.established
        await wait_for(lambda: session.is_ended or uac.returncode is not None, 12)
        rc = await uac.wait()
        assert rc == 0, uac.trace()
        assert uac.stats() == SippStats(successful=1, failed=0)
        assert seen["ended"] == [{"call_id": session.call_id, "cause": "Terminated"}], seen
        assert seen["failed"] == []
        assert session.end_cause == "Terminated"
        assert phone.sessions == {}
    finally:
        uac.stop()


@pytest.mark.parametrize("manual", [False, True])
async def test_connected_identity_follows_a_pbx_transfer(phone: Phone, tmp_path: Path,
                                                         manual: bool) -> None:
    """RFC 4916: an UPDATE with a new P-Asserted-Identity renames the call on screen; a
    name the application set in manual mode stays, and the number follows."""
    uac, incoming = answered_caller(phone, tmp_path, "identity", "uac-connected-identity.xml",
                                    port=5089, media_port=6140)
    try:
        session = await ringing_session(uac, incoming)
        changes: list[Any] = []
        session.on("status_change", lambda new, old: changes.append(new))
        await session.answer()
        if manual:
            session.set_static_status(name="Ann from the CRM", manual=True)
        await wait_for(lambda: session.status.number == "+15550142"
                       or uac.returncode is not None, 10)
        assert session.status.number == "+15550142", uac.trace()
        assert session.status.name == ("Ann from the CRM" if manual else "Dana Transferred")
        assert changes and all(new.call_id == session.call_id for new in changes)
        rc = await uac.wait()
        assert rc == 0, uac.trace()
        assert uac.stats() == SippStats(successful=1, failed=0)
        flow = uac.sent_and_received()
        update = next(i for i, line in enumerate(flow) if line.startswith(">> UPDATE "))
        assert flow[update + 1].startswith("<< SIP/2.0 200 "), flow
        await wait_for(lambda: session.is_ended, 5)
    finally:
        uac.stop()
