"""Sans-IO SDP helpers: parse, inspect and rewrite session descriptions.

The SIP layer needs to read an offer before any media stack sees it: to answer 488
early (RFC 3261 §13.3.1.3) when no media stack of ours can serve it, to choose the
stack that can (WebRTC or plain RTP), to see whether a re-INVITE
puts us on hold (RFC 3264 §8.4), and to decline video m-lines (RFC 3264 §6). aiortc's
own parser is private and raises on anything it does not understand, so this module
keeps a small, tolerant model of RFC 8866 that round-trips what it parses.

No aiortc or av import here: this module must stay cheap to import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# Transport profiles that carry DTLS-SRTP (RFC 5764 §8, RFC 8842 §5.1).
DTLS_PROTOS = frozenset(
    {"UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP", "TCP/DTLS/RTP/SAVPF", "TCP/DTLS/RTP/SAVP"}
)
_LINE = re.compile(r"([a-z])=(.*)\Z", re.DOTALL)
_M_LINE = re.compile(r"(\S+) (\d+)(?:/(\d+))? (\S+)(?: (.*))?\Z")
# Session-level fields written before c= (RFC 8866 §5 order: v o s i u e p c b t r z k a).
_BEFORE_C = frozenset("iuep")

_REVERSE = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}

class SdpError(ValueError):
    """The text is not a session description we can read (RFC 8866 §5)."""


class MediaNegotiationError(Exception):
    """An offer we cannot answer; the call layer replies ``status`` with a Warning.

    ``warning`` is the text for a ``Warning: 399 <host> "<text>"`` header (RFC 3261
    §20.43) and for the agent's screen: it names the PBX setting that fixes it.
    """

    def __init__(self, warning: str, status: int = 488) -> None:
        super().__init__(warning)
        self.status = status
        self.warning = warning

    @property
    def header(self) -> str:
        """The ``Warning`` header value of the refusal (code 399, our agent name)."""
        text = "".join(c for c in self.warning if c.isprintable()).replace('"', "'")
        return f'399 agentconsole "{text}"'


def _find(attributes: list[tuple[str, str | None]], name: str) -> str | None:
    for key, value in attributes:
        if key == name:
            return value if value is not None else ""
    return None


def _direction_of(attributes: list[tuple[str, str | None]]) -> str | None:
    for key, _ in attributes:
        if key in DIRECTIONS:
            return key
    return None


def _set_direction(attributes: list[tuple[str, str | None]], direction: str) -> None:
    for i, (key, _) in enumerate(attributes):
        if key in DIRECTIONS:
            attributes[i] = (direction, None)
            return
    attributes.append((direction, None))


def _attr_line(key: str, value: str | None) -> str:
    return f"a={key}" if value is None else f"a={key}:{value}"


@dataclass
class MediaDescription:
    """One m= section (RFC 8866 §5.14) with its c=, other fields and a= lines in order."""

    kind: str
    port: int
    proto: str
    formats: list[str]
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    connection: str | None = None
    port_count: int | None = None
    other: list[tuple[str, str]] = field(default_factory=list)

    @property
    def direction(self) -> str:
        """The media-level direction; a rejected stream (port 0) is inactive (RFC 3264 §6)."""
        if self.port == 0:
            return "inactive"
        return _direction_of(self.attributes) or "sendrecv"

    @direction.setter
    def direction(self, value: str) -> None:
        if value not in DIRECTIONS:
            raise ValueError(f"not an SDP direction: {value!r}")
        _set_direction(self.attributes, value)

    def attribute(self, name: str) -> str | None:
        """Value of the first ``a=name[:value]`` ("" for a flag), None when absent."""
        return _find(self.attributes, name)

    def attribute_values(self, name: str) -> list[str]:
        return [v or "" for k, v in self.attributes if k == name]

    def rtpmap(self) -> dict[str, str]:
        """Payload type → encoding ("opus/48000/2"), RFC 8866 §6.6."""
        out: dict[str, str] = {}
        for value in self.attribute_values("rtpmap"):
            pt, _, encoding = value.partition(" ")
            if pt and encoding:
                out[pt] = encoding.strip()
        return out

    def lines(self) -> list[str]:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        m = " ".join([self.kind, port, self.proto, *self.formats])
        out = [f"m={m}"]
        out += [f"{k}={v}" for k, v in self.other if k == "i"]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"{k}={v}" for k, v in self.other if k != "i"]
        out += [_attr_line(k, v) for k, v in self.attributes]
        return out


@dataclass
class SessionDescription:
    """A whole SDP body: session-level fields then the media sections."""

    version: str = "0"
    origin: str = "- 0 0 IN IP4 0.0.0.0"
    name: str = "-"
    connection: str | None = None
    other: list[tuple[str, str]] = field(default_factory=lambda: [("t", "0 0")])
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    @property
    def direction(self) -> str | None:
        """Session-level direction attribute, the default for every m= (RFC 8866 §6.7)."""
        return _direction_of(self.attributes)

    def attribute(self, name: str) -> str | None:
        return _find(self.attributes, name)

    def first_audio(self) -> MediaDescription | None:
        return next((m for m in self.media if m.kind == "audio"), None)

    def to_text(self) -> str:
        """Serialise with CRLF line ends (RFC 8866 §5)."""
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.name}"]
        out += [f"{k}={v}" for k, v in self.other if k in _BEFORE_C]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"{k}={v}" for k, v in self.other if k not in _BEFORE_C]
        out += [_attr_line(k, v) for k, v in self.attributes]
        for media in self.media:
            out += media.lines()
        return "\r\n".join(out) + "\r\n"


def _parse_attribute(value: str) -> tuple[str, str | None]:
    key, sep, rest = value.partition(":")
    if not key or " " in key:
        raise SdpError(f"bad attribute: a={value[:40]!r}")
    return key, (rest if sep else None)


def _parse_m_line(value: str) -> MediaDescription:
    match = _M_LINE.match(value)
    if match is None:
        raise SdpError(f"bad media line: m={value[:60]!r}")
    kind, port_text, count_text, proto, fmts = match.groups()
    port = int(port_text)
    if port > 65535 or (count_text is not None and not 0 < int(count_text) <= 65535):
        raise SdpError(f"bad port in m={value[:60]!r}")
    formats = fmts.split() if fmts else []
    count = int(count_text) if count_text is not None else None
    return MediaDescription(kind, port, proto, formats, port_count=count)


def parse_sdp(text: str) -> SessionDescription:
    """Parse an SDP body (RFC 8866 §5); tolerant of bare LF line ends and blank lines.

    Raises only :class:`SdpError` whatever the input.
    """
    if not isinstance(text, str):
        raise SdpError("SDP must be text")
    lines = [ln for ln in re.split(r"\r?\n", text) if ln.strip() != ""]
    if not lines or lines[0].rstrip() != "v=0":
        raise SdpError("SDP must start with v=0")
    session = SessionDescription(other=[])
    seen_origin = seen_name = False
    current: MediaDescription | None = None
    for raw in lines[1:]:
        match = _LINE.match(raw.rstrip("\r"))
        if match is None:
            raise SdpError(f"bad SDP line: {raw[:60]!r}")
        key, value = match.group(1), match.group(2)
        if key == "m":
            current = _parse_m_line(value)
            session.media.append(current)
        elif key == "a":
            attrs = current.attributes if current else session.attributes
            attrs.append(_parse_attribute(value))
        elif key == "c" and current is not None and current.connection is None:
            current.connection = value
        elif current is not None:
            current.other.append((key, value))
        elif key == "o" and not seen_origin:
            session.origin, seen_origin = value, True
        elif key == "s" and not seen_name:
            session.name, seen_name = value, True
        elif key == "c" and session.connection is None:
            session.connection = value
        elif key == "v":
            raise SdpError("repeated v= line")
        else:
            session.other.append((key, value))
    if not seen_origin:
        raise SdpError("SDP has no o= line")
    return session


def _legacy_hold(session: SessionDescription, media: MediaDescription) -> bool:
    """``c=IN IP4 0.0.0.0`` outside ICE is the RFC 2543 hold (RFC 3264 §8.4)."""
    conn = media.connection or session.connection or ""
    ice = media.attribute("ice-ufrag") or session.attribute("ice-ufrag")
    return conn.split()[-1:] == ["0.0.0.0"] and not ice


def audio_direction(sdp: str) -> str:
    """Direction of the first audio m-line, session-level attribute as fallback.

    Returns "inactive" when there is no audio at all or the stream is rejected.
    """
    session = parse_sdp(sdp)
    media = session.first_audio()
    if media is None or media.port == 0:
        return "inactive"
    direction = _direction_of(media.attributes) or session.direction or "sendrecv"
    if direction == "sendrecv" and _legacy_hold(session, media):
        return "sendonly"
    return direction


def is_hold_direction(direction: str) -> bool:
    """Remote sendonly/inactive means the remote put us on hold (RFC 3264 §8.4)."""
    return direction in ("sendonly", "inactive")


def reverse_direction(direction: str) -> str:
    """What an answerer replies to an offered direction (RFC 3264 §6.1)."""
    return _REVERSE[direction]


def _webrtc_problem(session: SessionDescription, media: MediaDescription) -> str | None:
    """Why aiortc cannot answer this DTLS m-line (it needs ICE and a fingerprint)."""
    ice = media.attribute("ice-ufrag") or session.attribute("ice-ufrag")
    fingerprint = media.attribute("fingerprint") or session.attribute("fingerprint")
    if ice and fingerprint:
        return None
    missing = "ICE credentials" if not ice else "a DTLS fingerprint"
    return f"the {media.proto} offer has no {missing} (WebRTC media needs ICE and DTLS)"


def _audio_lines(sdp: str) -> tuple[SessionDescription, list[MediaDescription]]:
    try:
        session = parse_sdp(sdp)
    except SdpError as exc:
        raise MediaNegotiationError(f"unreadable SDP offer ({exc})") from exc
    audio = [m for m in session.media if m.kind == "audio" and m.port != 0]
    if not audio:
        raise MediaNegotiationError("the offer has no audio stream; this phone is audio-only")
    return session, audio


def check_webrtc_offer(sdp: str) -> None:
    """Raise :class:`MediaNegotiationError` (488) unless aiortc can answer the offer:
    ``UDP/TLS/RTP/SAVPF`` with ICE and a DTLS fingerprint (RFC 8827/8842)."""
    session, audio = _audio_lines(sdp)
    media = audio[0]
    if media.proto not in DTLS_PROTOS:
        raise MediaNegotiationError(
            f"the offer is {media.proto}; this call runs WebRTC media (UDP/TLS/RTP/SAVPF)")
    problem = _webrtc_problem(session, media)
    if problem:
        raise MediaNegotiationError(problem)


def check_offer_supported(sdp: str) -> None:
    """Raise :class:`MediaNegotiationError` (488 + Warning) only for an offer no media
    stack of ours can answer.

    Served: WebRTC (``UDP/TLS/RTP/SAVPF`` with ICE and DTLS), plain ``RTP/AVP(F)`` and
    SDES ``RTP/SAVP(F)`` with a crypto suite we run, with at least one codec we run
    (RFC 3264 §6: one served audio m-line is enough; the others are declined).
    """
    session, audio = _audio_lines(sdp)
    from .rtp.negotiate import PLAIN_PROTOS, plain_problem

    problems: list[str] = []
    for media in audio:
        if media.proto in DTLS_PROTOS:
            problem = _webrtc_problem(session, media)
        elif media.proto in PLAIN_PROTOS:
            problem = plain_problem(media)
        else:
            problem = (f"the media profile {media.proto} is not served (RTP/AVP, RTP/SAVP "
                       "with SDES keys, or UDP/TLS/RTP/SAVPF)")
        if problem is None:
            return
        problems.append(problem)
    raise MediaNegotiationError("; ".join(dict.fromkeys(problems)))


def first_audio_of(sdp: str) -> MediaDescription | None:
    """The first audio m-line of ``sdp``; None when it has none or cannot be read (the
    questions asked of it below have "no" as a safe answer for a broken body)."""
    try:
        return parse_sdp(sdp).first_audio()
    except SdpError:
        return None


def has_telephone_event(sdp: str) -> int | None:
    """Payload type of telephone-event/8000 (RFC 4733 §7.1.1) in the first audio m-line."""
    media = first_audio_of(sdp)
    if media is None:
        return None
    for pt, encoding in media.rtpmap().items():
        if encoding.lower().startswith("telephone-event/8000") and pt.isdigit():
            return int(pt)
    return None


#: The static payload types of the audio codecs we run (RFC 3551 §6).
STATIC_PT = {"0": "PCMU/8000", "8": "PCMA/8000", "9": "G722/8000"}


def first_codec(sdp: str) -> tuple[str, int | None] | None:
    """(codec name, RTP clock rate) of the first audio format that is not
    telephone-event: the codec an answer's receiver sends with (RFC 3264 §6.1)."""
    media = first_audio_of(sdp)
    if media is None:
        return None
    rtpmap = media.rtpmap()
    for fmt in media.formats:
        encoding = rtpmap.get(fmt) or STATIC_PT.get(fmt, "")
        if encoding and not encoding.lower().startswith("telephone-event/"):
            parts = encoding.split("/")
            clock = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            return codec_name(encoding), clock
    return None


def codec_name(encoding: str) -> str:
    """``"opus/48000/2"`` → ``"opus"``; ``"pcmu/8000"`` → ``"PCMU"`` (config spelling)."""
    name = encoding.split("/")[0]
    return name if name.lower() == "opus" else name.upper()


def rejected(media: MediaDescription) -> MediaDescription:
    """The answer's copy of an m-line we decline: port 0, one format (RFC 3264 §6).

    The mid is kept so the offerer can match it (RFC 8843 §7.3.3).
    """
    out = MediaDescription(media.kind, 0, media.proto, media.formats[:1] or ["0"])
    out.connection = "IN IP4 0.0.0.0"
    mid = media.attribute("mid")
    if mid:
        out.attributes.append(("mid", mid))
    return out


def audio_only(session: SessionDescription) -> tuple[SessionDescription, int]:
    """Keep only the first usable audio m-line, for a media stack that cannot decline.

    Returns the reduced copy and the index of the kept m-line in the original, so that
    :func:`restore_layout` can put the declined m-lines back in the answer (RFC 3264 §6
    requires the same number and order of m-lines). The BUNDLE group (RFC 8843) keeps
    only the kept mid.
    """
    index = next(
        (i for i, m in enumerate(session.media) if m.kind == "audio" and m.port != 0), None
    )
    if index is None:
        raise SdpError("no audio stream")
    keep = session.media[index]
    mid = keep.attribute("mid")
    attrs: list[tuple[str, str | None]] = []
    for key, value in session.attributes:
        if key == "group" and value is not None and value.startswith("BUNDLE"):
            items = value.split()[1:]
            value = "BUNDLE" + (f" {mid}" if mid in items else "")
        attrs.append((key, value))
    copy = SessionDescription(
        session.version, session.origin, session.name, session.connection,
        list(session.other), attrs, [keep],
    )
    return copy, index


def restore_layout(layout: list[MediaDescription], index: int, answer: str) -> str:
    """Put declined m-lines back around our single audio m-line (RFC 3264 §6, §8).

    ``layout`` is the m-line list of the negotiation (the remote's offer, or ours for a
    re-offer); ``index`` is where the audio line sits in it.
    """
    if len(layout) <= 1:
        return answer
    session = parse_sdp(answer)
    if not session.media:
        raise SdpError("answer has no m-line")
    audio = session.media[0]
    session.media = [audio if i == index else rejected(m) for i, m in enumerate(layout)]
    return session.to_text()


def add_missing_mids(answer: str, offer: str) -> str:
    """Give the answer's m-lines the ``a=mid`` of the offer's m-line in the same place.

    RFC 8843 §7.3 makes an answerer echo the mids of the offer, but SIP endpoints that
    predate BUNDLE (baresip 1.0 among them) answer without any; matching by position is
    what RFC 3264 §6 does anyway. An answer that already has mids, or whose m-line
    count differs from the offer's, is returned unchanged.
    """
    try:
        ours, theirs = parse_sdp(offer), parse_sdp(answer)
    except SdpError:
        return answer
    if len(ours.media) != len(theirs.media):
        return answer
    changed = False
    for mine, media in zip(ours.media, theirs.media, strict=True):
        mid = mine.attribute("mid")
        if mid and media.attribute("mid") is None:
            media.attributes.insert(0, ("mid", mid))
            changed = True
    return theirs.to_text() if changed else answer
