from __future__ import annotations

import asyncio

import pytest

from tradejet.adapters.kraken.ratelimit import TIERS, DecayingCounter, RateLimiter, rest_cost, trade_cost
from tradejet.errors import ConfigError

from .conftest import FakeClock


def test_costs_follow_krakens_tables():
    assert rest_cost("Balance") == 1 and rest_cost("TradesHistory") == 2 and rest_cost("Ledgers") == 2
    assert rest_cost("AddOrder") == 0 and rest_cost("CancelOrder") == 0
    assert [trade_cost("CancelOrder", a) for a in (1, 7, 12, 30, 60, 200, 301)] == [8, 6, 5, 4, 2, 1, 0]
    assert [trade_cost("EditOrder", a) for a in (1, 7, 12, 30, 60, 100)] == [7, 6, 5, 3, 2, 1]
    assert [trade_cost("AmendOrder", a) for a in (1, 7, 12, 20)] == [4, 3, 2, 1]
    assert trade_cost("AddOrder") == 1 and trade_cost("AddOrderBatch", n_orders=5) == 5


def test_counter_decays_linearly():
    c = DecayingCounter(10, 0.5, now=0.0)
    c.add(10, 0.0)
    assert c.level(4.0) == pytest.approx(8.0)
    assert c.wait_for(3, 4.0) == pytest.approx(2.0)
    assert c.level(100.0) == 0.0


def test_rest_calls_wait_instead_of_exceeding_the_starter_limit():
    clock = FakeClock(0.0)
    lim = RateLimiter("starter", clock=clock, sleep=clock.sleep)

    async def main():
        for _ in range(30):
            await lim.acquire_rest("Balance")
            assert lim.rest.level(clock()) <= TIERS["starter"].rest_max

    asyncio.run(main())
    # 14 fit at once (15 minus 1 headroom); the other 16 wait 1/0.33 s each
    assert len(clock.sleeps) == 16
    assert clock() == pytest.approx(16 / 0.33, rel=1e-6)


def test_trading_counter_is_per_pair_and_penalize_fills_it():
    clock = FakeClock(0.0)
    lim = RateLimiter("pro", clock=clock, sleep=clock.sleep)

    async def main():
        for _ in range(179):
            await lim.acquire_trade("AddOrder", "XXBTZUSD")
        await lim.acquire_trade("AddOrder", "XETHZUSD")  # other pair: no wait
        assert clock.sleeps == []
        await lim.acquire_trade("AddOrder", "XXBTZUSD")
        assert clock.sleeps == [pytest.approx(1 / 3.75)]
        lim.penalize("Balance")
        await lim.acquire_rest("Balance")

    asyncio.run(main())
    assert clock.sleeps[-1] == pytest.approx(1.0)  # pro decays 1/s


def test_unknown_tier_is_config_error():
    with pytest.raises(ConfigError, match="unknown Kraken tier"):
        RateLimiter("gold")
