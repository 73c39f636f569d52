"""User-facing errors of agentconsole.

Every error a script or the console shows carries a readable ``message``, a short
``title`` (for a dialog or a notification) and, where the softphone SDK we mirror defines
one, its numeric ``code`` (``reference/sdk-parity.md`` §1.5), so code written against that
SDK can keep switching on the same numbers.

Protocol errors of the SIP core live in :mod:`agentconsole.sip.errors`; they are split
local/remote as h11 does and are not meant to be shown to an agent as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class PhoneError(IntEnum):
    """The phone result codes of the SDK (range 200..299 / -200..-299), names kept as-is."""

    SUCCESS = 200
    UNKNOWN_ERROR = -200
    REGISTRY_FAILED = -201
    GET_AGREE_CHROME_USER_MEDIA_ROLE_ERROR = -202
    GET_LOCAL_STREAM_ERROR = -203
    RE_REGISTRY_MAX_LIMIT_TIMES = -204
    MAX_LIMIT_CALL = -205
    GET_LOCAL_MEDIA_INFO_ERROR = -206
    ATTENDED_PARENT_NOT_FOUND = -207
    CALL_TOO_MANY_TIMES = -208
    INVALID_NUMBER = -209
    CURRENT_CALL_HAS_NOT_CONNECTED = -210
    NOT_FOUND_CALL_ID = -211
    NOT_FOUND_AUDIO_INPUT_DEVICE = -290
    NOT_FOUND_VIDEO_INPUT_DEVICE = -291

    @property
    def default_message(self) -> str:
        return _DEFAULT_MESSAGES[self]


#: Readable default messages; the SDK's own texts are terse, these say what to do.
_DEFAULT_MESSAGES: dict[PhoneError, str] = {
    PhoneError.SUCCESS: "Success",
    PhoneError.UNKNOWN_ERROR: "Unknown error",
    PhoneError.REGISTRY_FAILED: "Registration failed",
    PhoneError.GET_AGREE_CHROME_USER_MEDIA_ROLE_ERROR: "Microphone access was denied",
    PhoneError.GET_LOCAL_STREAM_ERROR: "Could not open the local audio stream",
    PhoneError.RE_REGISTRY_MAX_LIMIT_TIMES: "Gave up re-registering after too many attempts",
    PhoneError.MAX_LIMIT_CALL: "Too many calls: hang up or transfer one first",
    PhoneError.GET_LOCAL_MEDIA_INFO_ERROR: "Could not list the audio devices",
    PhoneError.ATTENDED_PARENT_NOT_FOUND: "The call to transfer no longer exists",
    PhoneError.CALL_TOO_MANY_TIMES: "Dialling too fast: wait a moment and try again",
    PhoneError.INVALID_NUMBER: "That number is not valid",
    PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED: "Another call is still being set up",
    PhoneError.NOT_FOUND_CALL_ID: "No call with that id",
    PhoneError.NOT_FOUND_AUDIO_INPUT_DEVICE: "No microphone found",
    PhoneError.NOT_FOUND_VIDEO_INPUT_DEVICE: "No camera found",
}


class AgentConsoleError(Exception):
    """Base of every error agentconsole raises for a user or a script to handle."""

    default_title = "Error"

    def __init__(self, message: str, title: str | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.title = title if title is not None else self.default_title
        self.code = code

    @classmethod
    def from_code(cls, code: PhoneError, message: str | None = None) -> AgentConsoleError:
        """An error carrying an SDK code, with that code's readable message by default."""
        return cls(message or code.default_message, code=int(code))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, title={self.title!r}, code={self.code!r})"


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a config file: the dotted key path, the 1-based line, what is wrong.

    ``path`` is empty for problems about the file as a whole (unreadable, bad YAML).
    ``line`` is None when the config did not come from a file (built in code).
    """

    path: str
    line: int | None
    message: str

    def format(self, source: str | None = None, *, label: str | None = None) -> str:
        """``source:line: key.path: [label: ]message`` (the compiler convention editors read)."""
        where = source or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        parts = [p for p in (where, self.path, label, self.message) if p]
        return ": ".join(parts)

    def __str__(self) -> str:
        return self.format()


class ConfigError(AgentConsoleError):
    """The config could not be loaded; ``problems`` lists *every* problem found, in order."""

    default_title = "Configuration error"

    def __init__(self, problems: Iterable[ConfigProblem], source: str | None = None) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        self.source = source
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in config"
        if source:
            head += f" {source}"
        lines = [head + ":"] + ["  " + p.format(source) for p in self.problems]
        super().__init__("\n".join(lines))


class RegistrationError(AgentConsoleError):
    """REGISTER failed (bad credentials, registrar unreachable, ...); SDK code -201.

    ``status`` is the final SIP response code when there was one (401, 403, 408, 503 ...).
    """

    default_title = "Registration failed"

    def __init__(
        self,
        message: str,
        title: str | None = None,
        code: int | None = int(PhoneError.REGISTRY_FAILED),
        status: int | None = None,
    ) -> None:
        super().__init__(message, title, code)
        self.status = status
