"""Detach and attach: the phone outlives the agent's terminal.

``agentconsole`` in a terminal runs the console inside a small pty-holding server (the
*holder*, :mod:`.holder`) and relays the terminal to it (:mod:`.client`). When the
terminal goes — an SSH session dropped, a laptop lid closed — the holder and the
console keep running: calls stay up, media flows, timers, recordings and history go
on. ``agentconsole attach`` connects a new terminal (:mod:`.command`), and the console
redraws itself for it. The console learns of attach and detach over a side channel
(:mod:`.link`) and applies ``remote.on_detach`` (:mod:`.policy`). Running consoles are
found by their sockets in the runtime dir (:mod:`.registry`).

Why a holder and not the console as a client of the control socket: the console stays
one program with one code path; the detach layer only moves bytes and never needs to
know about calls, screens or keys (README, design notes).
"""
