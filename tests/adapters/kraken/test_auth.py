from __future__ import annotations

import asyncio
import logging
import pickle

import httpx
import pytest

from tradejet.adapters.kraken.auth import Credentials, generate_credentials, nonce_of, sign
from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.errors import AuthError, ConfigError

from .conftest import DOC_KEY, DOC_SECRET, check_signed, err, ok

# Kraken's published worked example (docs.kraken.com, "Spot REST Authentication"):
# buy 1.25 XBTUSD at $37,500.
DOC_NONCE = "1616492376594"
DOC_PAYLOAD = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
DOC_PATH = "/0/private/AddOrder"
DOC_SIGNATURE = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="


def test_documented_example_signature():
    assert sign(DOC_PATH, DOC_PAYLOAD, DOC_SECRET) == DOC_SIGNATURE
    assert sign(DOC_PATH, DOC_PAYLOAD, DOC_SECRET, nonce=DOC_NONCE) == DOC_SIGNATURE
    assert Credentials(DOC_KEY, DOC_SECRET).sign(DOC_PATH, DOC_PAYLOAD) == DOC_SIGNATURE


def test_signature_depends_on_every_input():
    assert sign("/0/private/Balance", DOC_PAYLOAD, DOC_SECRET) != DOC_SIGNATURE
    assert sign(DOC_PATH, DOC_PAYLOAD.replace("1.25", "1.250"), DOC_SECRET) != DOC_SIGNATURE
    assert sign(DOC_PATH, DOC_PAYLOAD, DOC_SECRET, nonce="1616492376595") != DOC_SIGNATURE


def test_nonce_of_form_and_json():
    assert nonce_of(DOC_PAYLOAD) == DOC_NONCE
    assert nonce_of('{"nonce":"42","orders":[]}') == "42"
    with pytest.raises(AuthError, match="no nonce"):
        nonce_of("pair=XBTUSD")
    with pytest.raises(AuthError, match="no nonce"):
        nonce_of("{broken")


def test_bad_secret_is_auth_error_without_echo():
    with pytest.raises(AuthError, match="not valid base64") as e:
        sign(DOC_PATH, DOC_PAYLOAD, "not base64 !!!")
    assert "not base64 !!!" not in str(e.value)


def test_credentials_never_show_the_secret():
    c = Credentials(DOC_KEY, DOC_SECRET)
    for text in (repr(c), str(c), f"{c}", repr([c]), repr({"c": c})):
        assert DOC_SECRET not in text and DOC_KEY not in text
    with pytest.raises(TypeError):
        pickle.dumps(c)
    assert c == Credentials(DOC_KEY, DOC_SECRET) and c != generate_credentials()


def test_credentials_from_env_and_dotenv(tmp_path):
    c = Credentials.from_env({"KRAKEN_API_KEY": DOC_KEY, "KRAKEN_API_SECRET": DOC_SECRET}, dotenv=None)
    assert c.api_key == DOC_KEY
    env_file = tmp_path / ".env"
    env_file.write_text(f"# comment\nexport KRAKEN_API_KEY='{DOC_KEY}'\nKRAKEN_API_SECRET=\"{DOC_SECRET}\"\n")
    c2 = Credentials.from_env({}, dotenv=env_file)
    assert c2 == c
    with pytest.raises(ConfigError, match="KRAKEN_API_KEY") as e:
        Credentials.from_env({"KRAKEN_API_SECRET": DOC_SECRET}, dotenv=tmp_path / "missing.env")
    assert DOC_SECRET not in str(e.value)


def test_generated_credentials_sign_and_verify():
    c = generate_credentials()
    s = c.sign("/0/private/Balance", "nonce=1")
    assert s == sign("/0/private/Balance", "nonce=1", c.reveal_secret())


def test_secrets_absent_from_logs_errors_and_reprs(caplog, creds, clock):
    caplog.set_level(logging.DEBUG)
    calls = []

    def venue(request: httpx.Request) -> httpx.Response:
        check_signed(request)
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(502)
        if len(calls) == 2:
            return err("EAPI:Invalid nonce")
        if len(calls) == 3:
            return ok({"ZUSD": "1.0"})
        return err("EAPI:Invalid key")

    async def main():
        async with KrakenHttp(creds, transport=httpx.MockTransport(venue), sleep=clock.sleep, clock=clock) as k:
            assert DOC_SECRET not in repr(k) and DOC_KEY not in repr(k)
            assert await k.balance() == {"ZUSD": "1.0"}
            with pytest.raises(AuthError) as e:
                await k.balance()
            return e.value

    e = asyncio.run(main())
    assert len(calls) == 4
    text = caplog.text + str(e) + repr(e) + repr(e.__cause__) + repr(e.__context__)
    ours = [r for r in caplog.records if r.name.startswith("tradejet")]
    assert len(ours) >= 2  # the log did record the retries...
    assert DOC_SECRET not in text and DOC_KEY not in text  # ...but never the key pair
