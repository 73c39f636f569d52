"""WebRTC with peers that are not browsers, in one process: a DTLS server whose
certificate is RSA and who offers only RSA suites (what baresip does), and an answer
without ``a=mid`` (what baresip sends). The interop tests repeat both with baresip."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdtlstransport import RTCCertificate, generate_certificate
from cryptography.hazmat.primitives.asymmetric import rsa

from agentconsole.config import MediaConfig
from agentconsole.media.audio import ToneBackend
from agentconsole.media.dtls import CIPHERS, WideCipherCertificate, accept_rsa_peers
from agentconsole.media.netinfo import HOST_ADDRESSES
from agentconsole.media.peer import MediaSession
from agentconsole.media.sdp import add_missing_mids
from tests.waiting import wait_until

LOOPBACK = MediaConfig(host_addresses=("127.0.0.1",), ice_servers=(), profile="webrtc")
RSA_ONLY = b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA"


class RsaOnlyCertificate(RTCCertificate):
    """A stand-in for baresip's DTLS identity: an RSA key, RSA suites only."""

    def _create_ssl_context(self, srtp_profiles: Any) -> Any:
        context = super()._create_ssl_context(srtp_profiles)
        context.set_cipher_list(RSA_ONLY)
        return context


def rsa_peer() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    vars(pc)["_RTCPeerConnection__certificates"] = [
        RsaOnlyCertificate(key, generate_certificate(key))]  # type: ignore[arg-type]
    return pc


async def local(pc: RTCPeerConnection, description: Any) -> str:
    token = HOST_ADDRESSES.set(("127.0.0.1",))
    try:
        await pc.setLocalDescription(description)
    finally:
        HOST_ADDRESSES.reset(token)
    assert pc.localDescription is not None
    return pc.localDescription.sdp


@pytest.fixture
async def ours() -> AsyncIterator[MediaSession]:
    media = MediaSession(LOOPBACK, ToneBackend(440))
    try:
        yield media
    finally:
        await media.close()


async def test_dtls_client_accepts_an_rsa_certificate_server(ours: MediaSession) -> None:
    far = rsa_peer()
    try:
        far.addTransceiver("audio", direction="sendrecv")
        offer = await local(far, await far.createOffer())  # setup:actpass
        answer = await ours.accept_offer(offer)
        assert "a=setup:active" in answer  # we are the DTLS client, the RSA side serves
        await far.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await wait_until(lambda: ours.connected, 10, "DTLS with the RSA peer")
        assert far.connectionState == "connected"
    finally:
        await far.close()


async def test_an_answer_without_mid_is_accepted(ours: MediaSession) -> None:
    far = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offer = await ours.create_offer()
        assert "a=mid:0" in offer
        await far.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        answer = await local(far, await far.createAnswer())
        bare = re.sub(r"a=(mid|group|msid-semantic)[^\r\n]*\r\n", "", answer)
        assert "a=mid" not in bare
        await ours.accept_answer(bare)
        await wait_until(lambda: ours.connected, 10, "media with the mid-less answerer")
        await ours.accept_answer(bare)  # the same answer again (183 then 200): once
    finally:
        await far.close()


def test_cipher_list_keeps_ecdsa_first_and_adds_rsa() -> None:
    suites = CIPHERS.split(b":")
    assert suites[0].startswith(b"ECDHE-ECDSA") and any(b"ECDHE-RSA" in s for s in suites)
    pc = RTCPeerConnection()
    assert accept_rsa_peers(pc)
    certificates = vars(pc)["_RTCPeerConnection__certificates"]
    assert all(isinstance(c, WideCipherCertificate) for c in certificates)


def test_mids_are_copied_by_position_only_when_missing() -> None:
    offer = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
             "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
             "a=mid:1\r\n")
    answer = offer.replace("a=mid:0\r\n", "").replace("a=mid:1\r\n", "")
    fixed = add_missing_mids(answer, offer)
    assert fixed.count("a=mid:0") == 1 and fixed.count("a=mid:1") == 1
    assert add_missing_mids(offer, offer) == offer
    one_line = answer.split("m=video")[0]
    assert add_missing_mids(one_line, offer) == one_line  # m-line counts differ: untouched
