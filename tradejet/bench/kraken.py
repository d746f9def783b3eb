"""Kraken adapter: response decoding (msgspec structs vs json.loads) and a signed REST round trip against the sandbox."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per case (median reported)")
    p.add_argument("--calls", type=int, default=200, help="sandbox round trips per repeat")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import gzip
    import json
    import statistics
    import time
    import urllib.parse

    import httpx

    from tradejet.adapters.kraken.http import KrakenHttp
    from tradejet.adapters.kraken.sandbox import Sandbox
    from tradejet.adapters.kraken.sandbox.pairs import PAIRS
    from tradejet.adapters.kraken.schemas import AssetPair, OHLCRow, decode_envelope, decode_keyed_rows, decode_result
    from tradejet.testing import shared_data_dir

    src = shared_data_dir() / "kraken_api" / "AssetPairs_full_2026-01-12.json.gz"
    if src.is_file():
        pairs_body, pairs_src = gzip.decompress(src.read_bytes()), "recorded AssetPairs (1,434 pairs)"
    else:
        rec = PAIRS["XXBTZUSD"]
        pairs_body = json.dumps({"error": [], "result": {f"P{i}": rec for i in range(1434)}}).encode()
        pairs_src = "synthetic AssetPairs (1,434 copies of XXBTZUSD)"
    ohlc_body = json.dumps({"error": [], "result": {"XXBTZUSD": [
        [1_700_000_000 + 60 * i, "1.1", "1.2", "1.0", "1.15", "1.1", "3.5", 7] for i in range(721)],
        "last": 1_700_000_000 + 60 * 719}}).encode()

    def ours_pairs():
        env = decode_envelope("AssetPairs", pairs_body)
        return {k: v.ordermin for k, v in decode_result("AssetPairs", env.result, dict[str, AssetPair]).items()}

    def ref_pairs():
        return {k: v["ordermin"] for k, v in json.loads(pairs_body)["result"].items()}

    def ours_ohlc():
        env = decode_envelope("OHLC", ohlc_body)
        return [r.close for r in decode_keyed_rows("OHLC", env.result, OHLCRow)[1]]

    def ref_ohlc():
        res = json.loads(ohlc_body)["result"]
        return [r[4] for k, v in res.items() if k != "last" for r in v]

    def timed(fn, n=1):
        out = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            for _ in range(n):
                fn()
            out.append((time.perf_counter() - t) / n)
        return statistics.median(out)

    rows = []
    for name, ours, ref, n in (("decode " + pairs_src, ours_pairs, ref_pairs, 3),
                               ("decode OHLC 721 rows", ours_ohlc, ref_ohlc, 50)):
        if ours() != ref():
            print(f"parity failed for {name}: not timing it")
            return 1
        ours(), ref()
        a, b = timed(ours, n), timed(ref, n)
        rows.append({"case": name, "ours_ms": a * 1e3, "reference": "json.loads + dict access",
                     "reference_ms": b * 1e3, "ratio": a / b})

    async def round_trips():
        async with Sandbox(seed=0) as sb:
            creds = sb.credentials
            sb.exchange.accounts[creds.api_key].rest.limit = 1e12
            async with KrakenHttp(creds, base_url=sb.base_url) as k, httpx.AsyncClient(base_url=sb.base_url) as raw:
                k.limiter.rest.limit = 1e12
                nonce = [int(time.time() * 1e6)]

                async def raw_balance():
                    nonce[0] = max(nonce[0] + 1, k.nonce.next())
                    body = urllib.parse.urlencode({"nonce": nonce[0]})
                    r = await raw.post("/0/private/Balance", content=body, headers={
                        "API-Key": creds.api_key, "API-Sign": creds.sign("/0/private/Balance", body),
                        "Content-Type": "application/x-www-form-urlencoded"})
                    return r.json()["result"]

                if {a: v for a, v in (await k.balance()).items()} != await raw_balance():
                    return None
                res = []
                for fn in (k.balance, raw_balance):
                    times = []
                    for _ in range(args.repeats):
                        t = time.perf_counter()
                        for _ in range(args.calls):
                            await fn()
                        times.append((time.perf_counter() - t) / args.calls)
                    res.append(statistics.median(times))
                return res

    rt = asyncio.run(round_trips())
    if rt is None:
        print("parity failed for the sandbox round trip")
        return 1
    rows.append({"case": "signed Balance round trip (sandbox, 127.0.0.1)", "ours_ms": rt[0] * 1e3,
                 "reference": "raw httpx + same signing", "reference_ms": rt[1] * 1e3, "ratio": rt[0] / rt[1]})
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'case':52} {'ours ms':>9} {'ref ms':>9} {'ratio':>6}  reference")
        for r in rows:
            print(f"{r['case']:52} {r['ours_ms']:9.3f} {r['reference_ms']:9.3f} {r['ratio']:6.2f}  {r['reference']}")
    return 0
