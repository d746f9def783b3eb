"""Daily UTC downtime schedule as kernels: trading state of a timestamp, and what it allows.

Contract: timestamps are int64 Unix nanoseconds UTC (UTC has no DST; Unix time has no
leap seconds, so every day is exactly 86,400 s). The schedule is one int64 array
``params`` of length ``N_SCHED`` (``SCHED_*`` indices): enabled flag, window start and
end in seconds after 00:00 UTC (end < start means the window crosses midnight), drain
lead and resume duration in seconds. Built and validated by
``tradejet.engine.schedule.Schedule``; kernels trust it. States are
``codes.TradingState``; permissions are ``codes.Permit`` bits.

Cycle, measured from ``start - lead`` (mod one day)::

    [0, lead)                      DRAINING
    [lead, lead + window)          DOWNTIME
    [lead + window, + resume)      RESUMING
    otherwise                      TRADING
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tradejet.kernels.codes import Permit, TradingState

SCHED_ENABLED = 0
SCHED_START_S = 1
SCHED_END_S = 2
SCHED_LEAD_S = 3
SCHED_RESUME_S = 4
N_SCHED = 5

NS_PER_S = 1_000_000_000
DAY_S = 86_400
DAY_NS = DAY_S * NS_PER_S


@njit(cache=True)
def _phase_ns(ts, params):
    """Nanoseconds since the start of the drain phase, in [0, DAY_NS)."""
    origin = ((params[SCHED_START_S] - params[SCHED_LEAD_S]) % DAY_S) * NS_PER_S
    return ((ts % DAY_NS) - origin) % DAY_NS


@njit(cache=True)
def trading_state_nb(ts, params) -> int:
    """Return the ``TradingState`` code at ``ts`` (int64 ns UTC). Oracle: tests' datetime loop."""
    if params[SCHED_ENABLED] == 0:
        return TradingState.TRADING
    lead = params[SCHED_LEAD_S] * NS_PER_S
    window = ((params[SCHED_END_S] - params[SCHED_START_S]) % DAY_S) * NS_PER_S
    resume = params[SCHED_RESUME_S] * NS_PER_S
    d = _phase_ns(np.int64(ts), params)
    if d < lead:
        return TradingState.DRAINING
    if d < lead + window:
        return TradingState.DOWNTIME
    if d < lead + window + resume:
        return TradingState.RESUMING
    return TradingState.TRADING


@njit(cache=True)
def trading_state_1d_nb(ts, params, out):
    """Write the state of every ``ts[i]`` into ``out[i]`` (int8, same length); return ``out``."""
    for i in range(ts.shape[0]):
        out[i] = trading_state_nb(ts[i], params)
    return out


@njit(cache=True)
def next_change_nb(ts, params):
    """Return ``(state, ts_change)``: the next state after ``ts`` and the first ns it holds.

    With the schedule disabled: ``(TRADING, int64 max)``.
    """
    if params[SCHED_ENABLED] == 0:
        return TradingState.TRADING, np.iinfo(np.int64).max
    ts = np.int64(ts)
    lead = params[SCHED_LEAD_S] * NS_PER_S
    window = ((params[SCHED_END_S] - params[SCHED_START_S]) % DAY_S) * NS_PER_S
    resume = params[SCHED_RESUME_S] * NS_PER_S
    d = _phase_ns(ts, params)
    now = trading_state_nb(ts, params)
    bounds = (lead, lead + window, lead + window + resume, DAY_NS, DAY_NS + lead,
              DAY_NS + lead + window, DAY_NS + lead + window + resume)
    for b in bounds:
        if b > d:
            t = ts + (b - d)
            s = trading_state_nb(t, params)
            if s != now:
                return s, t
    return now, np.iinfo(np.int64).max  # unreachable with a valid schedule


@njit(cache=True)
def permissions_nb(state) -> int:
    """Return the ``Permit`` bits allowed in trading ``state``.

    TRADING: everything. DRAINING and RESUMING: exits and forced exits (no new entries,
    resting entry orders are cancelled). DOWNTIME: forced exits only. Unknown: nothing.
    """
    if state == TradingState.TRADING:
        return Permit.NEW_ENTRY | Permit.RESTING_ENTRY | Permit.EXIT | Permit.FORCED_EXIT
    if state == TradingState.DRAINING or state == TradingState.RESUMING:
        return Permit.EXIT | Permit.FORCED_EXIT
    if state == TradingState.DOWNTIME:
        return Permit.FORCED_EXIT
    return 0
