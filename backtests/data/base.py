"""What every price source gives back, and the date selection they share."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import pandas as pd

from backtests.data.quality import QualityPolicy, QualityReport, check_quality
from backtests.errors import UserError

log = logging.getLogger(__name__)

PRICE_COLUMNS = ["Open", "High", "Low", "Close", "Volume"]


@dataclass
class MarketData:
    """Validated daily bars (adjusted OHLCV, sorted unique dates) and where they came from."""

    frame: pd.DataFrame
    source: str
    ticker: str
    repairs: dict[str, int] = field(default_factory=dict)
    repair_dates: dict[str, list[str]] = field(default_factory=dict)  # where each repair was made
    adjusted: bool | None = True  # dividends in the prices? (False: a CSV without Adj Close)
    quality: QualityReport | None = None  # what the data checks found and did
    factor: pd.Series | None = None  # the file's Adj Close / Close per date: where it adjusted

    @property
    def unscored(self) -> list[pd.Timestamp]:
        """Forecast dates whose next-day return spans a gap: left out of the forecast scores."""
        return list(self.quality.unscored) if self.quality is not None else []

    @property
    def fingerprint(self) -> str:
        """A short hash of every value and date: equal data, equal fingerprint (cache keys use it)."""
        return frame_fingerprint(self.frame)

    def fingerprint_until(self, date: pd.Timestamp) -> str:
        """The fingerprint these data had when they ended at `date` (a daily extension keeps it)."""
        return frame_fingerprint(self.frame.loc[:date])

    def summary(self) -> dict:
        index = self.frame.index
        return {
            "source": self.source,
            "ticker": self.ticker,
            "first_date": index[0].date().isoformat(),
            "last_date": index[-1].date().isoformat(),
            "rows": int(len(self.frame)),
            "fingerprint": self.fingerprint,
            "repairs": dict(self.repairs),
            "repair_dates": {k: list(v) for k, v in self.repair_dates.items()},
            "dividend_adjusted": self.adjusted,
            "quality": self.quality.as_dict() if self.quality is not None else {},
        }


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A short hash of every value and date of `frame`."""
    hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


class PriceSource:
    """Base for sources: subclasses implement `_load` (parsed, cleaned bars) and inherit the date
    selection and the quality checks."""

    # Each setting's bound (checked before any data is read: backtests/settings/bounds.py).
    bounds = {"start": "date | null", "end": "date | null"}
    # The ticker a run gets without ticker= (and without a file name that says one): conf/config.yaml
    default_ticker = "MSFT"

    def __init__(self, ticker: str, *, start: str | None, end: str | None,
                 quality: QualityPolicy) -> None:
        # No defaults: conf/data/<source>.yaml and conf/data/quality/ hold them.
        self.ticker = ticker
        self.quality = quality
        self.start = _parse_date(start, "data.start")
        self.end = _parse_date(end, "data.end")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise UserError(
                f"data.start ({self.start.date()}) is not before data.end ({self.end.date()})",
                "give a start date earlier than the end date",
            )

    def load(self, enforce: bool = True, say_age: bool = True) -> MarketData:
        """Load, validate, cut the bars to [start, end], then check them by the quality policy.

        The checks see exactly the bars the run uses, before any feature is computed; a finding
        whose policy is `fail` stops here with its dates (unless `enforce` is False: mode=inspect
        reports every finding and stops for none). `say_age=False` leaves an old last bar to the
        caller, which says it once for many tickers (quality.say_age).
        """
        data = self._load()
        frame = data.frame
        if self.start is not None:
            frame = frame.loc[frame.index >= self.start]
        if self.end is not None:
            frame = frame.loc[frame.index <= self.end]
        if frame.empty:
            raise no_bars(f"{self.ticker} bars", self.start, self.end, data.frame.index[0],
                          data.frame.index[-1])
        data.frame, data.quality = check_quality(frame, self.quality, f"{data.ticker} ({data.source})",
                                                 data.adjusted, self.end, data.factor)
        data.quality.log(age=say_age)
        if enforce:
            data.quality.enforce()
        return data

    def _load(self) -> MarketData:
        raise NotImplementedError


def no_bars(what: str, start: pd.Timestamp | None, end: pd.Timestamp | None,
            first: pd.Timestamp, last: pd.Timestamp) -> UserError:
    """The error for a date range that holds none of the data's bars."""
    return UserError(f"no {what} between data.start={_show(start)} and data.end={_show(end)}; the "
                     f"data covers {first.date()} to {last.date()}", "choose dates inside that range")


def _parse_date(value: object, name: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        return pd.Timestamp(str(value)).normalize()
    except (ValueError, TypeError) as exc:
        raise UserError(f"{name}={value!r} is not a date", "use the form YYYY-MM-DD") from exc


def _show(value: pd.Timestamp | None) -> str:
    return "null" if value is None else str(value.date())
