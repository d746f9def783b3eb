"""Alpaca HTTP answers mapped onto the :mod:`tradejet.errors` tree.

==========  =====================================================  =========================
status      meaning at Alpaca                                      raised
==========  =====================================================  =========================
401         key missing or wrong                                   AuthError (stop)
403         on ``POST /v2/orders``: refused (insufficient buying   OrderRejected (record it)
            power, account not permitted); elsewhere: forbidden    AuthError (stop)
404         no such order / resource                               NotFound
422         invalid parameters, or an order not cancelable         OrderRejected
429         rate limit (200 requests a minute)                     RateLimited (back off)
5xx         Alpaca's side failed                                   VenueUnavailable (retry
                                                                   when safe)
==========  =====================================================  =========================
"""

from __future__ import annotations

import msgspec

from tradejet.errors import AuthError, OrderRejected, RateLimited, ResponseError, VenueError, VenueUnavailable

__all__ = ["NotFound", "raise_for_status"]


class NotFound(VenueError):
    """Alpaca answered 404: the order (or resource) does not exist."""


class _Body(msgspec.Struct):
    code: int | None = None
    message: str = ""


_dec = msgspec.json.Decoder(_Body)


def _message(body: bytes) -> tuple[int | None, str]:
    try:
        b = _dec.decode(body)
        return b.code, b.message
    except (msgspec.DecodeError, msgspec.ValidationError):
        text = body[:200].decode("utf-8", "replace").strip()
        return None, text


def raise_for_status(endpoint: str, status: int, body: bytes, headers) -> None:
    """Raise the error for an HTTP ``status`` >= 400 (the message names the endpoint, never a key)."""
    if status < 400:
        return
    code, msg = _message(body)
    what = f"Alpaca {endpoint}: HTTP {status}" + (f" {msg!r}" if msg else "") + (f" (code {code})" if code else "")
    if status >= 500:
        raise VenueUnavailable(what)
    if status == 429:
        retry = None
        for h in ("Retry-After", "X-Ratelimit-Reset-After"):
            v = headers.get(h)
            if v:
                try:
                    retry = max(0.0, float(v))
                except ValueError:
                    pass
                break
        raise RateLimited(what, retry_after=retry)
    if status == 401:
        raise AuthError(what)
    if status == 403:
        if endpoint.startswith("POST /v2/orders"):
            raise OrderRejected(what)
        raise AuthError(what)
    if status == 404:
        raise NotFound(what)
    if status == 422:
        raise OrderRejected(what)
    if status in (400, 405, 409):
        raise OrderRejected(what) if endpoint.startswith("POST /v2/orders") else ResponseError(what)
    raise VenueError(what)
