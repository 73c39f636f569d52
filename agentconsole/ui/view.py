"""What a call looks like on screen, as plain values (no Textual): labels, badges, quality.

Kept pure so the words an agent reads are unit-testable without running the app. Every
state is readable as text (``HELD``, ``[MUTED]``), never by colour alone: the console has
to work with ``NO_COLOR`` and on monochrome terminals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size

from ..softphone.api import CallStatus, Report, SessionAPI, TimerType

SPARK = "▁▂▃▄▅▆▇█"
#: CSS class / theme variable per state, used by the panel and queue styles.
STATE_STYLE = {"RINGING": "warning", "CALLING": "primary", "TALKING": "success",
               "HELD": "warning", "CONSULT": "accent", "ENDED": "error"}


def fmt_duration(seconds: float) -> str:
    """``mm:ss`` under an hour, ``h:mm:ss`` above (what an agent reads at a glance)."""
    total = int(max(0.0, seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def call_state(status: CallStatus) -> str:
    """The one word for the call's state: RINGING, CALLING, TALKING, HELD, CONSULT, ENDED."""
    state = status.call_status
    if state == "ended":
        return "ENDED"
    if status.is_ring or state == "ringing":
        return "RINGING"
    if state in ("calling", "connecting"):
        return "CALLING"
    if status.is_hold:
        return "HELD"
    if status.is_transfer:
        return "CONSULT"
    return "TALKING"


def badges(status: CallStatus) -> list[str]:
    out = []
    if status.is_mute:
        out.append("MUTED")
    if status.is_hold:
        out.append("HELD")
    if status.remote_hold:
        out.append("HELD-BY-PEER")
    record = status.record_status
    if record == "recording":
        out.append("REC")
    elif record == "pause":
        out.append("REC-PAUSED")
    return out


def who(status: CallStatus) -> str:
    """Name, or the number when there is no name."""
    return status.name or status.number or "unknown"


def queue_label(status: CallStatus) -> str:
    queue, did = status.queue, status.did
    if queue and did:
        return f"{queue}/{did}"
    return queue or did


def sparkline(values: Sequence[float], lo: float = 1.0, hi: float = 4.5, width: int = 8) -> str:
    """A text sparkline of the last ``width`` values on a fixed scale (MOS 1..4.5)."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    span = hi - lo
    chars = []
    for value in tail:
        ratio = 0.0 if span <= 0 else (min(max(value, lo), hi) - lo) / span
        chars.append(SPARK[min(len(SPARK) - 1, int(ratio * (len(SPARK) - 1) + 0.5))])
    return "".join(chars)


@dataclass(frozen=True)
class Quality:
    codec: str
    mos: float
    loss_pct: float
    jitter_ms: float

    @classmethod
    def from_report(cls, report: Report, codec: str = "") -> Quality:
        return cls(codec=report.audio_codec or codec, mos=report.mos,
                   loss_pct=100.0 * report.audio_rx_lost,
                   jitter_ms=report.audio_rx_avg_jitter)

    def text(self) -> str:
        parts = [self.codec] if self.codec else []
        if self.mos > 0:
            parts.append(f"MOS {self.mos:.1f}")
            parts.append(f"loss {self.loss_pct:.1f}%")
            parts.append(f"jit {self.jitter_ms:.0f}ms")
        return "  ".join(parts)


def timers_text(state: str, timer: TimerType) -> str:
    """The timers that matter in ``state`` (ring time while ringing, talk + hold after)."""
    if state == "RINGING":
        return f"Ring {fmt_duration(timer.ring_duration)}"
    if state == "CALLING":
        return f"Calling {fmt_duration(timer.calling_duration)}"
    text = f"Talk {fmt_duration(timer.call_duration)}"
    if state == "HELD":
        text += f"  Hold {fmt_duration(timer.hold_duration)}"
    return text


def short_notice(text: str, width: int = 24) -> str:
    """The header's few words for a long notice ("no audio device: PortAudio found ..." ->
    "no audio device"); the full text is in the toast and on the devices screen."""
    head = text.split(":", 1)[0].split(" — ", 1)[0].strip()
    return truncate(head, width)


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells with an ellipsis. Cells, not characters:
    a CJK name takes two cells a character, and a column cut by ``len`` would spill."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(0, width - 1)).rstrip() + "…"


def fit(text: str, width: int) -> str:
    """``text`` truncated and padded to exactly ``width`` cells (a table column)."""
    return set_cell_size(truncate(text, width), width)


# ----- which calls are where (the main screen's bookkeeping, kept pure) ---------------------
def is_ringing_in(session: SessionAPI) -> bool:
    status = session.status
    return bool(status.is_ring) and status.communication_type == "inbound"


def screen_lines(calls: list[SessionAPI]) -> list[tuple[str, bool]]:
    """Which calls are on screen, in line order, and whether each sits in the queue."""
    return [(s.call_id, is_ringing_in(s)) for s in calls]


def consult_texts(calls: list[SessionAPI]) -> dict[str, str]:
    """The pairing of each attended transfer, shown on both legs (one pass over calls)."""
    out: dict[str, str] = {}
    for session in calls:
        status = session.status
        parent = status.transfer_parent
        if status.is_transfer and parent is not None:
            out[session.call_id] = f"Consult for {parent.name or parent.number} ({parent.number})"
            out.setdefault(parent.call_id,
                           f"Consulting {who(status)} ({status.number})")
    return out


def related_calls(call_id: str, calls: list[SessionAPI]) -> set[str]:
    """The call and the other leg of its consult pairing (both show the pairing)."""
    related = {call_id}
    for session in calls:
        parent = session.status.transfer_parent
        if session.status.is_transfer and parent is not None:
            if session.call_id == call_id:
                related.add(parent.call_id)
            elif parent.call_id == call_id:
                related.add(session.call_id)
    return related


def footer_state(calls: list[SessionAPI], selected: str | None,
                 answering: set[str]) -> tuple[object, ...]:
    """Everything the main screen's ``check_action`` looks at, as one comparable value:
    the footer is rebuilt only when this changes."""
    chosen = next((s for s in calls if s.call_id == selected), None)
    status = chosen.status if chosen is not None else None
    return (any(is_ringing_in(s) and s.call_id not in answering for s in calls),
            len(calls) > 1, bool(calls),
            None if status is None else bool(status.is_mute),  # "Mute" / "Unmute"
            None if status is None else call_state(status),
            None if status is None else bool(status.is_transfer),
            None if status is None else status.record_status,
            any(s.status.is_transfer for s in calls))


def transfer_text(info: object) -> str:
    """A transfer_progress payload as the agent reads it: "ringing (180)"."""
    if not isinstance(info, dict):
        return str(info or "")
    state = str(info.get("state", ""))
    status = info.get("status")
    words = {"trying": "transfer requested", "ringing": "the target is ringing",
             "succeeded": "transferred", "failed": "transfer failed"}
    text = words.get(state, state)
    return f"{text} ({status})" if status else text


def osc9_sequence(text: str) -> str:
    """``ESC ] 9 ; text BEL`` with the text made safe: a caller's name must not be able to
    end the sequence early or smuggle in other escape sequences."""
    clean = "".join(c for c in text if c.isprintable())[:200]
    return f"\x1b]9;{clean}\x07"
