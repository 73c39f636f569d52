"""Hooks: a program or an HTTP request on named events (screen-pop, CRM logging).

Config ``hooks:`` is a list; each entry names an ``event`` (incoming, confirmed, ended,
wrapup, agent_state) and either ``run`` — a program and its arguments, started directly,
never through a shell — or ``url`` with an optional ``method`` (GET, or POST with the
variables as a JSON body) and ``headers``. Arguments, URL and header values are
templates over the call's fields (:mod:`agentconsole.hook_templates`); in a URL every
value is percent-encoded, so a caller's name cannot add a query parameter. A program
also gets every variable in its environment as ``AGENTCONSOLE_<NAME>``.

``ended`` fires for every call that is over, answered or not (the control events
``ended`` and ``failed``; the ``answered`` variable tells them apart).

Hooks never hold up a call: the runner is fed from the event bridge, starts each hook
as its own task and returns at once; a program runs as a child process, an HTTP request
on a small dedicated thread pool (so a hanging server cannot take the threads the
phone's audio uses). Each has ``timeout_s``; a timeout, an exit status other than 0 or
an HTTP error is logged and reported as ``failed`` (:class:`HookFailure`), which the
console shows as a toast and the socket as a ``hook_failed`` event. At most
``MAX_RUNNING`` hooks run at once; beyond that new ones fail at once ("too many").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from pyee.asyncio import AsyncIOEventEmitter

from ..config_integration import HookConfig
from ..hook_templates import HOOK_VARIABLES, render

logger = logging.getLogger(__name__)

#: Control events that fire the hooks of each hook event name.
HOOK_EVENT_OF = {"incoming": "incoming", "confirmed": "confirmed", "ended": "ended",
                 "failed": "ended", "wrapup": "wrapup", "agent_state": "agent_state"}
MAX_RUNNING = 16
HTTP_THREADS = 4
STDERR_KEEP = 2048


@dataclass(frozen=True)
class HookFailure:
    """A hook that did not complete: which (index in ``hooks:``), on what, and why."""

    index: int
    event: str
    target: str  # the program's name or the URL's host: never arguments or a query
    error: str
    call_id: str = ""

    @property
    def text(self) -> str:
        return f"hook {self.index + 1} ({self.event} → {self.target}): {self.error}"


def hook_variables(event: dict[str, Any]) -> dict[str, str]:
    """A control event (see :mod:`.bridge`) as the string variables of a template."""
    name = str(event.get("event", ""))
    values = dict.fromkeys(HOOK_VARIABLES, "")
    values["event"] = HOOK_EVENT_OF.get(name, name)
    for key in ("call_id", "number", "name", "company", "queue", "did", "direction",
                "cause", "wrapup_code", "notes", "state", "reason"):
        value = event.get(key)
        values[key] = "" if value is None else str(value)
    code = event.get("code")
    values["code"] = "" if code is None or name == "wrapup" else str(code)
    duration = event.get("duration")
    if duration is None:
        duration = (event.get("timers") or {}).get("talk")
    values["duration"] = "" if duration is None else str(round(float(duration)))
    if "answer_time" in event:
        values["answered"] = "true" if event.get("answer_time") else "false"
    when = event.get("time")
    if isinstance(when, int | float):
        values["time"] = datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds")
    return values


class HookRunner(AsyncIOEventEmitter):
    """Runs ``hooks`` (HookConfig entries) on control events. Events: ``failed``
    (:class:`HookFailure`), ``done`` ({"index", "event"}) after each success."""

    def __init__(self, hooks: tuple[HookConfig, ...], *, max_running: int = MAX_RUNNING) -> None:
        super().__init__()
        self.hooks = tuple(hooks)
        self.max_running = max_running
        self._tasks: set[asyncio.Task[None]] = set()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def running(self) -> int:
        """Hooks started and not finished yet."""
        return len(self._tasks)

    def on_event(self, event: dict[str, Any]) -> None:
        """The event bridge's listener: start every hook of this event; never waits."""
        hook_event = HOOK_EVENT_OF.get(str(event.get("event")))
        if hook_event is None or not self.hooks:
            return
        values: dict[str, str] | None = None
        for index, hook in enumerate(self.hooks):
            if hook.event != hook_event:
                continue
            values = values or hook_variables(event)
            if len(self._tasks) >= self.max_running:
                self._failed(index, hook, values, f"not started: {self.max_running} hooks "
                                                  "are still running")
                continue
            task = asyncio.get_running_loop().create_task(self._run(index, hook, values))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop what still runs (programs are killed) and free the HTTP threads."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # ----- one hook -----------------------------------------------------------------------
    async def _run(self, index: int, hook: HookConfig, values: dict[str, str]) -> None:
        try:
            if hook.run is not None:
                await self._program(hook.run, hook.timeout_s, values)
            elif hook.url is not None:
                await asyncio.wait_for(self._http(hook, hook.url, values), hook.timeout_s)
        except TimeoutError:
            self._failed(index, hook, values, f"timed out after {hook.timeout_s:g} s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a hook's failure is reported, never raised
            self._failed(index, hook, values, _describe(exc))
        else:
            logger.debug("hook %d (%s) done", index + 1, hook.event)
            self.emit("done", {"index": index, "event": hook.event})

    async def _program(self, run: tuple[str, ...], timeout_s: float,
                       values: dict[str, str]) -> None:
        argv = [render(arg, values) for arg in run]
        env = dict(os.environ)
        env.update({f"AGENTCONSOLE_{k.upper()}": v for k, v in values.items()})
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True)
        try:
            stderr = await asyncio.wait_for(_wait(process), timeout_s)
        except BaseException:
            _kill(process)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 2.0)
            raise
        if process.returncode != 0:
            tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise HookError(f"exited with status {process.returncode}"
                            + (f": {tail[0][:200]}" if tail else ""))

    async def _http(self, hook: HookConfig, template: str, values: dict[str, str]) -> None:
        url = render(template, values, encode=lambda v: quote(v, safe=""))
        headers = {name: render(value, values) for name, value in hook.headers.items()}
        data = None
        if hook.method == "POST":
            data = json.dumps(values).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(url, data=data, headers=headers, method=hook.method)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(HTTP_THREADS, thread_name_prefix="hook-http")
        loop = asyncio.get_running_loop()
        status = await loop.run_in_executor(self._pool, _fetch, request, hook.timeout_s)
        logger.debug("hook %s answered %d", urlsplit(url).hostname, status)

    def _failed(self, index: int, hook: HookConfig, values: dict[str, str], error: str) -> None:
        target = hook.run[0] if hook.run is not None else \
            (urlsplit(hook.url or "").hostname or "?")
        failure = HookFailure(index, hook.event, target, error, values.get("call_id", ""))
        logger.warning("%s", failure.text)
        self.emit("failed", failure)


class HookError(Exception):
    """A hook ran and reported failure (exit status, HTTP status)."""


async def _wait(process: asyncio.subprocess.Process) -> bytes:
    """Wait for the program, keeping the end of what it wrote to stderr."""
    assert process.stderr is not None
    kept = b""
    while chunk := await process.stderr.read(4096):
        kept = (kept + chunk)[-STDERR_KEEP:]
    await process.wait()
    return kept


def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill the hook and whatever it started (its own session: start_new_session)."""
    if process.returncode is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def _fetch(request: urllib.request.Request, timeout: float) -> int:
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        response.read(65536)
        return int(response.status)


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot reach the server: {exc.reason}"
    if isinstance(exc, FileNotFoundError):
        return f"program not found: {exc.filename}"
    text = str(exc) or type(exc).__name__
    return text[:300]


__all__ = ["HOOK_EVENT_OF", "HookFailure", "HookRunner", "hook_variables"]
