"""The console's end of the side channel to its holder.

The holder (:mod:`.holder`) starts the console with one end of a socketpair inherited
and its number in ``$AGENTCONSOLE_REMOTE_FD``. :func:`from_environment` takes it (and
drops the variable, so nothing the console starts inherits the meaning); the console
then reads the holder's news on its own event loop — ``attached`` (a terminal came:
redraw everything for it), ``detached`` (it went), ``terminate`` (shut down cleanly) —
and asks for ``detach`` when the agent presses the detach key.

Without the variable (``--no-detach``, stdin not a terminal, Pilot tests) there is no
link and the console is the same console with no detach key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..softphone.api import PhoneAPI
from .policy import DetachPolicy
from .protocol import SIDE_FD_ENV, LineReader, line

log = logging.getLogger(__name__)


@dataclass
class LinkState:
    """What the header shows: is a terminal attached, is it over SSH, how many detaches."""

    attached: bool = True
    ssh: bool = False
    detaches: int = 0
    reason: str = ""  # why the last detach happened


@dataclass(frozen=True)
class LinkHandlers:
    """The console's reactions (all called on its event loop)."""

    attached: Callable[[dict[str, Any]], None]
    detached: Callable[[str], None]
    terminate: Callable[[], None]


class ConsoleLink:
    """The side channel, the detach policy on ``phone`` and the state the header shows.

    Built by the entry module (:mod:`agentconsole.ui_main`) with the phone, so the policy
    watches the agent state from the start; the console calls :meth:`listen` once its
    event loop runs (it sees this object through ``ui.remote_view.RemoteLinkAPI``).
    """

    def __init__(self, sock: socket.socket, phone: PhoneAPI, on_detach: str = "away", *,
                 ssh: bool = False) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.state = LinkState(ssh=ssh)
        self.policy = DetachPolicy(phone, on_detach)
        self._reader = LineReader()
        self._handlers: LinkHandlers | None = None

    @property
    def attached(self) -> bool:
        return self.state.attached

    @property
    def over_ssh(self) -> bool:
        """Is the terminal attached now (or last) an SSH session's?"""
        return self.state.ssh

    def listen(self, attached: Callable[[dict[str, Any]], None],
               detached: Callable[[str], None], terminate: Callable[[], None]) -> None:
        """Begin reading the holder's news on the running loop, calling these back."""
        self._handlers = LinkHandlers(attached, detached, terminate)
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._readable)

    def request_detach(self) -> None:
        """Ask the holder to let the terminal go (the console keeps running)."""
        with contextlib.suppress(OSError):
            self.sock.send(line({"request": "detach"}))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()

    def _readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the holder is gone: nobody can attach again; carry on regardless
            log.warning("the holder closed the side channel")
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.sock.fileno())
            return
        for message in self._reader.feed(data):
            self.handle(message)

    def handle(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        handlers, policy = self._handlers, self.policy
        if handlers is None:
            return
        if event == "attached":
            self.state.attached = True
            self.state.ssh = bool(message.get("ssh"))
            policy.attached()
            handlers.attached(message)
        elif event == "detached":
            self.state.attached = False
            self.state.detaches += 1
            self.state.reason = str(message.get("reason") or "")
            policy.detached()
            handlers.detached(self.state.reason)
        elif event == "terminate":
            handlers.terminate()


def from_environment(phone: PhoneAPI, on_detach: str = "away",
                     env: MutableMapping[str, str] | None = None) -> ConsoleLink | None:
    """The link the holder set up for this process (the policy on ``phone``), or None
    when run without one."""
    env = os.environ if env is None else env
    value = env.pop(SIDE_FD_ENV, None)
    if not value:
        return None
    try:
        fd = int(value)
        sock = socket.socket(fileno=fd)
    except (ValueError, OSError) as exc:
        log.warning("ignoring %s=%r: %s", SIDE_FD_ENV, value, exc)
        return None
    sock.set_inheritable(False)
    return ConsoleLink(sock, phone, on_detach, ssh=bool(env.get("SSH_CONNECTION")))
