from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from tradejet.adapters.kraken.auth import Credentials, sign

DOC_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
DOC_KEY = "TESTKEY-not-a-real-kraken-key-0123456789abcdefghijklmnop"


class FakeClock:
    """Monotonic fake time; ``sleep`` advances it instead of waiting."""

    def __init__(self, t: float = 1000.0):
        self.t = t
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s
        await asyncio.sleep(0)


@pytest.fixture
def kdata(shared_data) -> Path:
    d = shared_data / "kraken_api"
    if not d.is_dir():
        pytest.skip(f"{d} not found")
    return d


@pytest.fixture
def recorded(kdata):
    def load(name: str) -> bytes:
        return (kdata / name).read_bytes()
    return load


@pytest.fixture
def creds() -> Credentials:
    return Credentials(DOC_KEY, DOC_SECRET)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def ok(result) -> httpx.Response:
    return httpx.Response(200, json={"error": [], "result": result})


def err(*errors: str) -> httpx.Response:
    return httpx.Response(200, json={"error": list(errors)})


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def check_signed(request: httpx.Request, secret: str = DOC_SECRET, key: str = DOC_KEY) -> None:
    """Verify a private request exactly as Kraken does."""
    body = request.content.decode()
    assert request.headers["API-Key"] == key
    nonce = json.loads(body)["nonce"] if body.startswith("{") else form(request)["nonce"]
    assert request.headers["API-Sign"] == sign(request.url.path, body, secret, str(nonce))
    assert request.headers.get("User-Agent")
