"""An RTP engine of our own for plain RTP (RFC 3550/3551) and SDES-SRTP (RFC 4568/3711).

aiortc's RTP sender and receiver only run on its DTLS transport, so plain and SDES
calls run here. Sans-IO where it can be; each module has one job:

- :mod:`.packet` — RTP/RTCP packets on the wire;
- :mod:`.statistics` — reception/transmission statistics, RTCP report arithmetic;
- :mod:`.jitter` — the adaptive jitter buffer and loss concealment;
- :mod:`.codecs` — PCMU, PCMA, G.722, Opus;
- :mod:`.srtp` — ``a=crypto`` lines and libsrtp contexts;
- :mod:`.negotiate` — SDP offer/answer for these profiles;
- :mod:`.latch` — symmetric RTP;
- :mod:`.sender` / :mod:`.receiver` — a call's two audio directions;
- :mod:`.endpoint` — the UDP sockets (the only I/O besides the clock);
- :mod:`.clock` — one 20 ms timer for every call of the process;
- :mod:`.stream` — one call's session tying the rest together (and how the WebRTC path
  could move onto this engine: see its module doc).

:class:`agentconsole.media.plain.PlainMediaSession` puts it behind the interface a
Session uses, the same as :class:`agentconsole.media.peer.MediaSession`.
"""
