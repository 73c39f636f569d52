"""Media: the call media stacks (WebRTC through aiortc; plain RTP and SDES-SRTP on the
engine in ``rtp/``) behind one interface, audio backends, DTMF, recording, ringback,
call-quality stats."""
