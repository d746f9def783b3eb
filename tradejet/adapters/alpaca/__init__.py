"""Alpaca: the US equity broker behind the :class:`~tradejet.engine.ports.ExecutionVenue` Protocol.

:mod:`.http` (REST client, trading + market data), :mod:`.schemas` (wire structs),
:mod:`.errors` (HTTP status -> :mod:`tradejet.errors`), :mod:`.venue` (the venue),
:mod:`.server` (a local Alpaca-shaped server on 127.0.0.1 for tests and dry runs).
"""

from tradejet.adapters.alpaca.http import DATA_URL, LIVE_URL, PAPER_URL, AlpacaCredentials, AlpacaHttp, trading_url

__all__ = ["AlpacaCredentials", "AlpacaHttp", "AlpacaVenue", "PAPER_URL", "LIVE_URL", "DATA_URL", "trading_url"]


def __getattr__(name: str):
    if name == "AlpacaVenue":
        from tradejet.adapters.alpaca.venue import AlpacaVenue

        return AlpacaVenue
    raise AttributeError(name)
