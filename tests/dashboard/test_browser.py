"""The dashboard page in headless Chromium (driven over the DevTools Protocol) against a real paper run.

The run: ``tradejet paper --synthetic --dashboard`` at 36000x (10 bars a second), with a
8-hour order latency so that orders rest for 8 bars (the kill switch has something
to cancel). Screenshots are kept in the test's tmp folder and copied to ``runs/``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard.cdp import Browser, chromium

pytestmark = pytest.mark.skipif(chromium() is None,
                                reason="Chromium not installed (.ci/run apt-installs Debian's chromium)")

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[fills]
latency_ms = 28800000.0   # 8 hours on 1-hour bars: orders rest 8 bars before they can fill

[backtest]
synthetic_days = 60
"""


OPEN_AT_KILL: list[str] = []


def _start(cmd: list[str], tmp: Path, name: str) -> tuple[subprocess.Popen, str, Path]:
    err = tmp / f"{name}.stderr"
    env = {**os.environ, "TRADEJET_HOME": str(tmp / "home"), "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with err.open("w") as f:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "tradejet", *cmd], stdout=subprocess.DEVNULL, stderr=f,
                                env=env, cwd=ROOT)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        m = re.search(r"dashboard at (http://\S+)", err.read_text())
        if m:
            return proc, m.group(1), err
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no dashboard address printed: {err.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


async def _screenshot(b: Browser, path: Path) -> Path:
    shot = await b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))
    keep = ROOT / "runs" / "dashboard"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, keep / path.name)
    return path


async def _confirm(b: Browser, button: str) -> None:
    await b.eval(f"document.getElementById('{button}').click()")
    await b.wait_for("!document.getElementById('confirm').hidden", 5)
    await b.eval("document.getElementById('confirm-yes').click()")


def _api(b: Browser, path: str) -> str:
    return f"fetch('{path}').then(r => r.json())"


def test_the_page_watches_and_controls_a_paper_run(tmp_path):
    cfg = tmp_path / "paper.toml"
    cfg.write_text(CONFIG)
    ledger = tmp_path / "ledger.sqlite"
    proc, url, err = _start(["paper", "--synthetic", "--speed", "36000x", "--max-bars", "1400", "--config", str(cfg),
                             "--ledger", str(ledger), "--quiet", "--dashboard", "--port", "0"], tmp_path, "paper")
    base = url.split("?")[0].rstrip("/")
    assert base.startswith("http://127.0.0.1:")
    try:
        OPEN_AT_KILL[:] = asyncio.run(_drive_page(tmp_path, url, base))
    finally:
        code = _stop(proc)
    assert code == 130, err.read_text()[-2000:]  # stopped by the kill switch: the resume message, exit 130
    db = sqlite3.connect(ledger)
    assert db.execute("SELECT COUNT(*) FROM orders WHERE status IN ('pending_new','new','partially_filled')"
                      ).fetchone()[0] == 0
    audit = [json.loads(line) for line in (tmp_path / "ledger.sqlite.audit.jsonl").read_text().splitlines()]
    acts = [a for a in audit if a["event"].startswith("dashboard.")]
    assert [a["event"] for a in acts] == ["dashboard.pause", "dashboard.resume", "dashboard.kill"]
    cancelled = acts[-1]["data"]["cancelled"]
    assert cancelled, "the kill switch found no order to cancel"
    assert set(cancelled) & set(OPEN_AT_KILL)  # listed by the API just before the click
    for cid in cancelled:
        status, = db.execute("SELECT status FROM orders WHERE client_order_id = ?", (cid,)).fetchone()
        assert status == "canceled"


async def _drive_page(tmp: Path, url: str, base: str) -> None:
    b = await Browser(tmp / "profile").start()
    try:
        await b.send("Page.navigate", {"url": url})
        await b.wait_for("document.body && document.body.dataset.seq", 30)
        await b.eval("window.__sameDocument = 1")
        assert await b.eval("document.getElementById('mode').textContent") == "PAPER"

        # the equity chart has points, and they grow as bars arrive
        n0 = int(await b.wait_for("+document.getElementById('equity-chart').dataset.points > 1 && "
                                  "document.getElementById('equity-chart').dataset.points", 30))
        await b.wait_for(f"+document.getElementById('equity-chart').dataset.points > {n0}", 30)

        # a new fill appears without reloading
        keys = "Array.from(document.querySelectorAll('#fills tbody tr[data-key]')).map(r => r.dataset.key)"
        first = set(await b.eval(keys))
        await b.wait_for(f"{keys}.some(k => !{json.dumps(sorted(first))}.includes(k))", 60)
        assert await b.eval("window.__sameDocument") == 1
        await _screenshot(b, tmp / "dashboard-trading.png")

        # pause and resume change the engine's state (the API says so, and so does the header)
        await _confirm(b, "btn-pause")
        await b.wait_for(f"{_api(b, '/api/status')}.then(s => s.paused && s.trading_state === 'PAUSED')", 10)
        await b.wait_for("document.getElementById('trading-state').textContent.startsWith('PAUSED')", 10)
        assert await b.eval("document.body.dataset.lastAction") == "pause:ok"
        await _confirm(b, "btn-resume")
        await b.wait_for(f"{_api(b, '/api/status')}.then(s => !s.paused)", 10)
        await b.wait_for("!document.getElementById('trading-state').textContent.startsWith('PAUSED')", 10)

        # the kill switch cancels the open orders and stops the engine
        await b.wait_for("document.querySelectorAll('#orders tbody tr[data-key]').length > 0", 60, interval=0.02)
        # the table may be up to one push old: click the moment the API says orders are open
        open_now = await b.wait_for("fetch('/api/orders').then(r => r.json()).then(o => o.length ? (document."
                                    "getElementById('btn-kill').click(), document.getElementById('confirm-yes')"
                                    ".click(), o.map(x => x.client_order_id)) : null)", 60, interval=0.02)
        await b.wait_for("document.body.dataset.lastAction === 'kill:ok'", 10)
        status = await b.eval(_api(b, "/api/status"))
        assert status["halted"] and status["trading_state"] == "HALTED" and status["working_orders"] == 0
        assert await b.eval(_api(b, "/api/orders")) == []
        await b.wait_for("document.getElementById('trading-state').textContent.startsWith('HALTED')", 10)
        await b.wait_for("document.querySelector('#alerts [data-kind=halted]') !== null", 10)
        assert await b.eval("document.getElementById('btn-kill').disabled")
        shot = await _screenshot(b, tmp / "dashboard-halted.png")
        assert shot.stat().st_size > 20_000

        # no console errors, no exceptions, nothing fetched from anywhere but this server
        errors = [e["params"] for e in b.named("Runtime.exceptionThrown")]
        errors += [e["params"] for e in b.named("Runtime.consoleAPICalled") if e["params"]["type"] == "error"]
        errors += [e["params"] for e in b.named("Log.entryAdded") if e["params"]["entry"]["level"] == "error"]
        assert errors == []
        urls = [e["params"]["request"]["url"] for e in b.named("Network.requestWillBeSent")]
        assert urls and any(u.endswith("/api/events") for u in urls)
        outside = [u for u in urls if not (u.startswith(base + "/") or u.startswith("data:"))]
        assert outside == []
        navs = [e for e in b.named("Page.frameNavigated") if e["params"]["frame"]["url"].startswith(base)]
        assert len(navs) == 1  # the page was never reloaded
        return open_now
    finally:
        await b.close()


def test_a_token_guards_a_dashboard_bound_beyond_loopback(tmp_path, paper_engine):
    """``tradejet dashboard --ledger`` bound to 0.0.0.0: a token is generated; without it, 401; with it, the page works."""
    _eng, ledger, _audit = paper_engine
    proc, url, err = _start(["dashboard", "--ledger", str(ledger.path), "--host", "0.0.0.0", "--port", "0"],
                            tmp_path, "watch")
    try:
        m = re.match(r"http://0\.0\.0\.0:(\d+)/\?token=(\S+)", url)
        assert m, url
        port, token = m.groups()
        local = f"http://127.0.0.1:{port}"
        for path in ("/", "/api/status", "/static/app.js"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(local + path, timeout=10)
            assert e.value.code == 401
            e.value.close()
        asyncio.run(_watch_page(tmp_path, f"{local}/?token={token}", local))
    finally:
        assert _stop(proc) == 0, err.read_text()[-2000:]


async def _watch_page(tmp: Path, url: str, base: str) -> None:
    b = await Browser(tmp / "profile").start()
    try:
        await b.send("Page.navigate", {"url": url})
        await b.wait_for("document.body && document.body.dataset.seq", 30)
        assert (await b.eval("document.getElementById('mode').textContent")).startswith("WATCH")
        assert await b.eval("document.getElementById('btn-kill').disabled")
        assert int(await b.eval("document.getElementById('equity-chart').dataset.points")) > 1
        assert await b.eval("document.getElementById('conn').textContent") in ("live", "offline")
        await b.wait_for("document.getElementById('conn').textContent === 'live'", 10)
        statuses = {e["params"]["response"]["url"].split("?")[0]: e["params"]["response"]["status"]
                    for e in b.named("Network.responseReceived")}
        assert statuses[base + "/static/app.js"] == 200 and statuses[base + "/api/update"] == 200
        assert not b.named("Runtime.exceptionThrown")
    finally:
        await b.close()


def test_live_mode_looks_unmistakably_different_from_paper(tmp_path, paper_engine):
    from tradejet.dashboard import attach

    eng = paper_engine[0]

    async def look(mode: str) -> dict:
        d = await attach(eng, port=0, mode=mode, environment="test")
        b = await Browser(tmp_path / f"profile-{mode}").start(width=1200, height=700)
        try:
            await b.send("Page.navigate", {"url": d.url})
            await b.wait_for("document.body && document.body.dataset.seq", 30)
            got = await b.eval("""(() => {
                const m = getComputedStyle(document.getElementById('mode'));
                const h = getComputedStyle(document.getElementById('header'));
                return {text: document.getElementById('mode').textContent, badge: m.backgroundColor,
                        border: h.borderBottomColor, header: h.backgroundColor, title: document.title};
            })()""")
            await _screenshot(b, tmp_path / f"dashboard-{mode}-header.png")
            assert not b.named("Runtime.exceptionThrown")
            return got
        finally:
            await b.close()
            await d.close()

    async def main():
        return await look("paper"), await look("live")

    paper, live = asyncio.run(main())
    assert paper["text"] == "PAPER" and live["text"] == "LIVE" and live["title"].startswith("tradejet LIVE")
    assert paper["badge"] == "rgb(31, 95, 168)" and live["badge"] == "rgb(196, 0, 29)"
    assert paper["border"] != live["border"] and paper["header"] != live["header"]
