from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from tradejet.adapters.kraken import errors as kerr
from tradejet.adapters.kraken.errors import error_for, raise_for_errors
from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.errors import (
    AuthError,
    InvalidNonce,
    OrderRejected,
    RateLimited,
    ResponseError,
    VenueError,
    VenueUnavailable,
)

from .conftest import err, ok

CASES = [
    ("EAPI:Invalid key", AuthError),
    ("EAPI:Invalid signature", AuthError),
    ("EAPI:Invalid nonce", InvalidNonce),
    ("EAPI:Rate limit exceeded", RateLimited),
    ("EOrder:Rate limit exceeded", RateLimited),
    ("EOrder:Insufficient funds", kerr.InsufficientFunds),
    ("EOrder:Order minimum not met", kerr.OrderMinimumNotMet),
    ("EOrder:Cost minimum not met", kerr.OrderMinimumNotMet),
    ("EGeneral:Invalid arguments", kerr.InvalidArguments),
    ("EGeneral:Invalid arguments:volume", kerr.InvalidArguments),
    ("EGeneral:Permission denied", kerr.PermissionDenied),
    ("EGeneral:Temporary lockout", AuthError),
    ("EGeneral:Internal error", VenueUnavailable),
    ("EService:Unavailable", VenueUnavailable),
    ("EService:Busy", VenueUnavailable),
    ("EService:Deadline elapsed", VenueUnavailable),
    ("EService:Market in cancel_only mode", OrderRejected),
    ("EService: Throttled: 1700000010", RateLimited),
    ("EOrder:Unknown order", kerr.UnknownOrder),
    ("EOrder:Tick size check failed", OrderRejected),
    ("EOrder:Orders limit exceeded", OrderRejected),
    ("EQuery:Unknown asset pair", kerr.UnknownPair),
    ("ESession:Invalid session", AuthError),
    ("EDatabase:Internal error", VenueUnavailable),
    ("EFunding:Unknown", VenueError),
]


@pytest.mark.parametrize(("message", "cls"), CASES)
def test_every_mapped_error(message, cls):
    e = error_for("AddOrder", message, now=1700000000)
    assert type(e) is cls
    assert "AddOrder" in str(e) and message in str(e)


def test_subclasses_stay_catchable_as_the_generic_class():
    assert issubclass(kerr.InsufficientFunds, OrderRejected)
    assert issubclass(kerr.OrderMinimumNotMet, OrderRejected)
    assert issubclass(kerr.InvalidArguments, OrderRejected)
    assert issubclass(kerr.PermissionDenied, AuthError)


def test_throttled_carries_retry_after():
    e = error_for("Balance", "EService: Throttled: 1700000010", now=1700000000)
    assert e.retry_after == pytest.approx(10)
    assert error_for("Balance", "EAPI:Rate limit exceeded").retry_after > 0


def test_warnings_are_logged_not_raised(caplog):
    caplog.set_level(logging.WARNING)
    raise_for_errors("AddOrder", ["WGeneral:Something"])
    assert [r.levelno for r in caplog.records if r.name.startswith("tradejet")] == [logging.WARNING]
    with pytest.raises(kerr.InsufficientFunds):
        raise_for_errors("AddOrder", ["WGeneral:Something", "EOrder:Insufficient funds"])


def test_recorded_unknown_pair_error(recorded):
    body = recorded("error_unknown_pair.json")

    async def main():
        async with KrakenHttp(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body))) as k:
            await k.ticker("NOPEUSD")

    with pytest.raises(kerr.UnknownPair, match="Ticker: EQuery:Unknown asset pair"):
        asyncio.run(main())


@pytest.mark.parametrize(("message", "cls"), [c for c in CASES if c[1] not in (VenueUnavailable, RateLimited,
                                                                              InvalidNonce)])
def test_client_raises_mapped_errors_without_retry(message, cls, creds, clock):
    n = []

    def venue(request):
        n.append(1)
        return err(message)

    async def main():
        async with KrakenHttp(creds, transport=httpx.MockTransport(venue), sleep=clock.sleep, clock=clock) as k:
            await k.balance()

    with pytest.raises(cls):
        asyncio.run(main())
    assert len(n) == 1


def test_transient_errors_are_retried_with_backoff_then_raised(creds, clock):
    seq = [httpx.Response(503), err("EService:Busy"), err("EAPI:Rate limit exceeded"), err("EAPI:Invalid nonce"),
           ok({"ZUSD": "5"})]

    def venue(request):
        return seq.pop(0)

    async def main():
        async with KrakenHttp(creds, transport=httpx.MockTransport(venue), sleep=clock.sleep, clock=clock,
                              retries=4) as k:
            return await k.balance()

    assert asyncio.run(main()) == {"ZUSD": "5"}
    assert clock.sleeps[:2] == [0.5, 1.0]  # backoff doubles
    assert len(clock.sleeps) >= 3


def test_timeouts_become_venue_unavailable(creds, clock):
    def venue(request):
        raise httpx.ReadTimeout("slow", request=request)

    async def main():
        async with KrakenHttp(creds, transport=httpx.MockTransport(venue), sleep=clock.sleep, clock=clock,
                              retries=2) as k:
            await k.balance()

    with pytest.raises(VenueUnavailable, match="timed out"):
        asyncio.run(main())
    assert clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"", b'{"result": {}}', b"[1,2]",
                                  b'{"error": "not a list"}'])
def test_broken_envelopes_are_response_errors(body):
    async def main():
        async with KrakenHttp(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body))) as k:
            await k.time()

    with pytest.raises(ResponseError, match="Kraken Time"):
        asyncio.run(main())


def test_rate_limits_get_more_patience_than_other_faults(creds, clock):
    """EAPI:Rate limit exceeded six times in a row (a counter slow to decay) still ends in the answer:
    the call was refused before processing, so waiting and resending is safe (3 s each, Kraken's hint)."""
    seq = [err("EAPI:Rate limit exceeded")] * 6 + [ok({"ZUSD": "5"})]

    def venue(request):
        return seq.pop(0)

    async def main():
        async with KrakenHttp(creds, transport=httpx.MockTransport(venue), sleep=clock.sleep, clock=clock,
                              retries=3, max_backoff=4.0) as k:
            return await k.balance()

    assert asyncio.run(main()) == {"ZUSD": "5"}
    assert [s for s in clock.sleeps if s >= 0.5] == [3.0] * 6


def test_rate_limit_patience_ends(creds, clock):
    def venue(request):
        return err("EAPI:Rate limit exceeded")

    async def main():
        async with KrakenHttp(creds, transport=httpx.MockTransport(venue), sleep=clock.sleep, clock=clock,
                              rate_limit_retries=2, retries=1) as k:
            await k.balance()

    with pytest.raises(RateLimited):
        asyncio.run(main())
