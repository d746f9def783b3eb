"""What every strategy step kernel shares: the per-symbol indicator pack, the intent
buffer, the per-position state and the common risk profile.

Contract (all float64, preallocated by the driver, nothing allocated per bar):

- Indicator pack: one state row per symbol, ``ind_state`` ``(n_pairs, IND_SIZE)``,
  built by :func:`indicator_state` from the periods in ``ind_params`` (``IP_*``), and
  advanced by :func:`indicators_update_nb` with one OHLCV bar, which writes the values
  the strategies read into ``iv`` ``(n_pairs, N_IV)`` (``IV_*`` columns). It uses the
  streaming ``_*_upd`` kernels of :mod:`tradejet.kernels.streaming`, so the compiled
  backtest and the event driver compute the same numbers bit for bit. NaN in warm-up.
- Strategy parameters: one row ``params`` ``(N_SP,)`` per strategy; the first ``SP_*``
  columns are the risk profile every strategy has (max position fraction per pair, ATR
  stop multiple, take-profit ATR multiple, max holding bars), then ``SP_P0..`` its own.
- Position state ``pos_state`` ``(n_strategies, n_pairs, N_PS)``: entry time and price,
  stop, take-profit, bars held, highest close since entry. Written by the driver when a
  fill opens or adds to a position (:func:`on_entry_fill_nb`), cleared when flat.
- Intents: ``intents`` ``(MAX_INTENTS, N_INT)``, rows ``INT_*``; a step returns how many
  rows it wrote after ``n``. Exits are market orders sized to the whole position and
  flagged reduce-only; entries are market orders sized from the capital share.

Exit rules shared by all (checked on the bar's close, executed at the next open by the
fill model): ATR stop from the entry (``entry - stop_mult * ATR_at_entry``, trailed up
under the highest close), take-profit ``entry + tp_mult * ATR_at_entry``, max holding
time. A strategy adds its own signal exits.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from tradejet.kernels import streaming as _s
from tradejet.kernels.codes import OrderType, Side, StrategyStatus

# ------------------------------------------------------------------ indicator parameters
IP_EMA_FAST = 0
IP_EMA_SLOW = 1
IP_EMA_LONG = 2
IP_ADX = 3
IP_RSI = 4
IP_BB = 5
IP_BB_NBDEV = 6
IP_ATR = 7
IP_DON_ENTRY = 8
IP_DON_EXIT = 9
IP_VOL_SMA = 10
IP_MOM1 = 11
IP_MOM2 = 12
IP_MOM3 = 13
IP_RV = 14
IP_SMA_TREND = 15   # simple moving averages (the swing system's trend and exit lines)
IP_SMA_MID = 16
IP_SMA_EXIT = 17
N_IP = 18

DEFAULT_IND_PARAMS = np.array([12, 48, 120, 14, 14, 20, 2.0, 14, 48, 24, 24, 24, 72, 168, 24, 200, 50, 5],
                              dtype=np.float64)

# ------------------------------------------------------------------ indicator values
IV_CLOSE = 0
IV_EMA_FAST = 1
IV_EMA_SLOW = 2
IV_EMA_FAST_PREV = 3
IV_EMA_SLOW_PREV = 4
IV_EMA_LONG = 5
IV_ADX = 6
IV_RSI = 7
IV_BB_UP = 8
IV_BB_MID = 9
IV_BB_LOW = 10
IV_ATR = 11
IV_DON_HIGH = 12   # highest high of the previous N bars (excludes this bar)
IV_DON_LOW = 13    # lowest low of the previous N_exit bars (excludes this bar)
IV_VOL_SMA = 14    # mean volume of the previous N bars (excludes this bar)
IV_VOLUME = 15
IV_MOM = 16        # mean of the returns over the three momentum horizons
IV_RV = 17         # std of log returns over IP_RV bars (per bar)
IV_BARS = 18       # bars seen
IV_SMA_TREND = 19  # SMA(IP_SMA_TREND) of the close (NaN in warm-up)
IV_SMA_MID = 20
IV_SMA_EXIT = 21
N_IV = 22

# ------------------------------------------------------------------ strategy parameters
SP_MAX_POS_FRAC = 0   # max share of the strategy's capital in one pair
SP_STOP_ATR = 1       # ATR stop multiple (NaN: none)
SP_TP_ATR = 2         # take-profit ATR multiple (NaN: none)
SP_MAX_HOLD = 3       # max holding bars (NaN: none)
SP_P0 = 4
N_SP = 20

# ------------------------------------------------------------------ position state
PS_ENTRY_TS = 0
PS_ENTRY_PRICE = 1
PS_STOP = 2
PS_TP = 3
PS_BARS = 4
PS_HIGH = 5
PS_ATR = 6
PS_TRANCHES = 7     # scale-in tranches filled (their first fill counts)
PS_LAST_FILL = 8    # price of the last tranche's first fill
PS_OPEN_TRANCHE = 9  # 1 while a tranche order is out and not yet filled
PS_ALLOC = 10       # the symbol allocation (quote currency) fixed at the first tranche
PS_BACKFILLED = 11  # 1: adopted from the venue on start (no scale-in unless configured)
N_PS = 12
_PS_ZERO = (PS_ENTRY_TS, PS_BARS, PS_TRANCHES, PS_OPEN_TRANCHE, PS_BACKFILLED)

# ------------------------------------------------------------------ intents
INT_PAIR = 0
INT_STRATEGY = 1
INT_SIDE = 2
INT_QTY = 3
INT_TYPE = 4
INT_PRICE = 5      # reference (market) or limit price
INT_FLAGS = 6      # kernels.risk INTENT_* bits
INT_REASON = 7     # ExitReason / entry code, for reports
N_INT = 8
MAX_INTENTS = 256

FLAG_REDUCE_ONLY = 2   # same bits as kernels.risk.INTENT_REDUCE_ONLY / INTENT_FORCED
FLAG_FORCED = 4

REASON_ENTRY = 0
REASON_SIGNAL_EXIT = 1
REASON_STOP = 2
REASON_TAKE_PROFIT = 3
REASON_TIME = 4
REASON_FLATTEN = 5
REASON_REBALANCE = 6
REASON_SCALE_IN = 7   # a further tranche of a scale-in position (swing)
REASON_TEXT = ("entry", "signal exit", "stop", "take-profit", "time stop", "flatten", "rebalance", "scale-in")


def _layout(ip: np.ndarray) -> tuple[dict[str, int], np.ndarray]:
    mom_max = int(max(ip[IP_MOM1], ip[IP_MOM2], ip[IP_MOM3]))
    parts = [
        ("ema_fast", _s.ema_init(int(ip[IP_EMA_FAST]))),
        ("ema_slow", _s.ema_init(int(ip[IP_EMA_SLOW]))),
        ("ema_long", _s.ema_init(int(ip[IP_EMA_LONG]))),
        ("dmi", _s.dmi_init(int(ip[IP_ADX]))),
        ("rsi", _s.rsi_init(int(ip[IP_RSI]))),
        ("bb", _s.bbands_init(int(ip[IP_BB]), float(ip[IP_BB_NBDEV]))),
        ("atr", _s.atr_init(int(ip[IP_ATR]))),
        ("don_high", _s.rolling_max_init(int(ip[IP_DON_ENTRY]))),
        ("don_low", _s.rolling_min_init(int(ip[IP_DON_EXIT]))),
        ("vol_sma", _s.sma_init(int(ip[IP_VOL_SMA]))),
        ("rv", _s.realized_vol_init(int(ip[IP_RV]), 1.0)),
        ("sma_trend", _s.sma_init(int(ip[IP_SMA_TREND]))),
        ("sma_mid", _s.sma_init(int(ip[IP_SMA_MID]))),
        ("sma_exit", _s.sma_init(int(ip[IP_SMA_EXIT]))),
        ("closes", np.zeros(2 + mom_max + 1)),  # [count, pos, ring of the last mom_max + 1 closes]
        ("prev", np.full(5, np.nan)),           # previous ema_fast, ema_slow, don_high, don_low, vol_sma
    ]
    offsets: dict[str, int] = {}
    o = 0
    for name, st in parts:
        offsets[name] = o
        o += st.size
    row = np.zeros(o)
    for name, st in parts:
        row[offsets[name]:offsets[name] + st.size] = st
    return offsets, row


_OFFSET_NAMES = ("ema_fast", "ema_slow", "ema_long", "dmi", "rsi", "bb", "atr", "don_high", "don_low", "vol_sma",
                 "rv", "closes", "prev", "sma_trend", "sma_mid", "sma_exit")
N_OFF = len(_OFFSET_NAMES)


def check_ind_params(ip) -> np.ndarray:
    """Validate indicator periods (whole numbers >= 2, nbdev > 0) and return them as float64."""
    a = np.asarray(ip, dtype=np.float64)
    if a.shape != (N_IP,):
        raise ValueError(f"indicator parameters must have {N_IP} values, got {a.shape}")
    for k, v in enumerate(a):
        if k == IP_BB_NBDEV:
            if not v > 0:
                raise ValueError(f"bollinger nbdev must be > 0, was {v}")
        elif not (v >= 2 and v == int(v)):
            raise ValueError(f"indicator period #{k} must be a whole number >= 2, was {v}")
    return a


def indicator_state(ind_params, n_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(ind_state, offsets)``: one fresh indicator-pack row per pair and the offsets."""
    ip = check_ind_params(ind_params)
    offsets, row = _layout(ip)
    state = np.tile(row, (n_pairs, 1))
    return state, np.array([offsets[k] for k in _OFFSET_NAMES], dtype=np.int64)


@njit(cache=True, error_model="numpy")
def indicators_update_nb(state, off, ip, pair, o, h, l, c, v, iv):
    """Advance pair ``pair``'s pack by one bar and write its ``IV_*`` values into ``iv[pair]``."""
    st = state[pair]
    pv = off[12]
    # values "of the previous N bars" are the last bar's rolling values
    iv[pair, IV_DON_HIGH] = st[pv + 2]
    iv[pair, IV_DON_LOW] = st[pv + 3]
    iv[pair, IV_VOL_SMA] = st[pv + 4]
    iv[pair, IV_EMA_FAST_PREV] = st[pv + 0]
    iv[pair, IV_EMA_SLOW_PREV] = st[pv + 1]
    ef = _s._ema_upd(st, off[0], c)
    es = _s._ema_upd(st, off[1], c)
    iv[pair, IV_EMA_FAST] = ef
    iv[pair, IV_EMA_SLOW] = es
    iv[pair, IV_EMA_LONG] = _s._ema_upd(st, off[2], c)
    pdi, mdi, adx = _s._dmi_upd(st, off[3], h, l, c)
    iv[pair, IV_ADX] = adx
    iv[pair, IV_RSI] = _s._rsi_upd(st, off[4], c)
    up, mid, lo = _s._bbands_upd(st, off[5], c)
    iv[pair, IV_BB_UP] = up
    iv[pair, IV_BB_MID] = mid
    iv[pair, IV_BB_LOW] = lo
    iv[pair, IV_ATR] = _s._atr_upd(st, off[6], h, l, c)
    st[pv + 2] = _s._max_upd(st, off[7], h)
    st[pv + 3] = _s._min_upd(st, off[8], l)
    st[pv + 4] = _s._sma_upd(st, off[9], v)
    st[pv + 0] = ef
    st[pv + 1] = es
    iv[pair, IV_RV] = _s._rv_upd(st, off[10], c)
    iv[pair, IV_SMA_TREND] = _s._sma_upd(st, off[13], c)
    iv[pair, IV_SMA_MID] = _s._sma_upd(st, off[14], c)
    iv[pair, IV_SMA_EXIT] = _s._sma_upd(st, off[15], c)
    # ring of closes for momentum
    oc = off[11]
    count = int(st[oc])
    size = int(ip[IP_MOM1])
    m2 = int(ip[IP_MOM2])
    m3 = int(ip[IP_MOM3])
    mmax = max(size, max(m2, m3))
    ring = mmax + 1
    pos = int(st[oc + 1])
    st[oc + 2 + pos] = c
    mom = 0.0
    if count >= mmax:
        for hzn in (size, m2, m3):
            past = st[oc + 2 + (pos - hzn) % ring]
            mom += c / past - 1.0
        mom /= 3.0
    else:
        mom = np.nan
    st[oc] = count + 1
    st[oc + 1] = (pos + 1) % ring
    iv[pair, IV_MOM] = mom
    iv[pair, IV_CLOSE] = c
    iv[pair, IV_VOLUME] = v
    iv[pair, IV_BARS] = count + 1


@njit(cache=True)
def emit_nb(intents, n, pair, strategy, side, qty, price, flags, reason):
    """Append one market intent; return the new count (intents past MAX_INTENTS are dropped)."""
    if n >= intents.shape[0] or not (qty > 0.0):
        return n
    intents[n, INT_PAIR] = pair
    intents[n, INT_STRATEGY] = strategy
    intents[n, INT_SIDE] = side
    intents[n, INT_QTY] = qty
    intents[n, INT_TYPE] = OrderType.MARKET
    intents[n, INT_PRICE] = price
    intents[n, INT_FLAGS] = flags
    intents[n, INT_REASON] = reason
    return n + 1


@njit(cache=True)
def protective_exit_nb(ps, params, close):
    """Return the reason to exit a long on this close (stop, take-profit, time), or -1."""
    if ps[PS_STOP] == ps[PS_STOP] and close <= ps[PS_STOP]:
        return REASON_STOP
    if ps[PS_TP] == ps[PS_TP] and close >= ps[PS_TP]:
        return REASON_TAKE_PROFIT
    mh = params[SP_MAX_HOLD]
    if mh == mh and ps[PS_BARS] >= mh:
        return REASON_TIME
    return -1


@njit(cache=True)
def advance_position_nb(ps, params, close):
    """Per bar while in a position: count bars, track the high, trail the ATR stop up."""
    ps[PS_BARS] += 1.0
    if close > ps[PS_HIGH]:
        ps[PS_HIGH] = close
        sm = params[SP_STOP_ATR]
        if sm == sm and ps[PS_ATR] == ps[PS_ATR]:
            trail = close - sm * ps[PS_ATR]
            if trail > ps[PS_STOP]:
                ps[PS_STOP] = trail


@njit(cache=True)
def on_entry_fill_nb(ps, params, ts, avg_price, atr, was_flat):
    """Set the position state when a buy fill opens (or adds to) a long."""
    if was_flat or ps[PS_ENTRY_TS] == 0.0:
        ps[PS_ENTRY_TS] = ts
        ps[PS_BARS] = 0.0
        ps[PS_HIGH] = avg_price
        ps[PS_ATR] = atr
    ps[PS_ENTRY_PRICE] = avg_price
    a = ps[PS_ATR]
    sm = params[SP_STOP_ATR]
    tm = params[SP_TP_ATR]
    ps[PS_STOP] = avg_price - sm * a if (sm == sm and a == a) else np.nan
    ps[PS_TP] = avg_price + tm * a if (tm == tm and a == a) else np.nan


@njit(cache=True)
def clear_position_nb(ps):
    for k in range(ps.shape[0]):
        ps[k] = 0.0 if k in _PS_ZERO else np.nan


@njit(cache=True)
def entry_qty_nb(params, share, equity, pos_qty, price):
    """Quantity that brings the position to ``max_pos_frac * share * equity`` of notional (0 if there)."""
    target = params[SP_MAX_POS_FRAC] * share * equity
    have = pos_qty * price
    if not (price > 0.0) or target - have <= 0.0:
        return 0.0
    return (target - have) / price


@njit(cache=True, _nrt=False)
def exit_all_nb(intents, n, pair, strategy, qty, price, reason, forced):
    """Append a reduce-only market sell of the whole long (buy back a short)."""
    side = Side.SELL if qty > 0.0 else Side.BUY
    flags = FLAG_REDUCE_ONLY | (FLAG_FORCED if forced else 0)
    return emit_nb(intents, n, pair, strategy, side, abs(qty), price, flags, reason)


@njit(cache=True, _nrt=False)
def manage_long_nb(intents, n, pair, strategy, params, status, ps, qty, close, signal_exit, signal_reason):
    """Manage one held position for a bar; return the new intent count.

    Advances the position state (bars held, high, trailing stop); FLATTEN exits at once
    (forced); otherwise the shared stop / take-profit / time stop, then the strategy's own
    ``signal_exit`` (reported as ``signal_reason``).
    """
    advance_position_nb(ps, params, close)
    if status == StrategyStatus.FLATTEN:
        return exit_all_nb(intents, n, pair, strategy, qty, close, np.int64(REASON_FLATTEN), np.bool_(True))
    r = protective_exit_nb(ps, params, close)
    if r < 0 and signal_exit:
        r = signal_reason
    if r >= 0:
        n = exit_all_nb(intents, n, pair, strategy, qty, close, r, np.bool_(False))
    return n


def finite_or(x: float, default: float) -> float:
    return x if math.isfinite(x) else default
