"""The one exception type for user mistakes: it carries a message and a hint, never a traceback."""
from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad input, missing data, bad settings).

    `run.py` prints it as one line plus a hint and exits non-zero; anything else is a bug and keeps
    its traceback.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"
