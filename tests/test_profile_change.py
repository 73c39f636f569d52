"""Changing media profile in mid-call between two phones on loopback UDP (RFC 3264 §8).

One side re-INVITEs the talking call with a new engine's offer of another profile
(``session.call_media.change_profile``); the other side answers it with the engine
that serves it — the same plain engine for RTP/AVP ↔ RTP/SAVP, a new one for plain ↔
WebRTC — and the call keeps its state: audio both ways, mute, hold, the recording
(same file, same pause state). An offer nobody can serve is refused 488 with a
Warning and the media goes on as it was. Changed SDES keys are a new SRTP context
(RFC 4568 §7.1.4).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import av
import pytest

from agentconsole import AgentConsoleError, Phone
from agentconsole.media.recorder import HEADER_BYTES, RATE
from agentconsole.media.tone import frame_to_mono, goertzel_power
from tests import test_plain_calls
from tests.test_plain_calls import call
from tests.waiting import frames_flow, wait_until

A_HZ, B_HZ = 440, 880  # test_plain_calls' phones


class Tones:
    """The frames one side hears, to tell the far end's tone from silence."""

    def __init__(self) -> None:
        self.frames: list[av.AudioFrame] = []

    def __call__(self, frame: av.AudioFrame) -> None:
        self.frames.append(frame)

    def tone_in_last(self, n: int, hz: int) -> bool:
        samples = [s for f in self.frames[-n:] for s in frame_to_mono(f)]
        rate = self.frames[-1].sample_rate
        return bool(samples) and goertzel_power(samples, rate, hz) > 0.1


phones = test_plain_calls.phones  # the fixture: started phones, stopped after the test


async def talking(phones: list[Phone], tmp: Path, profile: str) -> tuple[Any, Any]:
    """A (``media.profile``) calls B, which answers with what A offered; both hear."""
    record = f"recording:\n  directory: \"{tmp / 'rec'}\"\n"
    out, inbound = await call(phones, tmp, media_a=f"  profile: {profile}", extra_b=record)
    await both_hear(out, inbound)
    assert out.media.profile == inbound.media.profile == profile
    return out, inbound


async def both_hear(out: Any, inbound: Any, frames: int = 15) -> None:
    await frames_flow(out.media, frames, timeout=10)
    await frames_flow(inbound.media, frames, timeout=10)


def recorded_tone(path: str, hz: int) -> bool:
    """The last half second written to the recording's customer (right) channel has
    ``hz`` in it: the far end's audio reaches the file, not just the clock's silence."""
    with open(path, "rb") as file:
        data = file.read()[HEADER_BYTES:]
    frames = len(data) // 4
    tail = memoryview(data[(frames - RATE // 2) * 4:frames * 4]).cast("h")
    right = list(tail[1::2])
    return frames > RATE // 2 and goertzel_power(right, RATE, hz) > 0.1


async def records(path: str, hz: int) -> None:
    """The recording grows, and the far end's tone is in what was added last."""
    size = os.path.getsize(path)
    await wait_until(lambda: os.path.getsize(path) > size + RATE * 4 // 2, 10,
                     f"{path} to grow")
    await wait_until(lambda: recorded_tone(path, hz), 10, f"the {hz} Hz tone in {path}")


@pytest.mark.parametrize(("first", "then", "engine_moves"), [
    ("rtp", "srtp", False),     # RTP/AVP → RTP/SAVP: the same plain engine, new keys
    ("srtp", "rtp", False),     # and back to plain
    ("rtp", "webrtc", True),    # plain → UDP/TLS/RTP/SAVPF: a new engine at B
    ("webrtc", "rtp", True),    # WebRTC → plain
    ("webrtc", "srtp", True),   # WebRTC → SDES-SRTP
])
async def test_a_reoffer_of_another_profile_moves_the_media_and_keeps_the_call(
        phones: list[Phone], tmp_path: Path, first: str, then: str,
        engine_moves: bool) -> None:
    out, inbound = await talking(phones, tmp_path, first)
    assert await inbound.start_record()
    path = inbound.recording_path
    await records(path, A_HZ)
    inbound.mute()
    before = inbound.media
    reinvites: list[Any] = []
    inbound.on("reinvite", reinvites.append)

    await out.call_media.change_profile(then)

    assert reinvites == [inbound]
    assert out.media.profile == inbound.media.profile == then
    assert (inbound.media is not before) == engine_moves
    assert inbound.status.call_status == "talking" and not inbound.is_ended
    heard = Tones()
    out.media.add_remote_tap(heard)
    await both_hear(out, inbound)
    # B is still muted on whichever engine: A hears B's silence, B hears A's tone
    assert inbound.status.is_mute and inbound.media.muted
    assert not heard.tone_in_last(10, B_HZ)
    inbound.unmute()
    await wait_until(lambda: heard.tone_in_last(5, B_HZ), 10, "B's tone after unmute")
    # DTMF goes on, in the new media (RFC 4733 where both agreed telephone-event)
    digits: list[dict[str, Any]] = []
    out.on("dtmf_received", digits.append)
    assert await inbound.dtmf("5")
    await wait_until(lambda: bool(digits), 5, "the digit at A")
    assert digits[0]["digit"] == "5"
    # the recording started before the change goes on in the same file
    assert inbound.status.record_status == "recording" and inbound.recording_path == path
    await records(path, A_HZ)
    if then in ("rtp", "srtp"):
        assert inbound.media.encrypted == (then == "srtp")
    if engine_moves:
        await wait_until(lambda: not before.connected, 5, "the old engine to close")
    assert await inbound.stop_record()


async def test_hold_and_a_paused_recording_survive_the_move(phones: list[Phone],
                                                           tmp_path: Path) -> None:
    out, inbound = await talking(phones, tmp_path, "rtp")
    assert await inbound.start_record()
    assert await inbound.pause_record()
    await inbound.hold()
    assert inbound.status.is_hold and out.status.remote_hold
    before = inbound.media

    await out.call_media.change_profile("webrtc")  # the held side's peer moves it

    assert inbound.media is not before and inbound.media.profile == "webrtc"
    assert inbound.status.is_hold and inbound.status.record_status == "pause"
    await wait_until(lambda: out.media.connected and inbound.media.connected, 10,
                     "the WebRTC media")
    await inbound.unhold()
    assert not inbound.status.is_hold and not out.status.remote_hold
    await both_hear(out, inbound)
    assert await inbound.resume_record()  # it was still paused
    await records(inbound.recording_path, A_HZ)


SRTP_UNKNOWN_SUITE = """v=0\r
o=- 1 2 IN IP4 127.0.0.1\r
s=-\r
c=IN IP4 127.0.0.1\r
t=0 0\r
m=audio {port} RTP/SAVP 0 101\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:101 telephone-event/8000\r
a=crypto:1 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm\r
a=sendrecv\r
"""


@pytest.mark.parametrize("first", ["webrtc", "rtp"])
async def test_an_offer_nobody_serves_is_refused_and_the_media_goes_on(
        phones: list[Phone], tmp_path: Path, first: str) -> None:
    out, inbound = await talking(phones, tmp_path, first)
    trace: list[Any] = []
    inbound_phone = phones[1]
    inbound_phone.add_trace_hook(trace.append)
    before = inbound.media
    with pytest.raises(AgentConsoleError, match=r"\(488\)"):
        await out.renegotiation.exchange(SRTP_UNKNOWN_SUITE.format(port=40000))
    refusals = [e.data.decode() for e in trace
                if e.direction == "out" and e.data.startswith(b"SIP/2.0 488")]
    assert refusals and 'Warning: 399 agentconsole "' in refusals[0]
    assert "F8_128_HMAC_SHA1_80" in refusals[0]
    assert inbound.media is before and inbound.media.profile == first
    assert not inbound.is_ended
    await both_hear(out, inbound)  # the old media, untouched


async def test_new_sdes_keys_in_a_reoffer_rekey_the_stream(phones: list[Phone],
                                                           tmp_path: Path) -> None:
    """A re-offer on the same profile with another ``a=crypto`` key (a new engine at A:
    new ports, new keys): B keeps its engine and its own key, and decrypts with the
    new one (RFC 4568 §7.1.4), else it would hear nothing."""
    out, inbound = await talking(phones, tmp_path, "srtp")
    stream = inbound.media.stream
    old_remote_key = stream.srtp.remote_key
    old_local_key = stream.srtp.local_key
    await out.call_media.change_profile("srtp")
    assert inbound.media.stream is stream
    assert stream.srtp.remote_key != old_remote_key
    assert stream.srtp.local_key == old_local_key
    await both_hear(out, inbound)


async def test_the_rtp_timeout_watches_the_new_plain_media(phones: list[Phone],
                                                           tmp_path: Path) -> None:
    """WebRTC → plain at B: B's new engine watches for silence (``media.rtp_timeout_s``)
    and the Session reports it, as on a call that started plain."""
    out, inbound = await call(phones, tmp_path, media_a="  profile: webrtc",
                              media_b="  rtp_timeout_s: 1")
    await out.call_media.change_profile("rtp")
    assert inbound.media.profile == "rtp"
    await both_hear(out, inbound)
    errors: list[dict[str, Any]] = []
    inbound.on("client_error", errors.append)
    out.media.set_sending(False)  # A goes silent without a re-INVITE
    out.media.stream.rtcp_timer.next_at = float("inf")
    await wait_until(lambda: bool(errors), 5, "the RTP timeout at B")
    assert errors[0]["cause"].startswith("RTP Timeout"), errors
    assert not inbound.is_ended  # rtp_timeout_hangup is off
