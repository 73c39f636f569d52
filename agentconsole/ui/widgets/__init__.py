"""Widgets of the main screen; each takes plain values from its screen (attributes down)."""

from .call_panel import CallList, CallPanel, CallView
from .dial_bar import DialBar, DirectorySuggester
from .header import HeaderView, StatusHeader
from .key_footer import KeyFooter
from .queue import IncomingQueue, QueueRow

__all__ = ["CallList", "CallPanel", "CallView", "DialBar", "DirectorySuggester",
           "HeaderView", "IncomingQueue", "KeyFooter", "QueueRow", "StatusHeader"]
