from __future__ import annotations

import asyncio

import pytest

from tradejet.adapters.alpaca.http import AlpacaCredentials

KEY = "PKTESTKEY0123456789"
SECRET = "sEcReT-never-logged-0123456789abcdefghij"


class Sleeps:
    """A fake sleep: records the waits, does not wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, s: float) -> None:
        self.waits.append(s)
        await asyncio.sleep(0)


@pytest.fixture
def creds() -> AlpacaCredentials:
    return AlpacaCredentials(KEY, SECRET)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


# Documented sample objects (docs.alpaca.markets: Account, Order, Position, TradeActivity, Clock, Calendar, bars)
ACCOUNT = {
    "id": "e6fe16f3-64a4-4921-8928-cadf02f92f98", "account_number": "010203ABCD", "status": "ACTIVE",
    "crypto_status": "ACTIVE", "currency": "USD", "buying_power": "262113.632", "regt_buying_power": "80680.36",
    "daytrading_buying_power": "262113.632", "non_marginable_buying_power": "7386.56", "cash": "-23140.2",
    "accrued_fees": "0", "pending_transfer_in": "0", "pending_transfer_out": "0", "portfolio_value": "103820.56",
    "pattern_day_trader": False, "trading_blocked": False, "transfers_blocked": False, "account_blocked": False,
    "created_at": "2019-06-12T22:47:07.99658Z", "trade_suspended_by_user": False, "multiplier": "4",
    "shorting_enabled": True, "equity": "103820.56", "last_equity": "103529.24", "long_market_value": "126960.76",
    "short_market_value": "0", "initial_margin": "63480.38", "maintenance_margin": "38088.228",
    "last_maintenance_margin": "38000.832", "sma": "0", "daytrade_count": "0"}
ORDER = {
    "id": "61e69015-8549-4bfd-b9c3-01e75843f47d", "client_order_id": "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
    "created_at": "2021-03-16T18:38:01.942282Z", "updated_at": "2021-03-16T18:38:01.942282Z",
    "submitted_at": "2021-03-16T18:38:01.937734Z", "filled_at": None, "expired_at": None, "canceled_at": None,
    "failed_at": None, "replaced_at": None, "replaced_by": None, "replaces": None,
    "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", "symbol": "AAPL", "asset_class": "us_equity",
    "notional": None, "qty": "5", "filled_qty": "0", "filled_avg_price": None, "order_class": "",
    "order_type": "market", "type": "market", "side": "buy", "time_in_force": "day", "limit_price": None,
    "stop_price": None, "status": "accepted", "extended_hours": False, "legs": None, "trail_percent": None,
    "trail_price": None, "hwm": None}
POSITION = {
    "asset_id": "904837e3-3b76-47ec-b432-046db621571b", "symbol": "AAPL", "exchange": "NASDAQ",
    "asset_class": "us_equity", "avg_entry_price": "100.0", "qty": "5", "qty_available": "4", "side": "long",
    "market_value": "600.0", "cost_basis": "500.0", "unrealized_pl": "100.0", "unrealized_plpc": "0.20",
    "unrealized_intraday_pl": "10.0", "unrealized_intraday_plpc": "0.0084", "current_price": "120.0",
    "lastday_price": "119.0", "change_today": "0.0084"}
FILL = {
    "activity_type": "FILL", "cum_qty": "1", "id": "20190524113406977::8efc7b9a-8b2b-4000-9955-d36e7db0df74",
    "leaves_qty": "0", "price": "1.63", "qty": "1", "side": "buy", "symbol": "LPCN",
    "transaction_time": "2019-05-24T15:34:06.977Z", "order_id": "904837e3-3b76-47ec-b432-046db621571b",
    "type": "fill"}
CLOCK = {"timestamp": "2022-04-28T14:07:04.451420928-04:00", "is_open": True,
         "next_open": "2022-04-29T09:30:00-04:00", "next_close": "2022-04-28T16:00:00-04:00"}
CALENDAR = [{"date": "1970-01-02", "open": "09:30", "close": "16:00", "session_open": "0400",
             "session_close": "2000", "settlement_date": "1970-01-06"}]
MULTI_BARS = {"bars": {"AAPL": [{"t": "2022-02-28T05:00:00Z", "o": 163.02, "h": 165.42, "l": 162.43, "c": 165.12,
                                 "v": 90552883, "n": 743379, "vw": 164.274348}],
                       "TSLA": [{"t": "2022-02-28T05:00:00Z", "o": 815.72, "h": 876.86, "l": 814.7075, "c": 870.43,
                                 "v": 32122773, "n": 848700, "vw": 855.748243}]},
              "next_page_token": None}
