"""The daily UTC downtime schedule: TRADING -> DRAINING -> DOWNTIME -> RESUMING -> TRADING.

A thin typed facade over :mod:`tradejet.kernels.schedule`; the kernels are what the
drivers and the risk layer call. Timestamps are int64 Unix ns UTC, or timezone-aware
``datetime`` objects (converted exactly); naive datetimes are refused.

>>> from tradejet.config import ScheduleConfig
>>> s = Schedule(ScheduleConfig())
>>> s.state_text(to_ns("2024-02-29T02:45:00+00:00"))
'DRAINING'
>>> s.state_text(to_ns("2024-02-29T05:10:00+02:00"))   # 03:10 UTC
'DOWNTIME'
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from tradejet.config import ScheduleConfig
from tradejet.errors import ConfigError, DataError
from tradejet.kernels import schedule as ks
from tradejet.kernels.codes import TRADING_STATE_TEXT, Permit

__all__ = ["Schedule", "to_ns", "Permit"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_ns(when: int | np.integer | datetime | str) -> int:
    """Return ``when`` as int Unix ns UTC: an int is taken as ns; a datetime or ISO string must carry a timezone.

    >>> to_ns("1970-01-01T01:00:00+01:00")
    0
    """
    if isinstance(when, (bool, np.bool_)):
        raise DataError(f"timestamp must be int ns or an aware datetime, was {when!r}")
    if isinstance(when, (int, np.integer)):
        return int(when)
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            raise DataError(f"timestamp string is not ISO 8601: {when!r}") from None
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise DataError(f"naive datetime {when.isoformat()} is ambiguous: give a timezone (UTC inside)")
        delta = when - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    raise DataError(f"timestamp must be int ns or an aware datetime, was {type(when).__name__}")


class Schedule:
    """The downtime schedule of one config.

    Parameters
    ----------
    config : ScheduleConfig
        Window (UTC ``HH:MM``), drain lead and resume duration.
    """

    def __init__(self, config: ScheduleConfig | None = None):
        config = ScheduleConfig() if config is None else config
        try:
            start, end = config.start_s, config.end_s
        except ValueError as e:
            raise ConfigError(str(e), key="schedule") from None
        self.config = config
        #: int64 kernel parameters (``kernels.schedule.SCHED_*``): pass this to the kernels.
        self.params = np.array([int(config.enabled), start, end, 60 * config.drain_lead_minutes,
                                60 * config.resume_minutes], dtype=np.int64)
        self.params.setflags(write=False)

    def state_at(self, when: int | datetime | str) -> int:
        """Return the ``TradingState`` code at ``when``."""
        return int(ks.trading_state_nb(np.int64(to_ns(when)), self.params))

    def state_text(self, when: int | datetime | str) -> str:
        """Return the state name at ``when`` (``"TRADING"``, ``"DRAINING"``, ...)."""
        return TRADING_STATE_TEXT[self.state_at(when)]

    def states(self, ts: np.ndarray) -> np.ndarray:
        """Return the int8 state of every int64 ns timestamp in ``ts``."""
        ts = np.asarray(ts)
        if ts.ndim != 1 or ts.dtype.kind not in "iu":
            raise DataError(f"ts must be a 1-D integer array of ns, was {ts.ndim}-D {ts.dtype}")
        ts = ts.astype(np.int64, copy=False)
        return ks.trading_state_1d_nb(ts, self.params, np.empty(ts.shape[0], dtype=np.int8))

    def next_change(self, when: int | datetime | str) -> tuple[int, int]:
        """Return ``(state, ts)``: the next state and the first ns it holds."""
        s, t = ks.next_change_nb(np.int64(to_ns(when)), self.params)
        return int(s), int(t)

    def permissions(self, when: int | datetime | str) -> int:
        """Return the ``Permit`` bits allowed at ``when``."""
        return int(ks.permissions_nb(self.state_at(when)))

    def allows(self, when: int | datetime | str, permit: int) -> bool:
        """Return whether ``permit`` (a ``Permit`` bit) is allowed at ``when``."""
        return bool(self.permissions(when) & permit)
