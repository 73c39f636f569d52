"""Messages the app posts to its screens when the phone or a call changes.

The phone and sessions speak pyee events; the app turns each into one of these so
widgets update on Textual's message loop ("attributes down, messages up").
"""

from __future__ import annotations

from textual.message import Message


class PhoneChanged(Message):
    """Registration or transport state changed; ``detail`` is shown in a notification."""

    def __init__(self, detail: str = "") -> None:
        super().__init__()
        self.detail = detail


class CallsChanged(Message):
    """A call appeared, changed state or went away."""

    def __init__(self, call_id: str | None = None) -> None:
        super().__init__()
        self.call_id = call_id


class CallReportUpdated(Message):
    def __init__(self, call_id: str) -> None:
        super().__init__()
        self.call_id = call_id


class CallFinished(Message):
    """A call ended; ``answered`` says whether it was ever talking (wrap-up follows)."""

    def __init__(self, call_id: str, answered: bool, cause: str, number: str,
                 name: str) -> None:
        super().__init__()
        self.call_id = call_id
        self.answered = answered
        self.cause = cause
        self.number = number
        self.name = name


class Tick(Message):
    """The app-wide 1 Hz tick that drives every timer on screen."""
