"""Messages the app posts to its screens when the phone or a call changes.

The phone and sessions speak pyee events; the app turns each into one of these so
widgets update on Textual's message loop ("attributes down, messages up").
"""

from __future__ import annotations

from textual.message import Message


class _Local(Message, bubble=False):
    """Delivered to the main screen only (never bubbles to the app)."""


class PhoneChanged(_Local):
    """Registration or transport state changed; ``detail`` is shown in a notification."""

    def __init__(self, detail: str = "") -> None:
        super().__init__()
        self.detail = detail


class CallsChanged(_Local):
    """A call appeared, changed state or went away."""

    def __init__(self, call_id: str | None = None) -> None:
        super().__init__()
        self.call_id = call_id


class CallReportUpdated(_Local):
    def __init__(self, call_id: str) -> None:
        super().__init__()
        self.call_id = call_id


class CallFinished(_Local):
    """A call ended; ``answered`` says whether it was ever talking (wrap-up follows)."""

    def __init__(self, call_id: str, answered: bool, cause: str, number: str,
                 name: str) -> None:
        super().__init__()
        self.call_id = call_id
        self.answered = answered
        self.cause = cause
        self.number = number
        self.name = name


class Tick(_Local):
    """The app-wide 1 Hz tick that drives every timer on screen."""
