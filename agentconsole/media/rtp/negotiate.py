"""Offer/answer for plain RTP and SDES-SRTP audio (RFC 3264, RFC 4568), without I/O.

Builds our descriptions and reads the remote's into :class:`Negotiated`, everything the
RTP engine needs to run the call: where to send RTP and RTCP, which codec and payload
type to send with, which payload types to decode, DTMF, packet time, directions and
SRTP keys. The rules followed, by RFC section:

- **m-lines** (RFC 3264 §6): the first audio m-line with a non-zero port, a profile we
  serve (``RTP/AVP``, ``RTP/AVPF``, ``RTP/SAVP``, ``RTP/SAVPF``) and a codec we share
  is answered; every other m-line (video, a second audio, one we cannot serve) gets
  port 0, in the same place, so the answer has as many m-lines as the offer.
- **Codecs** (§6.1): the answer lists the offered formats we run, with the offerer's
  payload type numbers (dynamic ones included) and in the offer's order, then one
  telephone-event; formats we do not know are left out, never refused. Each side
  sends the first codec of the answer, with the payload type the *receiver* gave it;
  we decode any payload type either description maps to a codec we run.
- **Directions** (§6.1, §8.4): the answer's direction is the reverse of the offered one,
  narrowed by ours (on hold we do not receive); ``c=0.0.0.0`` (RFC 2543 hold) means
  "do not send there".
- **Ports** (RFC 3605, RFC 5761): RTCP goes to ``a=rtcp`` if given, else to the RTP port
  + 1; with ``a=rtcp-mux`` in both descriptions, to the RTP port.
- **ptime** (RFC 4566 §6): the remote's ``a=ptime`` (a multiple of 10 ms between 20 and
  60) is the length of the G.711/G.722 packets we send it; Opus stays at 20 ms.
- **SRTP** (RFC 4568 §7.1): ``RTP/SAVP(F)`` requires a crypto line we can serve; a
  ``RTP/AVP`` offer that still carries ``a=crypto`` (best-effort SRTP, as baresip's
  ``mediaenc=srtp`` sends) is answered encrypted too. The answer echoes the chosen
  tag and suite with a key of our own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..sdp import (
    MediaDescription,
    MediaNegotiationError,
    SessionDescription,
    rejected,
    reverse_direction,
)
from .codecs import CODECS, CodecSpec, codec_for
from .srtp import Crypto, choose_crypto, new_crypto, parse_crypto

PLAIN_PROTOS = ("RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF")
SECURE_PROTOS = ("RTP/SAVP", "RTP/SAVPF")
EVENT_PT = 101
STATIC = {0: "PCMU/8000", 8: "PCMA/8000", 9: "G722/8000"}  # RFC 3551 §6
_DIRECTIONS = {"sendrecv": (True, True), "sendonly": (True, False),
               "recvonly": (False, True), "inactive": (False, False)}

Address = tuple[str, int]


@dataclass(frozen=True)
class Srtp:
    """The SRTP suite agreed and the two master keys (ours protects, theirs decrypts)."""

    suite: str
    local_key: bytes
    remote_key: bytes


@dataclass(frozen=True)
class Negotiated:
    """The outcome of one offer/answer, ready for the RTP engine."""

    proto: str
    remote_rtp: Address | None  # None: port 0 or c=0.0.0.0, send nothing
    remote_rtcp: Address | None
    rtcp_mux: bool
    send_codec: CodecSpec
    send_pt: int
    receive: dict[int, CodecSpec]
    event_send_pt: int | None
    event_clock: int
    event_receive_pts: frozenset[int]
    ptime_ms: int
    local_direction: str
    remote_direction: str
    srtp: Srtp | None = None

    @property
    def sending(self) -> bool:
        """Our description lets us send, and there is somewhere to send to."""
        return _DIRECTIONS[self.local_direction][0] and self.remote_rtp is not None

    @property
    def remote_sends(self) -> bool:
        return _DIRECTIONS[self.remote_direction][0]


@dataclass
class LocalMedia:
    """What our descriptions carry: the address and ports we listen on, the codecs we run
    in the order we prefer them, and the crypto lines of our current offer or answer."""

    address: str
    rtp_port: int
    rtcp_port: int
    codecs: list[CodecSpec]
    session_id: int = field(default_factory=lambda: random.getrandbits(62))
    version: int = 1
    last_body: str = ""

    @property
    def family(self) -> str:
        return "IP6" if ":" in self.address else "IP4"


def direction_answer(offered: str, wish: str) -> str:
    """The answer's direction to ``offered`` when we would like ``wish`` (§6.1)."""
    allowed = _DIRECTIONS[reverse_direction(offered)]
    wanted = _DIRECTIONS[wish]
    both = (allowed[0] and wanted[0], allowed[1] and wanted[1])
    return next(name for name, bits in _DIRECTIONS.items() if bits == both)


def _connection(session: SessionDescription, media: MediaDescription) -> str | None:
    line = media.connection or session.connection
    if not line:
        return None
    parts = line.split()
    return parts[2].split("/")[0] if len(parts) >= 3 else None


def _remote_addresses(session: SessionDescription, media: MediaDescription,
                      mux: bool) -> tuple[Address | None, Address | None]:
    host = _connection(session, media)
    if media.port == 0 or not host or host in ("0.0.0.0", "::"):
        return None, None
    rtp = (host, media.port)
    if mux:
        return rtp, rtp
    rtcp_attr = media.attribute("rtcp")
    if rtcp_attr:
        parts = rtcp_attr.split()
        if parts and parts[0].isdigit():
            rtcp_host = parts[3] if len(parts) >= 4 else host
            return rtp, (rtcp_host, int(parts[0]))
    return rtp, (host, media.port + 1)


def _direction(session: SessionDescription, media: MediaDescription) -> str:
    direction = media.direction if any(k in _DIRECTIONS for k, _ in media.attributes) \
        else (session.direction or "sendrecv")
    host = _connection(session, media)
    if direction == "sendrecv" and host in ("0.0.0.0",):
        return "sendonly"  # RFC 3264 §8.4 legacy hold
    return direction


def _formats(media: MediaDescription, allowed: set[str]) -> tuple[list[tuple[int, CodecSpec]],
                                                                  list[tuple[int, int]]]:
    """(payload type, codec) pairs we run, and (payload type, clock) telephone-events,
    in the m-line's order."""
    rtpmap = media.rtpmap()
    codecs: list[tuple[int, CodecSpec]] = []
    events: list[tuple[int, int]] = []
    for fmt in media.formats:
        if not fmt.isdigit():
            continue
        pt = int(fmt)
        encoding = rtpmap.get(fmt) or STATIC.get(pt, "")
        name, _, rest = encoding.partition("/")
        if name.lower() == "telephone-event":
            clock = rest.split("/")[0]
            events.append((pt, int(clock) if clock.isdigit() else 8000))
            continue
        spec = codec_for(encoding) if encoding else None
        if spec is not None and spec.name.lower() in allowed:
            codecs.append((pt, spec))
    return codecs, events


def _ptime(media: MediaDescription, codec: CodecSpec) -> int:
    if codec.name == "opus":
        return 20
    value = media.attribute("ptime") or ""
    try:
        ms = int(float(value))
    except ValueError:
        return 20
    maxptime = media.attribute("maxptime") or ""
    if maxptime.isdigit():
        ms = min(ms, int(maxptime))
    return max(20, min(60, ms - ms % 10))


def _event_choice(events: list[tuple[int, int]], codec: CodecSpec) -> tuple[int, int] | None:
    """A telephone-event on the audio's clock if offered, else the 8 kHz one."""
    same = [e for e in events if e[1] == codec.clock_rate]
    eight = [e for e in events if e[1] == 8000]
    chosen = same or eight
    return chosen[0] if chosen else None


def _cryptos(media: MediaDescription) -> list[Crypto]:
    found = [parse_crypto(v) for v in media.attribute_values("crypto")]
    return [c for c in found if c is not None]


# ----- descriptions we write -------------------------------------------------------------------
def _media_line(local: LocalMedia, proto: str, formats: list[tuple[int, CodecSpec]],
                event: tuple[int, int] | None, direction: str, cryptos: list[Crypto],
                mux: bool) -> MediaDescription:
    fmts = [str(pt) for pt, _ in formats] + ([str(event[0])] if event else [])
    media = MediaDescription("audio", local.rtp_port, proto, fmts)
    attrs = media.attributes
    for pt, spec in formats:
        attrs.append(("rtpmap", f"{pt} {spec.rtpmap}"))
        if spec.fmtp:
            attrs.append(("fmtp", f"{pt} {spec.fmtp}"))
    if event:
        attrs.append(("rtpmap", f"{event[0]} telephone-event/{event[1]}"))
        attrs.append(("fmtp", f"{event[0]} 0-16"))
    attrs.append(("ptime", "20"))
    attrs.append(("rtcp", f"{local.rtcp_port} IN {local.family} {local.address}"))
    if mux:
        attrs.append(("rtcp-mux", None))
    attrs += [("crypto", c.to_sdp()) for c in cryptos]
    attrs.append((direction, None))
    return media


def _session(local: LocalMedia, media: list[MediaDescription]) -> SessionDescription:
    body = SessionDescription(
        origin=f"- {local.session_id} {{version}} IN {local.family} {local.address}",
        name="agentconsole", connection=f"IN {local.family} {local.address}", media=media)
    text = body.to_text()
    if text != local.last_body:  # RFC 3264 §8: a changed description gets a new version
        if local.last_body:
            local.version += 1
        local.last_body = text
    body.origin = body.origin.replace("{version}", str(local.version))
    return body


def build_offer(local: LocalMedia, *, direction: str = "sendrecv", secure: bool = False,
                cryptos: list[Crypto] | None = None, layout: list[MediaDescription] | None = None,
                audio_index: int = 0) -> SessionDescription:
    """Our offer: every codec we run, telephone-event/8000, RTCP port, rtcp-mux, and for
    ``secure`` ``RTP/SAVP`` with ``cryptos``. ``layout``/``audio_index`` keep the m-line
    positions of an earlier negotiation in a re-offer (declined lines stay port 0)."""
    formats = [(c.offer_pt, c) for c in local.codecs]
    proto = "RTP/SAVP" if secure else "RTP/AVP"
    audio = _media_line(local, proto, formats, (EVENT_PT, 8000), direction,
                        list(cryptos or []), True)
    lines = [audio if i == audio_index else rejected(m) for i, m in enumerate(layout or [audio])]
    return _session(local, lines)


def plain_problem(media: MediaDescription, allowed: set[str] | None = None) -> str | None:
    """Why we cannot answer this audio m-line on plain RTP, None when we can."""
    allowed = allowed if allowed is not None else set(CODECS)
    if media.proto not in PLAIN_PROTOS:
        return f"the media profile {media.proto} is not served"
    if media.proto in SECURE_PROTOS and choose_crypto(_cryptos(media)) is None:
        suites = ", ".join(sorted({c.suite for c in _cryptos(media)})) or "none"
        return (f"no SRTP crypto suite we support (offered: {suites}; we serve "
                "AES_CM_128_HMAC_SHA1_80 and _32 without MKI)")
    if not _formats(media, allowed)[0]:
        return (f"no codec in common (offered {' '.join(media.formats)}; allow one of "
                f"{', '.join(sorted(allowed))})")
    return None


def _pick_audio(session: SessionDescription, allowed: set[str]
                ) -> tuple[int, MediaDescription, list[tuple[int, CodecSpec]]]:
    """The m-line to answer, or a MediaNegotiationError naming what is missing."""
    audio = [(i, m) for i, m in enumerate(session.media) if m.kind == "audio" and m.port != 0]
    if not audio:
        raise MediaNegotiationError("the offer has no audio stream; this phone is audio-only")
    problems: list[str] = []
    for index, media in audio:
        problem = plain_problem(media, allowed)
        if problem is None:
            return index, media, _formats(media, allowed)[0]
        problems.append(problem)
    raise MediaNegotiationError("; ".join(dict.fromkeys(problems)))


def answer_offer(offer: SessionDescription, local: LocalMedia, *, wish: str = "sendrecv",
                 keep: Crypto | None = None) -> tuple[SessionDescription, Negotiated, int]:
    """Our answer to ``offer``, what it agrees, and the index of the answered m-line.

    ``keep`` is our current crypto line in a re-negotiation: reused when the chosen
    suite is unchanged (RFC 4568 §7.1.4 lets a key outlive an offer/answer).
    Raises :class:`MediaNegotiationError` (488) for an offer we cannot serve.
    """
    allowed = {c.name.lower() for c in local.codecs}
    index, media, codecs = _pick_audio(offer, allowed)
    _codecs, events = _formats(media, allowed)
    event = _event_choice(events, codecs[0][1])
    offered_dir = _direction(offer, media)
    direction = direction_answer(offered_dir, wish)
    mux = media.attribute("rtcp-mux") is not None
    theirs = choose_crypto(_cryptos(media))
    srtp = ours = None
    if theirs is not None:
        ours = keep if keep is not None and keep.suite == theirs.suite else \
            new_crypto(theirs.tag, theirs.suite)
        ours = Crypto(theirs.tag, ours.suite, ours.key)
        srtp = Srtp(theirs.suite, ours.key, theirs.key)
    line = _media_line(local, media.proto, codecs, event, direction,
                       [ours] if ours else [], mux)
    mid = media.attribute("mid")
    if mid:
        line.attributes.insert(0, ("mid", mid))
    answer = _session(local, [line if i == index else rejected(m)
                              for i, m in enumerate(offer.media)])
    rtp, rtcp = _remote_addresses(offer, media, mux)
    receive = {pt: spec for pt, spec in codecs}
    negotiated = Negotiated(
        proto=media.proto, remote_rtp=rtp, remote_rtcp=rtcp, rtcp_mux=mux,
        send_codec=codecs[0][1], send_pt=codecs[0][0], receive=receive,
        event_send_pt=event[0] if event else None, event_clock=event[1] if event else 8000,
        event_receive_pts=frozenset(pt for pt, _ in events), ptime_ms=_ptime(media, codecs[0][1]),
        local_direction=direction, remote_direction=offered_dir, srtp=srtp)
    return answer, negotiated, index


def apply_answer(offer: SessionDescription, answer: SessionDescription, audio_index: int,
                 cryptos: list[Crypto]) -> Negotiated:
    """What the remote's ``answer`` to our ``offer`` agrees (RFC 3264 §7)."""
    if len(answer.media) <= audio_index:
        raise MediaNegotiationError("the answer has fewer m-lines than our offer")
    media = answer.media[audio_index]
    ours = offer.media[audio_index]
    if media.port == 0 or media.kind != "audio":
        raise MediaNegotiationError("the remote declined the audio stream")
    allowed = {c.name.lower() for _, c in _formats(ours, set(CODECS))[0]}
    codecs, events = _formats(media, allowed)
    if not codecs:
        raise MediaNegotiationError(f"the answer has no codec we offered ({media.formats})")
    mine, _ = _formats(ours, allowed)
    receive = {pt: spec for pt, spec in mine} | {pt: spec for pt, spec in codecs}
    event = _event_choice(events, codecs[0][1])
    srtp = None
    if cryptos:
        chosen = choose_crypto(_cryptos(media))
        local = next((c for c in cryptos if chosen and c.tag == chosen.tag
                      and c.suite == chosen.suite), None)
        if chosen is not None and local is not None:
            srtp = Srtp(chosen.suite, local.key, chosen.key)
        elif ours.proto in SECURE_PROTOS:
            raise MediaNegotiationError("the answer has no SRTP key for a suite we offered")
    mux = ours.attribute("rtcp-mux") is not None and media.attribute("rtcp-mux") is not None
    rtp, rtcp = _remote_addresses(answer, media, mux)
    own_events = {pt for pt, _ in _formats(ours, allowed)[1]}
    remote_direction = _direction(answer, media)
    return Negotiated(
        proto=media.proto, remote_rtp=rtp, remote_rtcp=rtcp, rtcp_mux=mux,
        send_codec=codecs[0][1], send_pt=codecs[0][0], receive=receive,
        event_send_pt=event[0] if event else None, event_clock=event[1] if event else 8000,
        event_receive_pts=frozenset({pt for pt, _ in events} | own_events),
        ptime_ms=_ptime(media, codecs[0][1]),
        local_direction=direction_answer(remote_direction, ours.direction),
        remote_direction=remote_direction, srtp=srtp)
