"""Kraken's ``error`` strings -> the :mod:`tradejet.errors` classes.

Kraken answers HTTP 200 with ``{"error": ["EOrder:Insufficient funds"], "result": ...}``.
Strings read ``<E|W><Category>:<Message>[:detail]``; ``W`` entries are warnings and
coexist with a result. Matching is by prefix; the full string is kept in the message.
The order-rejection subclasses let a caller tell funds from minimums from arguments
while still catching :class:`~tradejet.errors.OrderRejected`.
"""

from __future__ import annotations

import logging
import re
import time

from tradejet.errors import (
    AuthError,
    InvalidNonce,
    OrderRejected,
    RateLimited,
    VenueError,
    VenueUnavailable,
)

__all__ = [
    "InsufficientFunds",
    "OrderMinimumNotMet",
    "InvalidArguments",
    "UnknownOrder",
    "PermissionDenied",
    "UnknownPair",
    "error_for",
    "raise_for_errors",
]

log = logging.getLogger(__name__)


class InsufficientFunds(OrderRejected):
    """``EOrder:Insufficient funds``: the balance (after holds) does not cover the order."""


class OrderMinimumNotMet(OrderRejected):
    """``EOrder:Order minimum not met`` / ``Cost minimum not met``: below ``ordermin``/``costmin``."""


class InvalidArguments(OrderRejected):
    """``EGeneral:Invalid arguments[:field]``: fix the named field (often too many decimals)."""


class UnknownOrder(VenueError):
    """``EOrder:Unknown order``: no such order (or it is already closed)."""


class PermissionDenied(AuthError):
    """``EGeneral:Permission denied``: the key lacks the permission for this call."""


class UnknownPair(VenueError):
    """``EQuery:Unknown asset pair`` and friends: the pair name is not listed."""


# (prefix, class) in match order: the first prefix that starts the string wins.
_TABLE: tuple[tuple[str, type[VenueError]], ...] = (
    ("EAPI:Invalid nonce", InvalidNonce),
    ("EAPI:Invalid key", AuthError),
    ("EAPI:Invalid signature", AuthError),
    ("EAPI:Bad request", AuthError),
    ("EAPI:Rate limit exceeded", RateLimited),
    ("EAPI:Feature disabled", OrderRejected),
    ("EAuth:", AuthError),
    ("EGeneral:Temporary lockout", AuthError),
    ("EGeneral:Permission denied", PermissionDenied),
    ("EGeneral:Too many requests", RateLimited),  # public endpoints, per IP
    ("EGeneral:Invalid arguments", InvalidArguments),
    ("EGeneral:Internal error", VenueUnavailable),
    ("EGeneral:Unknown method", VenueError),
    ("EOrder:Rate limit exceeded", RateLimited),
    ("EOrder:Domain rate limit exceeded", RateLimited),
    ("EOrder:Insufficient funds", InsufficientFunds),
    ("EOrder:Insufficient margin", InsufficientFunds),
    ("EOrder:Order minimum not met", OrderMinimumNotMet),
    ("EOrder:Cost minimum not met", OrderMinimumNotMet),
    ("EOrder:Unknown order", UnknownOrder),
    ("EOrder:", OrderRejected),
    ("EService:Unavailable", VenueUnavailable),
    ("EService:Busy", VenueUnavailable),
    ("EService:Deadline elapsed", VenueUnavailable),
    ("EService:Market in cancel_only mode", OrderRejected),
    ("EService:Market in post_only mode", OrderRejected),
    ("EService:Market in limit_only mode", OrderRejected),
    ("EService: Throttled", RateLimited),
    ("EService:Throttled", RateLimited),
    ("EService:", VenueUnavailable),
    ("EDatabase:", VenueUnavailable),
    ("EQuery:Unknown asset pair", UnknownPair),
    ("EQuery:Invalid asset pair", UnknownPair),
    ("EQuery:Unknown asset", UnknownPair),
    ("ESession:", AuthError),
)

# Seconds to wait after a rate-limit error when Kraken does not say: one counter point
# decays in 3 s on the slowest (Starter) tier.
DEFAULT_RETRY_AFTER = 3.0
_THROTTLED_TS = re.compile(r"Throttled:\s*(\d+(?:\.\d+)?)")


def error_for(endpoint: str, message: str, *, now: float | None = None) -> VenueError:
    """Return the exception for one Kraken error string returned by ``endpoint``.

    >>> type(error_for("AddOrder", "EOrder:Insufficient funds")).__name__
    'InsufficientFunds'
    """
    cls: type[VenueError] = VenueError
    for prefix, c in _TABLE:
        if message.startswith(prefix):
            cls = c
            break
    text = f"Kraken {endpoint}: {message}"
    if cls is RateLimited:
        retry_after = DEFAULT_RETRY_AFTER
        m = _THROTTLED_TS.search(message)
        if m:
            retry_after = max(0.0, float(m.group(1)) - (time.time() if now is None else now))
        return RateLimited(text, retry_after=retry_after)
    if cls is InvalidNonce:
        text += (" (the nonce was not larger than the last one Kraken saw for this key:"
                 " another client may share the key, or the clock went back)")
    return cls(text)


def raise_for_errors(endpoint: str, errors: list[str]) -> None:
    """Raise for the first ``E`` entry of Kraken's ``error`` array; log ``W`` warnings."""
    for e in errors:
        if e.startswith("W"):
            log.warning("Kraken %s warning: %s", endpoint, e)
    for e in errors:
        if not e.startswith("W"):
            raise error_for(endpoint, e)
