"""Kraken Spot: REST (httpx), WebSocket v2 and a local Kraken-compatible sandbox.

Modules: :mod:`.auth` (API-Sign, credentials), :mod:`.nonce`, :mod:`.ratelimit`,
:mod:`.schemas` (wire structs) -> :mod:`.parse` (-> :mod:`tradejet.messages`),
:mod:`.errors`, :mod:`.orders` (rounding, minimums), :mod:`.http` (``KrakenHttp``),
:mod:`.ws` (``KrakenWs``), :mod:`.book` (checksummed book), :mod:`.sandbox` (``Sandbox``,
imported on demand: it pulls in numpy).
"""

from tradejet.adapters.kraken.auth import Credentials, sign
from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.adapters.kraken.nonce import NonceSource
from tradejet.adapters.kraken.orders import build_add_order
from tradejet.adapters.kraken.ratelimit import RateLimiter
from tradejet.adapters.kraken.ws import KrakenWs

__all__ = ["Credentials", "sign", "KrakenHttp", "NonceSource", "build_add_order", "RateLimiter", "KrakenWs"]
