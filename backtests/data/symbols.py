"""Ticker symbols: what a symbol may contain, and the file-name-safe form used in caches."""
from __future__ import annotations

import re

from backtests.errors import UserError

_SYMBOL = re.compile(r"^[A-Za-z0-9.\-\^=]{1,20}$")


def check_ticker(ticker: object) -> str:
    """Return the ticker upper-cased, or refuse anything that is not a plain symbol (paths above all)."""
    text = str(ticker).strip()
    if not _SYMBOL.match(text) or text.startswith("."):
        why = " (longer than 20 characters)" if len(text) > 20 else ""
        raise UserError(
            f"ticker={ticker!r} is not a ticker symbol{why}",
            "use letters, digits and . - ^ = only, not starting with '.', e.g. ticker=MSFT or "
            "ticker=^GSPC",
        )
    return text.upper()


def safe_name(ticker: str) -> str:
    """A file-name form of a checked ticker: never a path, never hidden ('^GSPC' -> '_5EGSPC')."""
    return "".join(c if c.isalnum() or c in "-=" else f"_{ord(c):02X}" for c in check_ticker(ticker))
