"""DTMF from agentconsole (WS, 1004) to real peers, over RFC 4733 and over SIP INFO.

Receivers and their proof that each digit arrived, in order:
- baresip 1002 (plain RTP behind rtpengine) logs ``received event: 'X' (end=1)`` for
  each telephone-event it decodes and ``call: received DTMF: 'X'`` for each INFO
  ``application/dtmf-relay`` it accepts (baresip 1.0.0 handles A-D too);
- a SIPp UAS registered as 1003 answers without telephone-event, so ``dtmf_mode: auto``
  must choose INFO; its scenario (``uas-info-dtmf.xml``) checks each INFO's
  Content-Type and ``Signal=`` line in order and fails the call otherwise.

SIPp ports (UDP, 127.0.0.1): 5095 UAS as 1003, 5096 REGISTER; media ports 6200, 6210.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from agentconsole import Phone, parse_config
from agentconsole.softphone.session import Session

from .baresip import Baresip
from .media_check import (
    SipTrace,
    agent_yaml,
    baresip_info_digits,
    baresip_rfc4733_digits,
    peer_log,
    quiet,
    sdp_has_telephone_event,
)
from .sipp import Sipp, SippStats, register, render
from .test_calls_baresip import wait_for

pytestmark = pytest.mark.usefixtures("kamailio_rtpengine")

DIGITS = "123#ABCD"
UAS_PORT = 5095
REGISTER_PORT = 5096

Dial = Callable[..., Any]


@pytest.fixture
async def dial(tmp_path: Path) -> AsyncIterator[Dial]:
    """``await dial(target, **agent_yaml options)`` → (session, trace); cleans up after."""
    phones: list[Phone] = []

    async def _dial(target: str, **options: Any) -> tuple[Session, SipTrace]:
        trace = SipTrace()
        phone = Phone(parse_config(agent_yaml(tmp_path, **options)), trace=trace)
        phones.append(phone)
        await phone.start()
        session = await phone.call(target)
        await wait_for(lambda: session.status.call_status == "talking", 15)
        await wait_for(lambda: session.media.connected, 10)
        return session, trace

    try:
        yield _dial
    finally:
        for phone in phones:
            await phone.stop()


@pytest.fixture
def baresip(tmp_path: Path) -> Any:
    peer = Baresip("1002", tmp_path, answer="auto", tone_hz=880)
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


def info_answers(trace: SipTrace) -> list[str]:
    """The 2xx responses to our INFO requests seen so far."""
    return [m for m in trace.messages("in") if m.startswith("SIP/2.0 2")
            and re.search(r"^CSeq: \d+ INFO", m, re.MULTILINE)]


def evidence(peer: Baresip, trace: SipTrace) -> str:
    log = quiet(peer.log.read_text(errors="replace"))
    return f"--- baresip\n{log[-2500:]}\n--- agentconsole SIP\n{trace.text(3000)}"


async def test_rfc4733_digits_reach_baresip_in_order(baresip: Baresip, dial: Dial) -> None:
    """G.711 (8 kHz) audio, so telephone-event/8000 shares the audio's RTP clock."""
    session, trace = await dial("1002", codecs=("PCMU",), dtmf_mode="auto")
    assert sdp_has_telephone_event(session.leg.remote_sdp), session.leg.remote_sdp
    assert session.media.dtmf_payload_type is not None
    assert session.dtmf_method() == "rfc4733"  # auto + telephone-event in the answer
    infos_before = len(trace.sent_requests("INFO"))
    assert await session.dtmf(DIGITS)
    text = await peer_log(baresip.log,
                          lambda t: len(baresip_rfc4733_digits(t)) >= len(DIGITS))
    assert baresip_rfc4733_digits(text) == list(DIGITS), evidence(baresip, trace)
    assert len(trace.sent_requests("INFO")) == infos_before  # nothing went by INFO

    # ... and the other way: baresip sends RFC 4733 events, we emit dtmf_received.
    received: list[dict[str, Any]] = []
    session.on("dtmf_received", received.append)
    baresip.command("sndcode", "59")
    await wait_for(lambda: len(received) >= 2, 15)
    assert [r["digit"] for r in received] == ["5", "9"], received
    assert {r["method"] for r in received} == {"rfc4733"}
    assert session.hangup()


async def test_rfc4733_digits_with_opus_reach_baresip(baresip: Baresip, dial: Dial) -> None:
    session, trace = await dial("1002", dtmf_mode="rfc4733")
    assert session.media.codec == "opus"
    assert await session.dtmf(DIGITS)
    with contextlib.suppress(AssertionError):  # judged on what arrived, below
        await peer_log(baresip.log, lambda t: len(baresip_rfc4733_digits(t)) >= len(DIGITS))
    text = baresip.log.read_text(errors="replace")
    assert baresip_rfc4733_digits(text) == list(DIGITS), evidence(baresip, trace)


async def test_info_digits_reach_baresip_in_order(baresip: Baresip, dial: Dial) -> None:
    session, trace = await dial("1002", dtmf_mode="info")
    assert session.dtmf_method() == "info"
    assert await session.dtmf(DIGITS)
    text = await peer_log(baresip.log,
                          lambda t: len(baresip_info_digits(t)) >= len(DIGITS))
    assert baresip_info_digits(text) == list(DIGITS), evidence(baresip, trace)
    infos = trace.sent_requests("INFO")
    assert len(infos) == len(DIGITS), evidence(baresip, trace)
    for digit, info in zip(DIGITS, infos, strict=True):
        assert "application/dtmf-relay" in info.lower()
        assert f"Signal={digit}\r\n" in info, info
    assert baresip_rfc4733_digits(text) == []  # nothing went in the media
    assert session.hangup()


async def test_auto_mode_uses_info_when_sipp_answer_has_no_telephone_event(
    tmp_path: Path, dial: Dial
) -> None:
    scenario = render("uas-info-dtmf.xml", tmp_path, media_port=6200)
    uas = Sipp("uas-info-dtmf", scenario, tmp_path, port=UAS_PORT, media_port=6210,
               remote=None, timeout_s=25).start()
    registered = False
    try:
        reg = register(tmp_path, "1003", f"127.0.0.1:{UAS_PORT}", expires=60,
                       port=REGISTER_PORT)
        assert reg.returncode == 0, reg.trace()
        registered = True
        session, trace = await dial("1003", dtmf_mode="auto")
        assert not sdp_has_telephone_event(session.leg.remote_sdp), session.leg.remote_sdp
        assert session.media.dtmf_payload_type is None
        assert session.dtmf_method() == "info"
        assert await session.dtmf("123#")
        await wait_for(lambda: len(info_answers(trace)) >= 4, 15)  # the last INFO's 200
        assert session.hangup()
        rc = await uas.wait()
        assert rc == 0, f"{uas.trace()}\n--- agentconsole SIP\n{trace.text(3000)}"
        assert uas.stats() == SippStats(successful=1, failed=0)
        flow = [line for line in uas.sent_and_received() if line.startswith("<<")]
        assert [line.split()[1] for line in flow] == [
            "INVITE", "ACK", "INFO", "INFO", "INFO", "INFO", "BYE"], flow
    finally:
        uas.stop()
        if registered:
            register(tmp_path, "1003", f"127.0.0.1:{UAS_PORT}", expires=0, port=REGISTER_PORT)
