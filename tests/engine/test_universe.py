"""Universe: Kraken name mapping, bundled AssetPairs metadata, fees, order rounding."""

from __future__ import annotations

import gzip
import json
from decimal import ROUND_DOWN, Decimal

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.config import Config, UniverseConfig, load_config
from tradejet.engine.universe import (BASE_MAKER_SCHEDULE, BASE_TAKER_SCHEDULE, Universe, base_fee,
                                      bundled_asset_pairs, canonical_symbol, parse_asset_pairs)
from tradejet.errors import ConfigError, DataError
from tradejet.kernels import pairs as kp
from tradejet.kernels.codes import Reject

# shared/KRAKEN_API.md §10: canonical, REST key, altname, v1 wsname, base id, base altname, quote id
TABLE = [
    ("BTC/USD", "XXBTZUSD", "XBTUSD", "XBT/USD", "XXBT", "XBT", "ZUSD"),
    ("ETH/USD", "XETHZUSD", "ETHUSD", "ETH/USD", "XETH", "ETH", "ZUSD"),
    ("SOL/USD", "SOLUSD", "SOLUSD", "SOL/USD", "SOL", "SOL", "ZUSD"),
    ("XRP/USD", "XXRPZUSD", "XRPUSD", "XRP/USD", "XXRP", "XRP", "ZUSD"),
    ("ADA/USD", "ADAUSD", "ADAUSD", "ADA/USD", "ADA", "ADA", "ZUSD"),
    ("DOT/USD", "DOTUSD", "DOTUSD", "DOT/USD", "DOT", "DOT", "ZUSD"),
    ("LINK/USD", "LINKUSD", "LINKUSD", "LINK/USD", "LINK", "LINK", "ZUSD"),
    ("LTC/USD", "XLTCZUSD", "LTCUSD", "LTC/USD", "XLTC", "LTC", "ZUSD"),
    ("DOGE/USD", "XDGUSD", "XDGUSD", "XDG/USD", "XXDG", "XDG", "ZUSD"),
    ("AVAX/USD", "AVAXUSD", "AVAXUSD", "AVAX/USD", "AVAX", "AVAX", "ZUSD"),
]


@pytest.fixture(scope="module")
def universe() -> Universe:
    return Universe.default()


@pytest.fixture(scope="module")
def full_response(shared_data) -> dict:
    with gzip.open(shared_data / "kraken_api" / "AssetPairs_full_2026-01-12.json.gz", "rt") as f:
        return json.load(f)


def test_default_universe_is_the_ten_usd_pairs_in_order(universe):
    assert universe.symbols == tuple(row[0] for row in TABLE)
    assert [p.index for p in universe.pairs] == list(range(10))


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r[0])
def test_every_name_form_round_trips(universe, row):
    canon, key, alt, ws, base_id, base_alt, quote_id = row
    p = universe.pair(canon)
    assert (p.pair_key, p.altname, p.wsname, p.ws_symbol) == (key, alt, ws, canon)
    assert (p.base_asset, p.base_altname, p.quote_asset, p.quote_altname) == (base_id, base_alt, quote_id, "USD")
    for name in (canon, key, alt, ws):
        assert universe.symbol_for(name) == canon
        assert universe.index(name) == p.index
    base = canon.split("/")[0]
    assert universe.asset(base_id) == universe.asset(base_alt) == universe.asset(base) == base
    assert universe.asset("ZUSD") == universe.asset("USD") == "USD"


def test_doge_is_xdgusd_not_xxdgzusd(universe):
    assert universe.pair("DOGE/USD").pair_key == "XDGUSD"
    assert "XXDGZUSD" not in universe
    with pytest.raises(ConfigError, match="unknown symbol 'XXDGZUSD'"):
        universe.pair("XXDGZUSD")


def test_bundled_file_is_the_recorded_entries_verbatim(full_response):
    bundled = json.loads(bundled_asset_pairs())
    assert bundled["error"] == []
    assert list(bundled["result"]) == [row[1] for row in TABLE]
    for key, entry in bundled["result"].items():
        assert entry == full_response["result"][key], key
        assert list(entry) == list(full_response["result"][key]), f"{key}: field order changed"


def test_metadata_matches_the_recording(universe, full_response):
    for p in universe.pairs:
        e = full_response["result"][p.pair_key]
        assert (p.pair_decimals, p.lot_decimals, p.cost_decimals) == (e["pair_decimals"], e["lot_decimals"], e["cost_decimals"])
        assert (p.tick_size, p.ordermin, p.costmin) == (float(e["tick_size"]), float(e["ordermin"]), float(e["costmin"]))
        assert p.status == "online"
        row = universe.meta[p.index]
        assert row[kp.META_PAIR_DECIMALS] == e["pair_decimals"]
        assert row[kp.META_LOT_DECIMALS] == e["lot_decimals"]
        assert row[kp.META_TICK_SIZE] == float(e["tick_size"])
        assert row[kp.META_ORDERMIN] == float(e["ordermin"])
        assert row[kp.META_COSTMIN] == float(e["costmin"])
    # hand-read values
    btc, doge = universe.pair("BTC/USD"), universe.pair("DOGE/USD")
    assert (btc.pair_decimals, btc.tick_size, btc.ordermin, btc.costmin) == (1, 0.1, 0.00005, 0.5)
    assert (doge.pair_decimals, doge.tick_size, doge.ordermin) == (7, 1e-7, 13.0)


def test_meta_is_a_read_only_float64_table(universe):
    assert universe.meta.dtype == np.float64 and universe.meta.shape == (10, kp.N_META)
    with pytest.raises(ValueError):
        universe.meta[0, 0] = 3.0


def test_small_recorded_file_parses_unchanged(shared_data):
    src = shared_data / "kraken_api" / "AssetPairs.json"
    entries = parse_asset_pairs(src)
    assert list(entries) == ["XXBTZUSD", "XDGUSD", "XETHXXBT", "SOLUSD", "ACAEUR"]
    u = Universe.from_asset_pairs(src, ["XBT/USD", "XDGUSD", "SOL/USD", "ETH/BTC"])
    assert u.symbols == ("BTC/USD", "DOGE/USD", "SOL/USD", "ETH/BTC")
    eth_btc = u.pair("ETHXBT")
    assert (eth_btc.pair_key, eth_btc.quote_asset, eth_btc.quote_altname) == ("XETHXXBT", "XXBT", "XBT")
    assert u.asset("XXBT") == "BTC"
    # This 2026-09 recording has empty fee arrays: the base schedule applies.
    assert u.pair("BTC/USD").taker_fee == pytest.approx(0.004)
    assert u.pair("BTC/USD").ordermin == 0.00005 and u.pair("SOL/USD").ordermin == 0.06


def test_asset_altnames_agree_with_recorded_assets(shared_data):
    assets = json.loads((shared_data / "kraken_api" / "Assets.json").read_text())["result"]
    u = Universe.from_asset_pairs(shared_data / "kraken_api" / "AssetPairs.json", ["BTC/USD", "DOGE/USD", "SOL/USD"])
    for p in u.pairs:
        assert assets[p.base_asset]["altname"] == p.base_altname
        assert assets[p.quote_asset]["altname"] == p.quote_altname


def test_full_recording_parses_and_every_online_pair_resolves(shared_data, full_response):
    src = shared_data / "kraken_api" / "AssetPairs_full_2026-01-12.json.gz"
    entries = parse_asset_pairs(src)
    assert len(entries) == 1434
    online = [k for k, e in entries.items() if e.status == "online"]
    assert len(online) == 1365
    u = Universe.from_asset_pairs(src, online)
    assert len(u) == 1365
    assert len(set(u.symbols)) == 1365
    with pytest.raises(ConfigError, match="has status 'cancel_only'"):
        Universe.from_asset_pairs(src, [next(k for k, e in entries.items() if e.status == "cancel_only")])


def test_fees_default_to_base_schedule_and_follow_the_tier():
    u = Universe.default()
    assert {(p.taker_fee, p.maker_fee) for p in u.pairs} == {(0.004, 0.0025)}
    assert u.meta[0, kp.META_TAKER_FEE] == 0.004 and u.meta[0, kp.META_MAKER_FEE] == 0.0025
    u2 = Universe.from_config(UniverseConfig(fee_volume_usd=60_000))
    assert (u2.pair("ETH/USD").taker_fee, u2.pair("ETH/USD").maker_fee) == (0.0024, 0.0014)
    assert base_fee(BASE_TAKER_SCHEDULE, 9_999.99) == 0.40
    assert base_fee(BASE_TAKER_SCHEDULE, 10_000) == 0.35
    assert base_fee(BASE_MAKER_SCHEDULE, 1e12) == 0.0


def test_base_schedule_is_the_recorded_one(full_response):
    for key in (row[1] for row in TABLE):
        e = full_response["result"][key]
        assert [tuple(x) for x in e["fees"]] == [tuple(map(float, x)) for x in BASE_TAKER_SCHEDULE]
        assert [tuple(x) for x in e["fees_maker"]] == [tuple(map(float, x)) for x in BASE_MAKER_SCHEDULE]


def test_trade_volume_sets_the_account_fees():
    tv = {"error": [], "result": {"currency": "ZUSD", "volume": "212243.1210",
                                  "fees": {"XBTUSD": {"fee": "0.2200", "minfee": "0.1000", "maxfee": "0.2600"},
                                           "DOTUSD": {"fee": "0.2000"}},
                                  "fees_maker": {"XXBTZUSD": {"fee": "0.1200"}}}}
    u = Universe.from_asset_pairs(bundled_asset_pairs(), trade_volume=tv)
    assert (u.pair("BTC/USD").taker_fee, u.pair("BTC/USD").maker_fee) == (0.0022, 0.0012)
    assert (u.pair("DOT/USD").taker_fee, u.pair("DOT/USD").maker_fee) == (0.002, 0.0025)
    assert u.pair("ETH/USD").taker_fee == 0.004  # not listed: base schedule
    bare = Universe.from_asset_pairs(bundled_asset_pairs(), trade_volume=json.dumps(tv["result"]).encode())
    assert bare.pair("BTC/USD").taker_fee == 0.0022


@pytest.mark.parametrize(
    ("symbols", "match"),
    [
        (["BTC/USD", "FOO/USD"], "unknown symbol 'FOO/USD'"),
        (["BTC/USD", "XBTUSD"], "listed twice"),
        (["DOGE/USD", "XDG/USD"], "listed twice"),
        ([], "no pairs"),
    ],
)
def test_bad_symbol_lists_are_config_errors(symbols, match):
    with pytest.raises(ConfigError, match=match) as ei:
        Universe.from_asset_pairs(bundled_asset_pairs(), symbols)
    assert ei.value.key == "universe.symbols"


def test_offline_pair_is_refused(shared_data):
    with pytest.raises(ConfigError, match=r"pair ACA/EUR \(ACAEUR\) has status 'cancel_only', not 'online'"):
        Universe.from_asset_pairs(shared_data / "kraken_api" / "AssetPairs.json", ["BTC/USD", "ACA/EUR"])


def test_duplicate_mapping_in_the_data_is_a_data_error():
    body = json.loads(bundled_asset_pairs())
    clone = dict(body["result"]["XXBTZUSD"])
    body["result"]["XBTUSD2"] = clone  # a second key claiming altname XBTUSD
    with pytest.raises(DataError, match="duplicate mapping: 'XBTUSD' names both pairs XXBTZUSD and XBTUSD2"):
        Universe.from_asset_pairs(body)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{not json", "not a Kraken AssetPairs response"),
        (b'{"error": [], "result": {"XXBTZUSD": {"altname": "XBTUSD"}}}', "not a Kraken AssetPairs response"),
        (b'{"error": [], "result": {}}', "has no pairs"),
        (b'[1, 2]', "not a Kraken AssetPairs response"),
    ],
)
def test_malformed_asset_pairs_are_data_errors(payload, match):
    with pytest.raises(DataError, match=match):
        Universe.from_asset_pairs(payload)


def test_error_envelope_is_a_data_error(shared_data):
    with pytest.raises(DataError, match="EQuery:Unknown asset pair"):
        parse_asset_pairs(shared_data / "kraken_api" / "error_unknown_pair.json")


def test_bad_numbers_and_files_are_data_errors(tmp_path):
    body = json.loads(bundled_asset_pairs())
    body["result"]["XXBTZUSD"]["ordermin"] = "abc"
    with pytest.raises(DataError, match="pair XXBTZUSD: ordermin is not a number: 'abc'"):
        Universe.from_asset_pairs(body)
    with pytest.raises(DataError, match="cannot read AssetPairs"):
        parse_asset_pairs(tmp_path / "missing.json")
    bad = tmp_path / "x.json.gz"
    bad.write_bytes(b"plain")
    with pytest.raises(DataError, match="not a gzip file"):
        parse_asset_pairs(bad)
    with pytest.raises(DataError, match="wsname must be BASE/QUOTE"):
        canonical_symbol("XBTUSD")


def test_config_add_remove_and_file(tmp_path):
    cfg = UniverseConfig(remove=["DOGE/USD", "AVAX/USD"], add=["AVAX/USD"])
    assert Universe.from_config(cfg).symbols == tuple(r[0] for r in TABLE[:8])
    f = tmp_path / "pairs.json"
    f.write_bytes(bundled_asset_pairs())
    u = Universe.from_config(UniverseConfig(symbols=["ETH/USD", "BTC/USD"], asset_pairs_file=str(f)))
    assert u.symbols == ("ETH/USD", "BTC/USD") and u.index("XBTUSD") == 1
    u2 = u.with_pairs(add=["SOL/USD"], remove=["XETHZUSD"])
    assert u2.symbols == ("BTC/USD", "SOL/USD")


def test_universe_section_in_toml(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[universe]\nremove = ["DOGE/USD"]\nfee_volume_usd = 100000\n')
    cfg = load_config(f, env={})
    u = Universe.from_config(cfg.universe)
    assert "DOGE/USD" not in u.symbols and len(u) == 9
    assert u.pair("BTC/USD").taker_fee == 0.0022
    f.write_text('[universe]\nsymbols = ["BTC/USD", "BTC/USD"]\n')
    with pytest.raises(ConfigError, match="symbols lists 'BTC/USD' twice") as ei:
        load_config(f, env={})
    assert ei.value.key == "universe"
    assert Config().universe.resolved_symbols() == list(Universe.default().symbols)


# ------------------------------------------------------------------ rounding


@pytest.mark.parametrize(
    ("symbol", "side", "qty", "price", "limit", "expect"),
    [
        ("BTC/USD", 1, 0.123456789, 30000.07, True, (Reject.OK, 0.12345678, 30000.0)),
        ("BTC/USD", -1, 0.123456789, 30000.01, True, (Reject.OK, 0.12345678, 30000.1)),
        ("BTC/USD", 1, 0.1, 30000.0, True, (Reject.OK, 0.1, 30000.0)),
        ("BTC/USD", 1, 0.000049999, 30000.0, True, (Reject.BELOW_ORDERMIN, 0.00004999, 30000.0)),
        ("BTC/USD", 1, 0.00005, 9_000.0, True, (Reject.BELOW_COSTMIN, 0.00005, 9_000.0)),
        ("DOGE/USD", 1, 12.999999999, 0.12345678, True, (Reject.BELOW_ORDERMIN, 12.99999999, 0.1234567)),
        ("DOGE/USD", -1, 100.0, 0.12345671, True, (Reject.OK, 100.0, 0.1234568)),
        ("ETH/USD", 1, 0.29, 3001.234, False, (Reject.OK, 0.29, 3001.234)),
    ],
)
def test_round_order_hand_cases(universe, symbol, side, qty, price, limit, expect):
    r = universe.round_order(symbol, side, qty, price, limit=limit)
    assert (r.code, r.qty, r.price) == expect


def test_round_order_bad_input(universe):
    for kwargs, match in [(dict(side=0), "side must be 1"), (dict(qty=float("nan")), "qty must be"),
                          (dict(price=-1.0), "price must be"), (dict(symbol="FOO/USD"), "unknown symbol")]:
        args = dict(symbol="BTC/USD", side=1, qty=1.0, price=100.0) | kwargs
        with pytest.raises((DataError, ConfigError), match=match):
            universe.round_order(**args)


def test_format_strings(universe):
    assert universe.format_qty("BTC/USD", 0.123456789) == "0.12345678"
    assert universe.format_qty("DOGE/USD", 0.29) == "0.29000000"
    assert universe.format_price("DOGE/USD", 0.1234568) == "0.1234568"


@given(st.floats(1e-9, 1e9), st.integers(0, 10))
def test_round_qty_down_matches_decimal(qty, decimals):
    got = kp.round_qty_down_nb(qty, float(decimals))
    want = float(Decimal(repr(qty)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN))
    assert got <= qty
    assert got == pytest.approx(want, rel=1e-15, abs=0)


@given(st.floats(1e-6, 1e6), st.sampled_from([(0.1, 1), (0.01, 2), (1e-5, 5), (1e-7, 7), (0.5, 1), (5.0, 0)]),
       st.sampled_from([kp.ROUND_DOWN, kp.ROUND_UP, kp.ROUND_NEAREST]))
def test_round_price_lands_on_the_tick_on_the_right_side(price, tick_dec, mode):
    tick, dec = tick_dec
    got = kp.round_price_nb(price, tick, float(dec), mode)
    steps = Decimal(repr(got)) / Decimal(repr(tick))
    assert steps == steps.to_integral_value(), (got, tick)
    if mode == kp.ROUND_DOWN:
        assert got <= price and price - got < tick * (1 + 1e-9)
    elif mode == kp.ROUND_UP:
        assert got >= price and got - price < tick * (1 + 1e-9)
    else:
        assert abs(got - price) <= tick / 2 * (1 + 1e-9)
