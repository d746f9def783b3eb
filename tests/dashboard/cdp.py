"""A small Chrome DevTools Protocol client over ``websockets``: launch headless Chromium, drive one page."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import websockets


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


class Browser:
    """Headless Chromium with ``--remote-debugging-port=0``; one page target, its events kept in ``events``."""

    def __init__(self, profile: Path):
        self.profile = profile
        self.proc: subprocess.Popen | None = None
        self.ws = None
        self.session: str | None = None
        self.events: list[dict] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    async def start(self, width: int = 1400, height: int = 1800) -> Browser:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
                 "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                 f"--user-data-dir={self.profile}", "--hide-scrollbars", f"--window-size={width},{height}",
                 "about:blank"]
        self.proc = subprocess.Popen([chromium(), *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "HOME": str(self.profile)})
        port_file = self.profile / "DevToolsActivePort"
        t0 = time.monotonic()
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if time.monotonic() - t0 > 60 or self.proc.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            await asyncio.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        self.ws = await websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        target = await self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        att = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                              session=False)
        self.session = att["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            await self.send(f"{domain}.enable")
        await self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                                "deviceScaleFactor": 1, "mobile": False})
        return self

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self._waiting:
                self._waiting.pop(msg["id"]).set_result(msg)
            elif "method" in msg:
                self.events.append(msg)

    async def send(self, method: str, params: dict | None = None, *, session: bool = True, timeout: float = 30):
        i = next(self._ids)
        msg = {"id": i, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        fut = asyncio.get_running_loop().create_future()
        self._waiting[i] = fut
        await self.ws.send(json.dumps(msg))
        res = await asyncio.wait_for(fut, timeout)
        if "error" in res:
            raise RuntimeError(f"{method}: {res['error']}")
        return res["result"]

    async def eval(self, expr: str):
        r = await self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def wait_for(self, expr: str, timeout: float = 30, interval: float = 0.1):
        t0 = time.monotonic()
        while True:
            v = await self.eval(expr)
            if v:
                return v
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"waited {timeout}s for {expr}")
            await asyncio.sleep(interval)

    def named(self, *methods: str) -> list[dict]:
        return [e for e in self.events if e["method"] in methods]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
