"""Synthetic market kernel: correlated OHLCV paths with regime switching.

Contract
--------
Inputs are float64/int64 arrays; ``rng`` is a ``np.random.Generator`` (deterministic: the
same seed gives the same bytes). Outputs: ``(n_symbols, n_bars)`` float64 arrays
(open, high, low, close, volume, trades), C-contiguous per symbol, and the phase per bar
(int8, 0..4: calm uptrend, chop, selloff, crash, recovery). No NaN is produced; every bar
satisfies ``0 < low <= min(open, close) <= max(open, close) <= high`` and ``volume > 0``.

Model, per bar of ``dt`` years:

- phase: a Markov chain; leaves phase ``p`` with probability ``dt_hours / duration[p]``
  and goes to the next phase by ``next_cum[p]`` (cumulative probabilities);
- market factor: drift ``mu[p] * dt`` + GARCH(1,1)-like noise whose variance reverts to
  ``(vol[p])^2 dt`` (``alpha``, ``beta``: clustering), + a jump with probability
  ``jump_rate[p] * dt``, size ~ N(``jump_mean[p]``, ``jump_sd[p]``);
- each symbol: ``betas[i] *`` market + its own GARCH noise (``idio_vol[i] * vol_mult[p]``)
  + rare idiosyncratic jumps; open = previous close;
- high / low: the bar's range from its volatility (half-normal excursions beyond the body);
- volume: quote volume ``quote_volume[i] * dt_days`` scaled by regime activity, |return|
  surprise, a UTC time-of-day cycle and lognormal noise, divided by the price;
  trades: volume * price / ``trade_size[i]`` with noise, at least 1.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["synth_market_nb"]


@njit(cache=True)
def synth_market_nb(rng, n_bars, tf_seconds, start_ts, s0, betas, idio_vol, quote_volume, trade_size,
                    mu, vol, vol_mult, activity, duration_h, next_cum, jump_rate, jump_mean, jump_sd,
                    alpha, beta, phase0):
    k = s0.shape[0]
    o = np.empty((k, n_bars))
    h = np.empty((k, n_bars))
    lo = np.empty((k, n_bars))
    c = np.empty((k, n_bars))
    v = np.empty((k, n_bars))
    t = np.empty((k, n_bars))
    phase = np.empty(n_bars, np.int8)
    dt = tf_seconds / (365.0 * 86400.0)
    dt_h = tf_seconds / 3600.0
    dt_d = tf_seconds / 86400.0
    price = s0.copy()
    hm = vol[phase0] ** 2 * dt
    em = 0.0
    hi = np.empty(k)
    ei = np.zeros(k)
    for i in range(k):
        hi[i] = (idio_vol[i] * vol_mult[phase0]) ** 2 * dt
    p = phase0
    for b in range(n_bars):
        # phase switch
        if rng.random() < dt_h / duration_h[p]:
            u = rng.random()
            q = 0
            while q < 4 and u > next_cum[p, q]:
                q += 1
            p = q
        phase[b] = p
        # market factor, GARCH-like around the phase's variance
        target = vol[p] ** 2 * dt
        hm = (1.0 - alpha - beta) * target + alpha * em * em + beta * hm
        em = math.sqrt(hm) * rng.standard_normal()
        m = mu[p] * dt + em
        if rng.random() < jump_rate[p] * dt:
            m += jump_mean[p] + jump_sd[p] * rng.standard_normal()
        sd_m = math.sqrt(hm)
        hour = ((start_ts // 1_000_000_000 + b * tf_seconds) % 86400) / 3600.0
        season = 1.0 + 0.35 * math.cos(2.0 * math.pi * (hour - 15.0) / 24.0)
        for i in range(k):
            ti = (idio_vol[i] * vol_mult[p]) ** 2 * dt
            hi[i] = (1.0 - alpha - beta) * ti + alpha * ei[i] * ei[i] + beta * hi[i]
            ei[i] = math.sqrt(hi[i]) * rng.standard_normal()
            r = betas[i] * m + ei[i]
            if rng.random() < 0.5 * dt:  # idiosyncratic news: ~one every two years
                r += 0.08 * rng.standard_normal()
            if r > 1.0:  # keep a single bar's move sane
                r = 1.0
            elif r < -1.0:
                r = -1.0
            op = price[i]
            cl = op * math.exp(r)
            sd = math.sqrt(betas[i] * betas[i] * sd_m * sd_m + hi[i])
            top = op if op > cl else cl
            bot = op if op < cl else cl
            hh = top * math.exp(abs(rng.standard_normal()) * 0.6 * sd)
            ll = bot * math.exp(-abs(rng.standard_normal()) * 0.6 * sd)
            o[i, b] = op
            h[i, b] = hh
            lo[i, b] = ll
            c[i, b] = cl
            surprise = abs(r) / (sd + 1e-12)
            if surprise > 6.0:
                surprise = 6.0
            qv = quote_volume[i] * dt_d * activity[p] * season * (0.6 + 0.4 * surprise) \
                * math.exp(0.35 * rng.standard_normal() - 0.06125)
            vol_base = qv / cl
            v[i, b] = vol_base
            n_tr = math.floor(qv / trade_size[i] * math.exp(0.2 * rng.standard_normal()) + 0.5)
            t[i, b] = n_tr if n_tr >= 1.0 else 1.0
            price[i] = cl
    return o, h, lo, c, v, t, phase
