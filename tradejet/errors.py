"""The TradejetError tree: every class says what the caller should do.

::

    TradejetError                 base; catch it at the CLI / embedding boundary
    ├── ConfigError               fix the named key in the named file; do not retry
    ├── DataError                 fix or quarantine the named source/row; do not retry
    ├── VenueError                something the venue (exchange, broker) said or did
    │   ├── VenueUnavailable      retry idempotent calls with backoff; never blindly resend an order
    │   ├── RateLimited           back off for ``retry_after`` seconds, then retry
    │   ├── AuthError             stop: credentials, permissions or signature are wrong
    │   ├── InvalidNonce          the nonce went backwards or is shared: bump it, check for another client
    │   ├── OrderRejected         record the rejection; do not retry the same order
    │   └── ResponseError         the venue answered something we cannot parse: stop and report
    ├── ModelError                refuse the model; keep the last good one
    └── StrategyError             the strategy / selection setup is invalid; fix the parameters

Messages read ``f"qty must be > 0, was {qty}"``: what is wrong and the value seen.
No error message may carry a secret.
"""

from __future__ import annotations

__all__ = [
    "TradejetError",
    "ConfigError",
    "DataError",
    "VenueError",
    "VenueUnavailable",
    "RateLimited",
    "AuthError",
    "InvalidNonce",
    "OrderRejected",
    "ResponseError",
    "ModelError",
    "StrategyError",
]


class TradejetError(Exception):
    """Base of every error tradejet raises on purpose."""


class ConfigError(TradejetError):
    """A configuration value is missing or wrong; the message names the key and the file."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None):
        self.key = key
        self.source = source
        where = ", ".join(p for p in (f"file {source}" if source else "", f"key {key}" if key else "") if p)
        super().__init__(f"{message} ({where})" if where else message)


class DataError(TradejetError):
    """Input data is bad; the message names the source and, where known, the row."""

    def __init__(self, message: str, *, source: str | None = None, row: int | None = None,
                 column: str | None = None, value: object = None):
        self.source = source
        self.row = row
        self.column = column
        self.value = value
        parts = [p for p in (source, f"line {row}" if row is not None else None) if p]
        super().__init__(f"{': '.join(parts)}: {message}" if parts else message)


class VenueError(TradejetError):
    """Something the execution venue said or did."""


class VenueUnavailable(VenueError):
    """Timeout, 5xx, or the venue says it is busy: retry idempotent calls with backoff."""


class RateLimited(VenueError):
    """The venue's rate limit was hit: wait ``retry_after`` seconds before the next call."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class AuthError(VenueError):
    """Credentials, permissions or the signature are wrong: stop, do not retry."""


class InvalidNonce(VenueError):
    """The nonce was not larger than the last one: another client may share the key."""


class OrderRejected(VenueError):
    """The venue refused an order (funds, minimums, arguments): record it, do not resend."""


class ResponseError(VenueError):
    """The venue's answer did not have the expected shape; names the endpoint and field."""


class ModelError(TradejetError):
    """A model failed a check (integrity, schema, gates): refuse it, keep the last good one."""


class StrategyError(TradejetError):
    """Strategy, selection or risk parameters are invalid: fix them."""
