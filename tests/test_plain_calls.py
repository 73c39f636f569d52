"""Two phones over loopback UDP on plain RTP (``media.profile: auto`` on UDP): the
profile each side picks, SDES over ``srtp``, the RTP timeout seen by the Session, the
local ringback while the far end rings, and how a media failure is named."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentconsole import Phone, parse_config
from agentconsole.media.ringer import RING_TONES
from agentconsole.sip import events as ev
from tests.test_two_phones import phone_config
from tests.waiting import frames_flow, wait_until

CALLS = "calls:\n  dial_rate_limit_s: 0\n  auto_hold: false\n"


def yaml(tmp: Path, user: str, hz: int, media: str = "", extra: str = "") -> str:
    """The two-phone harness's config with ``media`` lines added to its media section
    (and ``extra`` sections after its calls section)."""
    return phone_config(tmp, user, hz, CALLS + extra).replace("media:\n", f"media:\n{media}\n", 1)


@pytest.fixture
async def phones(tmp_path: Path) -> AsyncIterator[list[Phone]]:
    started: list[Phone] = []
    yield started
    for phone in started:
        await phone.stop()


async def ring(phones: list[Phone], tmp: Path, media_a: str = "", media_b: str = "",
               extra_b: str = "") -> tuple[Any, Any]:
    """A calls B; returns both sides while B rings (unanswered)."""
    a = Phone(parse_config(yaml(tmp, "1001", 440, media_a)))
    b = Phone(parse_config(yaml(tmp, "1002", 880, media_b, extra_b)))
    phones += [a, b]
    await a.start()
    await b.start()
    incoming: list[Any] = []
    b.on("incoming", incoming.append)
    assert b.transport is not None and b.transport.local_address is not None
    out = await a.call(f"sip:1002@127.0.0.1:{b.transport.local_address[1]}")
    await wait_until(lambda: bool(incoming), 5, "the INVITE")
    return out, incoming[0]


async def call(phones: list[Phone], tmp: Path, media_a: str = "", media_b: str = "",
               extra_b: str = "") -> tuple[Any, Any]:
    """A calls B and B answers; returns both sides once A hears B."""
    out, inbound = await ring(phones, tmp, media_a, media_b, extra_b)
    await inbound.answer()
    await wait_until(lambda: out.status.call_status == "talking", 5, "the answer")
    await frames_flow(out.media, 10)
    return out, inbound


async def test_udp_offers_plain_rtp_and_the_answer_follows(phones: list[Phone],
                                                           tmp_path: Path) -> None:
    out, inbound = await call(phones, tmp_path, media_b="  profile: webrtc")
    assert b"RTP/AVP" in (out.leg.local_sdp or b"")
    assert type(inbound.media).__name__ == "PlainMediaSession"  # not its own profile
    assert out.status.codec == "opus" and not out.media.encrypted


async def test_srtp_profile_offers_sdes_and_both_ends_encrypt(phones: list[Phone],
                                                              tmp_path: Path) -> None:
    out, inbound = await call(phones, tmp_path, media_a="  profile: srtp")
    assert b"RTP/SAVP" in (out.leg.local_sdp or b"")
    assert b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in (inbound.leg.local_sdp or b"")
    assert out.media.encrypted and inbound.media.encrypted
    await frames_flow(inbound.media, 10)


async def test_rtp_timeout_is_a_client_error_and_may_hang_up(phones: list[Phone],
                                                             tmp_path: Path) -> None:
    media_a = "  rtp_timeout_s: 1\n  rtp_timeout_hangup: true"
    out, inbound = await call(phones, tmp_path, media_a=media_a)
    errors: list[dict[str, Any]] = []
    ended: list[dict[str, Any]] = []
    out.on("client_error", errors.append)
    out.on("ended", ended.append)
    inbound.media.set_sending(False)  # the far end goes silent without a re-INVITE
    inbound.media.stream.rtcp_timer.next_at = float("inf")
    await wait_until(lambda: bool(ended), 5, "the RTP timeout hang-up")
    assert errors and errors[0]["cause"].startswith("RTP Timeout")
    assert ended == [{"call_id": out.call_id, "cause": "RTP Timeout"}]
    await wait_until(lambda: inbound.is_ended, 5, "the BYE at the far end")


async def test_ringback_plays_while_the_far_end_rings_and_stops_at_the_answer(
        phones: list[Phone], tmp_path: Path) -> None:
    media_a = "  profile: rtp"
    out, inbound = await ring(phones, tmp_path, media_a=media_a)
    ringback = out.media.ringback
    await wait_until(lambda: ringback.playing, 5, "the ringback after the 180")
    assert ringback.tone is RING_TONES["us"]  # audio.ringback_tone's default
    played = ringback.frames_played
    await wait_until(lambda: ringback.frames_played > played + 5, 5, "ringback frames")
    await inbound.answer()
    await wait_until(lambda: out.status.call_status == "talking", 5, "the answer")
    assert not ringback.playing
    await frames_flow(out.media, 10)  # B's audio now, and the ringback stays off
    assert not ringback.playing


@pytest.mark.parametrize(("profile", "cause"), [("rtp", "Media Error"),
                                                ("srtp", "Media Error"),
                                                ("webrtc", "WebRTC Error")])
async def test_a_media_failure_is_named_after_the_stack(phones: list[Phone], tmp_path: Path,
                                                        profile: str, cause: str) -> None:
    out, inbound = await ring(phones, tmp_path, media_a=f"  profile: {profile}")
    errors: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    out.on("client_error", errors.append)
    out.on("failed", failed.append)
    # early media whose SDP no stack can use: the call ends, with the stack's name
    out.on_call_event(ev.CallProgress(out.leg, 183, "Session Progress", sdp=b"v=0\r\nbroken"))
    await wait_until(lambda: bool(failed), 5, "the media failure")
    assert errors[0]["cause"].startswith(f"{cause}: "), errors
    assert failed == [{"call_id": out.call_id, "cause": cause, "code": None}]
    await wait_until(lambda: inbound.is_ended, 5, "the CANCEL at the far end")
