from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.adapters.kraken.nonce import NonceSource
from tradejet.errors import ConfigError

from .conftest import check_signed, form, ok


def test_strictly_increasing_when_the_clock_stalls_or_goes_back():
    t = [10_000_000]
    src = NonceSource(None, clock_ns=lambda: t[0])
    a = src.next()
    b = src.next()
    t[0] -= 5_000_000  # clock jumps back 5 ms
    c = src.next()
    assert a < b < c


def test_persisted_across_restarts_with_a_slow_clock(tmp_path):
    f = tmp_path / "nonce"
    first = NonceSource(f, clock_ns=lambda: 2_000_000_000_000)
    n1 = [first.next() for _ in range(3)]
    restarted = NonceSource(f, clock_ns=lambda: 1_000_000_000)  # clock set far back
    n2 = restarted.next()
    assert n2 > n1[-1]
    assert int(f.read_text()) == n2


def test_two_sources_sharing_a_file_never_collide(tmp_path):
    f = tmp_path / "nonce"
    a = NonceSource(f, clock_ns=lambda: 0)
    b = NonceSource(f, clock_ns=lambda: 0)
    seen = [a.next(), b.next(), a.next(), b.next()]
    assert seen == sorted(seen) and len(set(seen)) == 4


def test_threads_get_unique_increasing_nonces(tmp_path):
    src = NonceSource(tmp_path / "n", clock_ns=lambda: 0)
    out: list[int] = []
    lock = threading.Lock()

    def work():
        for _ in range(50):
            n = src.next()
            with lock:
                out.append(n)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(set(out)) == 200 and max(out) == src.last


def test_corrupt_file_is_a_config_error(tmp_path):
    f = tmp_path / "nonce"
    f.write_text("garbage")
    with pytest.raises(ConfigError, match="not an integer"):
        NonceSource(f)


def test_concurrent_private_calls_reach_the_venue_in_nonce_order(creds, tmp_path):
    arrived: list[int] = []

    async def venue(request: httpx.Request) -> httpx.Response:
        check_signed(request)
        arrived.append(int(form(request)["nonce"]))
        await asyncio.sleep(0)  # let other tasks run while this one is "on the wire"
        return ok({"ZUSD": "1"})

    async def main():
        async with KrakenHttp(creds, transport=httpx.MockTransport(venue),
                              nonce=NonceSource(tmp_path / "n")) as k:
            k.limiter.rest.limit = 1e9  # not testing the limiter here
            await asyncio.gather(*(k.balance() for _ in range(40)))

    asyncio.run(main())
    assert len(arrived) == 40
    assert arrived == sorted(arrived) and len(set(arrived)) == 40


def test_for_key_shares_one_file_per_key_without_naming_it(tmp_path):
    a = NonceSource.for_key("my-secret-key-name", home=tmp_path, clock_ns=lambda: 0)
    b = NonceSource.for_key("my-secret-key-name", home=tmp_path, clock_ns=lambda: 0)
    c = NonceSource.for_key("another-key", home=tmp_path, clock_ns=lambda: 0)
    assert a.path == b.path != c.path and "my-secret" not in str(a.path)
    assert [a.next(), b.next(), a.next()] == [1, 2, 3] and c.next() == 1
