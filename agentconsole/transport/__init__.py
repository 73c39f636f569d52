"""asyncio edges of the SIP core: UDP, TCP, TLS, WS and WSS flows and the driver."""
