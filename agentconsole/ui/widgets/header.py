"""The one-line header: account, registration + transport, agent state + timer, badges
(auto-answer, wrap-ups, missed, audio warning), the remote parts (where audio goes,
attached/detached), clock."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from textual.content import Content
from textual.markup import escape
from textual.widgets import Static


@dataclass(frozen=True)
class HeaderView:
    account: str
    registration: str  # "Registered", "Registering…", "Failed: 403 Forbidden", "Offline"
    registration_ok: bool | None  # True ok, False failed, None in between
    transport: str
    agent: str
    agent_style: str  # a theme variable name: success, warning, error, accent
    agent_timer: str
    clock: str
    notice: str = ""  # e.g. "no audio device"
    missed: int = 0  # missed calls not yet seen in the history screen
    wrapups: str = ""  # e.g. "2 wrap-ups (w)": filed after the calls are over
    auto_answer: str = ""  # e.g. "AUTO 3s": the agent's auto-answer mode is on
    remote: str = ""  # "attached" / "detached" when running in a holder (agentconsole.remote)
    audio: str = ""  # where audio goes, when worth saying: "audio: pulse via SSH tunnel"
    audio_short: str = ""  # the same for a narrow header: "pulse/ssh"
    hint: str = ""  # how to fix the notice, e.g. how to forward sound over SSH


class StatusHeader(Static):
    """Shows a :class:`HeaderView`; rendered once per change and once per tick.

    The header is one row high whatever it says, so an update repaints this row only and
    never asks for a layout pass of the screen.

    On a narrow terminal the left part is cut with an ellipsis so the clock always
    stays visible at the right end (80 columns with a long registration failure).
    """

    DEFAULT_CSS = """
    StatusHeader {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._view: HeaderView | None = None
        self._fitted_for: tuple[HeaderView, int] | None = None
        self._fitted = Content("")

    def show(self, view: HeaderView) -> None:
        if view == self._view:
            return
        self._view = view
        self.refresh(layout=False)

    def render(self) -> Content:
        """The view fitted to the width the header has when it is painted, so a resize
        (a terminal re-attached at another size) never paints a line fitted to the old
        width; the fitting is redone only when the view or the width changed."""
        view = self._view
        if view is None:
            return Content("")
        width = self.content_size.width
        if self._fitted_for != (view, width):
            self._fitted = self.fitted(view, width)
            self._fitted_for = (view, width)
        return self._fitted

    @classmethod
    def fitted(cls, v: HeaderView, width: int) -> Content:
        core = _left(v.account, v.registration, v.registration_ok, v.transport) + \
            _agent(v.agent_style, v.agent, v.agent_timer) + \
            _tail(v.missed, v.notice, v.wrapups, v.auto_answer)
        tail = Content(f" │ {v.clock}")
        room = width - tail.cell_length
        # The remote parts give way first: the hint, then where audio goes, then the
        # attached/detached mark; only then is the rest cut.
        for extra in _extras(v.hint, v.audio, v.audio_short, v.remote):
            left = core + extra
            if width <= 0 or left.cell_length <= room:
                break
        if width > 0 and left.cell_length > room:
            left = left.truncate(max(1, room), ellipsis=True)
        return left + tail


# The parts are cached apart: the tick changes the agent timer and the clock only, so
# the registration and badge markup is parsed once per change, not once a second.
@lru_cache(maxsize=64)
def _left(account: str, registration: str, ok: bool | None, transport: str) -> Content:
    if ok is True:
        reg = f"[$success]● {escape(registration)}[/]"
    elif ok is False:
        reg = f"[$error]✕ {escape(registration)}[/]"
    else:
        reg = f"[$warning]○ {escape(registration)}[/]"
    return Content.from_markup(f"[b]{escape(account)}[/b] │ {reg} "
                               f"{escape(transport.upper())} │ ")


def _agent(style: str, agent: str, timer: str) -> Content:
    return Content.assemble((f"◆ {agent} {timer}", f"${style}"))


@lru_cache(maxsize=64)
def _tail(missed: int, notice: str, wrapups: str = "", auto_answer: str = "") -> Content:
    parts = []
    if auto_answer:
        parts.append(f" │ [$warning]⟳ {escape(auto_answer)}[/]")
    if wrapups:
        parts.append(f" │ [$accent]✎ {escape(wrapups)}[/]")
    if missed:
        parts.append(f" │ [$error]✆ {missed} missed[/]")
    if notice:
        parts.append(f" │ [$warning]⚠ {escape(notice)}[/]")
    return Content.from_markup("".join(parts))


@lru_cache(maxsize=64)
def _extras(hint: str, audio: str, audio_short: str, remote: str) -> tuple[Content, ...]:
    """The remote parts, richest first, each next one shorter: the hint goes first, then
    the long words; where the audio goes is the last thing to give way."""
    hint_part = f" [$warning]· {escape(hint)}[/]" if hint else ""
    audio_part = f" │ ♪ {escape(audio)}" if audio else ""
    short_part = f" │ ♪ {escape(audio_short or audio)}" if audio else ""
    style = "$warning" if remote == "detached" else "$foreground-muted"
    remote_part = f" │ [{style}]⇄ {escape(remote)}[/]" if remote else ""
    remote_mark = f" │ [{style}]⇄[/]" if remote else ""
    options = (hint_part + audio_part + remote_part, audio_part + remote_part,
               short_part + remote_part, short_part + remote_mark, short_part, "")
    return tuple(Content.from_markup(text) for text in dict.fromkeys(options))
