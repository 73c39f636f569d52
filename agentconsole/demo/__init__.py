"""The embedded demo switch and its simulated callers (``agentconsole demo``).

A demo and a test fixture, not a PBX: a registrar and stateless proxy on our own SIP
core (:mod:`.switch`), simulated parties that are ordinary registered Phones
(:mod:`.parties`, :mod:`.customers`), and the command that runs them (:mod:`.command`).
Importing this package loads nothing heavy.
"""
