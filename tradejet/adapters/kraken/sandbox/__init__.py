"""A local Kraken Spot sandbox: REST + WebSocket v2 on 127.0.0.1, a replayed market,
balances and orders, and faults on demand. See :class:`Sandbox`.

>>> from tradejet.adapters.kraken.sandbox import Sandbox
>>> Sandbox(seed=7).exchange.status
'online'
"""

from tradejet.adapters.kraken.sandbox.exchange import Exchange, Refusal
from tradejet.adapters.kraken.sandbox.faults import KINDS as FAULT_KINDS
from tradejet.adapters.kraken.sandbox.faults import Faults
from tradejet.adapters.kraken.sandbox.market import MarketSource, SyntheticMarket
from tradejet.adapters.kraken.sandbox.matching import match_order
from tradejet.adapters.kraken.sandbox.server import Sandbox

__all__ = ["Sandbox", "Exchange", "Refusal", "Faults", "FAULT_KINDS", "MarketSource", "SyntheticMarket", "match_order"]
