"""The sans-IO SIP core: bytes and events in, bytes and events out.

Nothing here opens a socket, reads a clock or imports asyncio, Textual, aiortc or pyee;
the caller passes ``now`` and asks for the next timer deadline (the h11/aioquic shape).
"""
