"""Offer/answer for plain RTP and SDES-SRTP (RFC 3264, RFC 4568), and the profile choice."""

from __future__ import annotations

import base64

import pytest

from agentconsole.media.profile import answer_profile, media_profile, offer_profile
from agentconsole.media.rtp.codecs import G722, OPUS, PCMA, PCMU
from agentconsole.media.rtp.negotiate import (
    LocalMedia,
    answer_offer,
    apply_answer,
    build_offer,
    direction_answer,
)
from agentconsole.media.rtp.srtp import offer_cryptos, parse_crypto
from agentconsole.media.sdp import MediaNegotiationError, parse_sdp

KEY_A = base64.b64encode(bytes(range(30))).decode()
KEY_B = base64.b64encode(bytes(range(30, 60))).decode()


def local(*codecs: object) -> LocalMedia:
    chosen = list(codecs) or [OPUS, G722, PCMU, PCMA]
    return LocalMedia("192.0.2.1", 20000, 20001, chosen)  # type: ignore[arg-type]


def sdp(body: str, session_c: str = "c=IN IP4 198.51.100.7\r\n") -> str:
    return f"v=0\r\no=pbx 7 7 IN IP4 198.51.100.7\r\ns=-\r\n{session_c}t=0 0\r\n{body}"


ASTERISK = sdp(
    "m=audio 10000 RTP/AVP 8 0 3 96 101\r\n"
    "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:3 GSM/8000\r\n"
    "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
    "a=maxptime:150\r\na=sendrecv\r\n")


def test_plain_offer_answered_in_offer_order_with_offerers_payload_types() -> None:
    answer, n, index = answer_offer(parse_sdp(ASTERISK), local())
    audio = answer.media[0]
    assert index == 0 and audio.proto == "RTP/AVP" and audio.port == 20000
    assert audio.formats == ["8", "0", "96", "101"]  # GSM (3) left out, not refused
    assert audio.rtpmap()["96"] == "opus/48000/2"  # the offerer's dynamic PT kept
    assert audio.attribute("rtcp") == "20001 IN IP4 192.0.2.1"
    assert audio.attribute("crypto") is None and audio.direction == "sendrecv"
    assert answer.connection == "IN IP4 192.0.2.1"
    assert (n.send_codec, n.send_pt) == (PCMA, 8)
    assert n.receive == {8: PCMA, 0: PCMU, 96: OPUS}
    assert n.event_send_pt == 101 and n.event_receive_pts == {101}
    assert n.remote_rtp == ("198.51.100.7", 10000) and n.remote_rtcp == ("198.51.100.7", 10001)
    assert not n.rtcp_mux and n.srtp is None and n.sending and n.remote_sends


def test_our_codec_list_filters_the_answer() -> None:
    answer, n, _ = answer_offer(parse_sdp(ASTERISK), local(PCMU))
    assert answer.media[0].formats == ["0", "101"] and n.send_codec is PCMU
    with pytest.raises(MediaNegotiationError, match="no codec in common"):
        answer_offer(parse_sdp(ASTERISK), local(G722))


def test_several_m_lines_first_usable_audio_answered_others_port_zero() -> None:
    offer = parse_sdp(sdp(
        "m=video 9000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        "m=audio 9002 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"  # nothing we run
        "m=audio 9004 RTP/AVP 0\r\nc=IN IP4 198.51.100.9\r\na=mid:a2\r\n"
        "m=audio 9006 RTP/AVP 0\r\n"  # a second usable audio stream: declined
        "m=application 9008 UDP/BFCP *\r\n"))
    answer, n, index = answer_offer(offer, local())
    assert index == 2
    assert [m.port for m in answer.media] == [0, 0, 20000, 0, 0]
    assert [m.kind for m in answer.media] == ["video", "audio", "audio", "audio", "application"]
    assert answer.media[2].attribute("mid") == "a2"
    assert n.remote_rtp == ("198.51.100.9", 9004)  # the media-level c= wins


def test_directions_and_legacy_hold() -> None:
    assert direction_answer("sendonly", "sendrecv") == "recvonly"
    assert direction_answer("recvonly", "sendrecv") == "sendonly"
    assert direction_answer("sendrecv", "sendonly") == "sendonly"
    assert direction_answer("sendonly", "sendonly") == "inactive"
    _, n, _ = answer_offer(parse_sdp(ASTERISK.replace("a=sendrecv", "a=sendonly")), local())
    assert (n.local_direction, n.remote_direction, n.sending) == ("recvonly", "sendonly", False)
    held = ASTERISK.replace("c=IN IP4 198.51.100.7", "c=IN IP4 0.0.0.0")
    _, n, _ = answer_offer(parse_sdp(held), local())
    assert n.remote_rtp is None and n.remote_direction == "sendonly" and not n.sending


def test_rtcp_attribute_mux_and_ptime() -> None:
    offer = sdp("m=audio 10000 RTP/AVPF 0\r\na=rtcp:10005 IN IP4 198.51.100.8\r\n"
                "a=ptime:40\r\n")
    answer, n, _ = answer_offer(parse_sdp(offer), local())
    assert answer.media[0].proto == "RTP/AVPF"
    assert n.remote_rtcp == ("198.51.100.8", 10005) and n.ptime_ms == 40
    mux = sdp("m=audio 10000 RTP/AVP 0\r\na=rtcp-mux\r\na=ptime:30\r\na=maxptime:20\r\n")
    answer, n, _ = answer_offer(parse_sdp(mux), local())
    assert answer.media[0].attribute("rtcp-mux") == ""
    assert n.rtcp_mux and n.remote_rtcp == n.remote_rtp and n.ptime_ms == 20
    opus = sdp("m=audio 10000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=ptime:60\r\n")
    assert answer_offer(parse_sdp(opus), local())[1].ptime_ms == 20  # Opus stays at 20 ms


def test_sdes_offer_with_several_suites_picks_the_first_usable() -> None:
    offer = parse_sdp(sdp(
        "m=audio 10000 RTP/SAVP 0\r\n"
        f"a=crypto:1 AEAD_AES_256_GCM inline:{KEY_A}\r\n"  # not served
        f"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{KEY_A}|2^20|1:4\r\n"  # MKI: not served
        f"a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:{KEY_B}|2^31\r\n"
        f"a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:{KEY_A}\r\n"))
    answer, n, _ = answer_offer(offer, local())
    lines = answer.media[0].attribute_values("crypto")
    assert len(lines) == 1
    ours = parse_crypto(lines[0])
    assert ours is not None and (ours.tag, ours.suite) == (3, "AES_CM_128_HMAC_SHA1_32")
    assert len(ours.key) == 30 and ours.key != base64.b64decode(KEY_B)
    assert n.srtp is not None and n.srtp.suite == "AES_CM_128_HMAC_SHA1_32"
    assert n.srtp.remote_key == base64.b64decode(KEY_B) and n.srtp.local_key == ours.key
    assert answer.media[0].proto == "RTP/SAVP"


def test_srtp_offer_we_must_refuse() -> None:
    offer = parse_sdp(sdp(
        "m=audio 10000 RTP/SAVP 0\r\n"
        f"a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{KEY_A}{KEY_A}\r\n"
        f"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{KEY_A} KDR=10\r\n"
        f"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY_A} UNENCRYPTED_SRTP\r\n"))
    with pytest.raises(MediaNegotiationError, match="no SRTP crypto suite") as info:
        answer_offer(offer, local())
    assert info.value.status == 488 and "AES_256_CM_HMAC_SHA1_80" in info.value.warning


def test_best_effort_srtp_on_rtp_avp_is_answered_encrypted() -> None:
    offer = parse_sdp(sdp(f"m=audio 10000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "
                          f"inline:{KEY_A}\r\n"))
    answer, n, _ = answer_offer(offer, local())
    assert answer.media[0].proto == "RTP/AVP" and answer.media[0].attribute("crypto")
    assert n.srtp is not None


def test_offer_then_answer_each_profile() -> None:
    ours = local()
    plain = build_offer(ours)
    media = plain.media[0]
    assert media.proto == "RTP/AVP" and media.formats == ["111", "9", "0", "8", "101"]
    assert media.attribute("rtcp-mux") == "" and media.attribute("crypto") is None
    cryptos = offer_cryptos()
    secure = build_offer(ours, secure=True, cryptos=cryptos)
    assert secure.media[0].proto == "RTP/SAVP"
    assert [parse_crypto(v).suite for v in secure.media[0].attribute_values("crypto")  # type: ignore[union-attr]
            ] == ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"]
    assert parse_sdp(secure.to_text()).origin.split()[2] == "2"  # changed: new version
    remote = parse_sdp(sdp(
        "m=audio 4000 RTP/SAVP 0 97\r\na=rtpmap:97 telephone-event/8000\r\n"
        f"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY_B}\r\na=rtcp-mux\r\n"))
    n = apply_answer(secure, remote, 0, cryptos)
    assert (n.send_codec, n.send_pt, n.event_send_pt) == (PCMU, 0, 97)
    assert n.event_receive_pts == {97, 101} and n.receive[111] is OPUS
    assert n.rtcp_mux and n.remote_rtcp == ("198.51.100.7", 4000)
    assert n.srtp is not None and n.srtp.local_key == cryptos[1].key
    with pytest.raises(MediaNegotiationError, match="no SRTP key"):
        apply_answer(secure, parse_sdp(sdp("m=audio 4000 RTP/SAVP 0\r\n")), 0, cryptos)
    with pytest.raises(MediaNegotiationError, match="declined"):
        apply_answer(plain, parse_sdp(sdp("m=audio 0 RTP/AVP 0\r\n")), 0, [])
    held = apply_answer(plain, parse_sdp(sdp("m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n")), 0, [])
    assert held.local_direction == "sendonly" and held.sending and not held.remote_sends


def test_reoffer_keeps_layout_and_version_rules() -> None:
    ours = local()
    first = build_offer(ours)
    again = build_offer(ours)
    assert first.origin == again.origin  # unchanged description, same version (§8)
    hold = build_offer(ours, direction="sendonly", layout=parse_sdp(ASTERISK).media * 2,
                       audio_index=1)
    assert [m.port for m in hold.media] == [0, 20000]
    assert hold.media[1].direction == "sendonly"
    assert int(hold.origin.split()[2]) == int(first.origin.split()[2]) + 1


@pytest.mark.parametrize(("profile", "transport", "expected"), [
    ("auto", "ws", "webrtc"), ("auto", "wss", "webrtc"), ("auto", "udp", "rtp"),
    ("auto", "tcp", "rtp"), ("auto", "tls", "srtp"), ("srtp", "udp", "srtp"),
    ("webrtc", "udp", "webrtc"), ("rtp", "wss", "rtp"),
])
def test_offer_profile(profile: str, transport: str, expected: str) -> None:
    assert offer_profile(profile, transport) == expected


def test_answers_follow_the_offer_whatever_the_profile() -> None:
    assert answer_profile(ASTERISK) == "rtp"
    assert answer_profile(ASTERISK.replace("RTP/AVP", "RTP/SAVP")) == "srtp"
    assert answer_profile(ASTERISK.replace("a=sendrecv", f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
                                           f"inline:{KEY_A}")) == "srtp"
    assert answer_profile(ASTERISK.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF")) == "webrtc"
    assert answer_profile("junk") is None
    assert media_profile("webrtc", "wss", ASTERISK.encode()) == "rtp"
    assert media_profile("rtp", "udp", ASTERISK.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF")
                         ) == "webrtc"
    assert media_profile("auto", "tls", None) == "srtp"


async def test_each_stack_serves_its_own_offers_and_leaves_the_other_stacks() -> None:
    """What a re-offer mid-call asks of the engine holding the call (RFC 3264 §8): the
    other stack's offer is not its own (the call moves to a new engine); an offer no
    stack can read stays with it (it answers 488)."""
    from agentconsole.config import MediaConfig
    from agentconsole.media.audio import NullBackend
    from agentconsole.media.peer import MediaSession
    from agentconsole.media.plain import PlainMediaSession

    webrtc_offer = ASTERISK.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF")
    sdes_offer = ASTERISK.replace("RTP/AVP", "RTP/SAVP")
    plain, webrtc = PlainMediaSession(MediaConfig(), NullBackend()), \
        MediaSession(MediaConfig(), NullBackend())
    try:
        assert plain.serves(ASTERISK) and plain.serves(sdes_offer)
        assert not plain.serves(webrtc_offer)
        assert webrtc.serves(webrtc_offer)
        assert not webrtc.serves(ASTERISK) and not webrtc.serves(sdes_offer)
        assert plain.serves("junk") and webrtc.serves("junk")
    finally:
        await plain.close()
        await webrtc.close()
