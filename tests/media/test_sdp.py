"""SDP parsing, directions, the 488 check and declined m-lines (RFC 8866, RFC 3264)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentconsole.media.sdp import (
    MediaNegotiationError,
    SdpError,
    audio_direction,
    audio_only,
    check_offer_supported,
    check_webrtc_offer,
    first_codec,
    has_telephone_event,
    is_hold_direction,
    parse_sdp,
    restore_layout,
)

WEBRTC = (
    "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "a=msid-semantic:WMS *\r\n"
    "m=audio 40000 UDP/TLS/RTP/SAVPF 96 0 101\r\nc=IN IP4 192.0.2.2\r\n{dir}"
    "a=mid:0\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"
    "a=fingerprint:sha-256 AA:BB\r\na=setup:actpass\r\n"
    "m=video 40002 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 192.0.2.2\r\na=mid:1\r\n"
    "a=rtpmap:97 VP8/90000\r\n"
)
PLAIN = (
    "v=0\r\no=pbx 1 1 IN IP4 192.0.2.9\r\ns=call\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
    "m=audio 10000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


def offer(direction: str = "") -> str:
    return WEBRTC.format(dir=f"a={direction}\r\n" if direction else "")


def test_parse_fields_and_round_trip() -> None:
    text = offer("sendrecv")
    sdp = parse_sdp(text)
    assert sdp.origin == "- 1 2 IN IP4 0.0.0.0"
    assert [m.kind for m in sdp.media] == ["audio", "video"]
    audio = sdp.media[0]
    assert (audio.port, audio.proto) == (40000, "UDP/TLS/RTP/SAVPF")
    assert audio.formats == ["96", "0", "101"]
    assert audio.connection == "IN IP4 192.0.2.2"
    assert audio.rtpmap()["96"] == "opus/48000/2"
    assert audio.attribute("ice-ufrag") == "abcd"
    assert sdp.to_text() == text
    assert parse_sdp(sdp.to_text()) == sdp


def test_lf_line_ends_and_blank_lines_tolerated() -> None:
    sdp = parse_sdp(PLAIN.replace("\r\n", "\n") + "\n\n")
    assert sdp.media[0].formats == ["0", "8", "101"]
    assert sdp.connection == "IN IP4 192.0.2.9"


@pytest.mark.parametrize("text", ["", "hello", "v=1\r\n", "v=0\r\nxx\r\n",
                                  "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n",
                                  "v=0\r\ns=-\r\n", "v=0\r\no=x\r\nm=audio 70000 RTP/AVP 0\r\n"])
def test_garbage_raises_sdp_error(text: str) -> None:
    with pytest.raises(SdpError):
        parse_sdp(text)


@given(st.text(max_size=300))
def test_parse_never_raises_anything_else(text: str) -> None:
    try:
        parse_sdp("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n" + text)
        parse_sdp(text)
    except SdpError:
        pass


def test_directions() -> None:
    assert audio_direction(offer()) == "sendrecv"
    assert audio_direction(offer("sendonly")) == "sendonly"
    assert audio_direction(offer("inactive")) == "inactive"
    session_level = offer().replace("a=msid-semantic", "a=recvonly\r\na=msid-semantic")
    assert audio_direction(session_level) == "recvonly"
    assert audio_direction(offer("sendrecv").replace("m=audio 40000", "m=audio 0")) == "inactive"
    # RFC 2543 hold: c=0.0.0.0 without ICE.
    assert audio_direction(PLAIN.replace("192.0.2.9\r\nt=", "0.0.0.0\r\nt=")) == "sendonly"
    assert is_hold_direction("sendonly") and is_hold_direction("inactive")
    assert not is_hold_direction("recvonly") and not is_hold_direction("sendrecv")


def test_direction_setter() -> None:
    sdp = parse_sdp(offer("sendrecv"))
    sdp.media[0].direction = "sendonly"
    assert audio_direction(sdp.to_text()) == "sendonly"
    with pytest.raises(ValueError):
        sdp.media[0].direction = "sideways"


def test_plain_and_sdes_offers_are_served_and_webrtc_stack_refuses_them() -> None:
    check_offer_supported(PLAIN)  # RTP/AVP: the plain engine answers it
    sdes = PLAIN.replace("RTP/AVP", "RTP/SAVP").replace(
        "a=sendrecv", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
        "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\na=sendrecv")
    check_offer_supported(sdes)
    with pytest.raises(MediaNegotiationError) as info:
        check_webrtc_offer(PLAIN)  # what an aiortc-only call still refuses
    assert info.value.status == 488 and "RTP/AVP" in info.value.warning


def test_offers_nothing_can_serve_get_488_naming_why() -> None:
    no_key = PLAIN.replace("RTP/AVP", "RTP/SAVP")
    with pytest.raises(MediaNegotiationError, match="no SRTP crypto suite"):
        check_offer_supported(no_key)
    gcm = no_key.replace("a=sendrecv", "a=crypto:1 AEAD_AES_256_GCM inline:"
                         "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzWVNfX19zZW1jdGw=\r\na=sendrecv")
    with pytest.raises(MediaNegotiationError, match="AEAD_AES_256_GCM"):
        check_offer_supported(gcm)
    with pytest.raises(MediaNegotiationError, match="TCP/RTP/AVP"):
        check_offer_supported(PLAIN.replace("RTP/AVP", "TCP/RTP/AVP"))
    with pytest.raises(MediaNegotiationError, match="no codec in common"):
        check_offer_supported(PLAIN.replace("RTP/AVP 0 8 101", "RTP/AVP 18 101"))


def test_offer_without_audio_or_fingerprint_gets_488() -> None:
    video_only = offer().replace("m=audio 40000", "m=audio 0")
    with pytest.raises(MediaNegotiationError, match="no audio"):
        check_offer_supported(video_only)
    with pytest.raises(MediaNegotiationError, match="fingerprint"):
        check_offer_supported(offer().replace("a=fingerprint:sha-256 AA:BB\r\n", ""))
    with pytest.raises(MediaNegotiationError):
        check_offer_supported("garbage")
    check_offer_supported(offer())  # a WebRTC offer passes


def test_telephone_event() -> None:
    assert has_telephone_event(offer()) == 101
    assert has_telephone_event(PLAIN) == 101
    assert has_telephone_event(offer().replace("telephone-event", "CN")) is None
    assert has_telephone_event("junk") is None


def test_first_codec_skips_telephone_event_and_knows_static_types() -> None:
    assert first_codec(offer()) == ("opus", 48000)
    assert first_codec(PLAIN) == ("PCMU", 8000)  # PT 0 has no rtpmap line (RFC 3551 §6)
    assert first_codec(PLAIN.replace("m=audio", "m=video")) is None
    assert first_codec("junk") is None


def test_video_declined_layout_round_trip() -> None:
    reduced, index = audio_only(parse_sdp(offer()))
    assert index == 0 and [m.kind for m in reduced.media] == ["audio"]
    assert reduced.attribute("group") == "BUNDLE 0"
    our_answer = (
        "v=0\r\no=- 5 5 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
        "m=audio 5000 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=mid:0\r\n"
        "a=rtpmap:96 opus/48000/2\r\n"
    )
    full = parse_sdp(restore_layout(parse_sdp(offer()).media, index, our_answer))
    assert [(m.kind, m.port) for m in full.media] == [("audio", 5000), ("video", 0)]
    assert full.media[1].attribute("mid") == "1" and full.media[1].formats == ["97"]
    assert full.media[1].direction == "inactive"
