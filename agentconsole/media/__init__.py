"""Media: aiortc peer connections, audio backends, DTMF, recording, call-quality stats."""
