"""The dashboard's HTTP server: a small HTTP/1.1 server on asyncio streams, in the engine's own event loop.

Why no web framework: the server has a dozen routes, one event stream and three POST
actions; the standard library's ``asyncio.start_server`` runs it in the engine's loop
(no thread, no lock around the engine's book: a request is answered between two
engine events) and keeps the dependency list as it is.

Safety rules, all enforced here for every request:

* bound to a loopback address by default; binding elsewhere needs a token, and with a
  token every request must carry it (``Authorization: Bearer``, ``?token=`` or the
  ``tj_token`` cookie the page gets on its first load), else ``401``;
* on loopback without a token, the ``Host`` header must name the loopback address (a
  foreign name is DNS rebinding: ``403``);
* actions are ``POST`` with ``Content-Type: application/json`` (an HTML form from another
  site cannot send that), a same-origin ``Origin`` when one is sent, and a body whose
  ``confirm`` field repeats the action's name; each one is written to the audit log;
* every page and asset is served from the package; the Content-Security-Policy forbids
  loading anything from elsewhere.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec

from tradejet.dashboard.schema import ACTIONS, ActionRequest, ActionResult, ErrorBody, openapi
from tradejet.errors import ConfigError, DataError

__all__ = ["Dashboard", "attach", "serve_view", "is_loopback", "new_token"]

log = logging.getLogger(__name__)

MAX_HEADER = 16 * 1024
MAX_BODY = 16 * 1024
IDLE_TIMEOUT = 60.0
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/static/app.css": ("app.css", "text/css; charset=utf-8")}
_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 411: "Length Required",
            413: "Payload Too Large", 415: "Unsupported Media Type", 431: "Request Header Fields Too Large",
            500: "Internal Server Error"}
def _enc_hook(obj: Any) -> Any:
    if hasattr(obj, "item") and hasattr(obj, "dtype"):  # a NumPy scalar from the engine's arrays
        return obj.item()
    # msgspec's enc_hook contract: NotImplementedError means "not a type I encode" (msgspec raises its TypeError)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_enc = msgspec.json.Encoder(enc_hook=_enc_hook)
_dec_action = msgspec.json.Decoder(ActionRequest)


def is_loopback(host: str) -> bool:
    """True for ``127.0.0.1``, ``::1``, ``localhost`` (what needs no token)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    cookies: dict[str, str] = field(default_factory=dict)


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        async with asyncio.timeout(IDLE_TIMEOUT):  # not wait_for: on 3.11 it can lose a cancellation
            head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial.strip():
            raise HttpError(400, "incomplete request head") from None
        return None  # the client closed the connection between requests
    except asyncio.LimitOverrunError:
        raise HttpError(431, f"request head larger than {MAX_HEADER} bytes") from None
    except TimeoutError:
        return None
    try:
        text = head.decode("latin-1")
        line, *rest = text.split("\r\n")
        method, target, version = line.split(" ")
    except ValueError:
        raise HttpError(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise HttpError(400, f"unsupported protocol {version!r}")
    headers: dict[str, str] = {}
    for h in rest:
        if not h:
            continue
        name, sep, value = h.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, f"malformed header line {h[:40]!r}")
        headers[name.lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise HttpError(411, "chunked bodies are not accepted; send Content-Length")
    body = b""
    if "content-length" in headers:
        try:
            n = int(headers["content-length"])
        except ValueError:
            raise HttpError(400, "Content-Length is not a number") from None
        if n < 0 or n > MAX_BODY:
            raise HttpError(413, f"body must be 0..{MAX_BODY} bytes, was {n}")
        async with asyncio.timeout(IDLE_TIMEOUT):
            body = await reader.readexactly(n)
    url = urlsplit(target)
    cookies = {}
    for part in headers.get("cookie", "").split(";"):
        k, sep, v = part.strip().partition("=")
        if sep:
            cookies[k] = v
    return Request(method=method, path=unquote(url.path), query=parse_qs(url.query), headers=headers, body=body,
                   cookies=cookies)


def _head(status: int, ctype: str, length: int | None, extra: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Type: {ctype}",
             "Cache-Control: no-store", "X-Content-Type-Options: nosniff", "Referrer-Policy: no-referrer",
             f"Content-Security-Policy: {CSP}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Dashboard:
    """The server around one view (:class:`~tradejet.dashboard.state.EngineView` or ``LedgerView``).

    Use :func:`attach` (an engine) or :func:`serve_view` (any view); both start listening.
    ``url`` is the address to open (with ``?token=`` when there is a token).
    """

    def __init__(self, view, *, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
                 push_interval: float = 0.5, audit=None):
        if not is_loopback(host) and not token:
            raise ConfigError(f"binding the dashboard to {host} needs a token (--token, or let it generate one)",
                              key="--host")
        if token is not None and len(token) < 16:
            raise ConfigError("the dashboard token must be at least 16 characters", key="--token")
        if not (0 <= int(port) <= 65535):
            raise ConfigError(f"port must be 0..65535, was {port}", key="--port")
        if not (push_interval > 0 and math.isfinite(push_interval)):
            raise ConfigError(f"push interval must be > 0 seconds, was {push_interval}")
        self.view = view
        self.host = host
        self.port = int(port)
        self.token = token
        self.push_interval = float(push_interval)
        self.audit = audit
        self._server: asyncio.base_events.Server | None = None
        self._bound = 0
        self._clients: set[asyncio.StreamWriter] = set()
        self._conns: set[asyncio.Task] = set()
        self._pusher: asyncio.Task | None = None
        self._seq = 0
        self._last_version: Any = None
        self._wake = asyncio.Event()
        self._routes: dict[tuple[str, str], Callable[[Request], Awaitable[tuple[int, bytes]]]] = {
            ("GET", "/api/status"): self._json(lambda r: view.status()),
            ("GET", "/api/positions"): self._json(lambda r: view.positions()),
            ("GET", "/api/orders"): self._json(lambda r: view.orders()),
            ("GET", "/api/fills"): self._json(lambda r: view.fills(_limit(r, 50))),
            ("GET", "/api/equity"): self._json(lambda r: view.equity()),
            ("GET", "/api/pnl"): self._json(lambda r: view.pnl()),
            ("GET", "/api/latency"): self._json(lambda r: view.latency()),
            ("GET", "/api/reconciliation"): self._json(lambda r: view.reconciliation()),
            ("GET", "/api/audit"): self._json(lambda r: view.audit(_limit(r, 100))),
            ("GET", "/api/alerts"): self._json(lambda r: view.alerts()),
            ("GET", "/api/update"): self._json(lambda r: view.update(self._seq)),
            ("GET", "/api/openapi.json"): self._json(lambda r: openapi()),
        }
        for a in ACTIONS:
            self._routes[("POST", f"/api/actions/{a}")] = self._action_handler(a)
        self.served = 0
        self.refused = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def bound_port(self) -> int:
        """The port it listens on (the one the OS picked for ``port=0``)."""
        return self._bound or self.port

    @property
    def url(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{h}:{self.bound_port}/" + (f"?token={self.token}" if self.token else "")

    async def start(self) -> Dashboard:
        try:
            self._server = await asyncio.start_server(self._connection, self.host, self.port, limit=MAX_HEADER)
        except OSError as e:
            raise ConfigError(f"cannot listen on {self.host}:{self.port}: {e.strerror or e}", key="--port") from None
        self._bound = self._server.sockets[0].getsockname()[1]
        self._pusher = asyncio.get_running_loop().create_task(self._push_loop(), name="dashboard-push")
        log.info("dashboard on %s", self.url.split("?")[0])
        return self

    async def close(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            await asyncio.gather(self._pusher, return_exceptions=True)
        for w in list(self._clients):
            w.close()
        if self._server is not None:
            self._server.close()
            for t in list(self._conns):
                t.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            await self._server.wait_closed()
        self.view.close()

    def notify(self) -> None:
        """Push an update now (an action happened) instead of at the next interval."""
        self._wake.set()

    # ------------------------------------------------------------------ connections
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._conns.add(task)
        try:
            while True:
                try:
                    req = await _read_request(reader)
                except HttpError as e:
                    await self._send(writer, e.status, _enc.encode(ErrorBody(error=e.message)), close=True)
                    return
                if req is None:
                    return
                keep = req.headers.get("connection", "").lower() != "close"
                if not await self._handle(req, writer, keep):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            return
        except asyncio.CancelledError:  # the server is closing: end this connection quietly
            return
        finally:
            self._conns.discard(task)
            self._clients.discard(writer)
            writer.close()

    async def _send(self, writer, status: int, body: bytes, *, ctype: str = "application/json",
                    close: bool = False, extra: dict[str, str] | None = None) -> None:
        hdr = dict(extra or {})
        if close:
            hdr["Connection"] = "close"
        writer.write(_head(status, ctype, len(body), hdr) + body)
        await writer.drain()

    def _authorized(self, req: Request) -> bool:
        if self.token is None:
            return True
        given = req.headers.get("authorization", "")
        cands = [given[7:].strip()] if given.lower().startswith("bearer ") else []
        cands += req.query.get("token", [])[:1]
        if "tj_token" in req.cookies:
            cands.append(req.cookies["tj_token"])
        return any(hmac.compare_digest(c.encode(), self.token.encode()) for c in cands)

    def _host_ok(self, req: Request) -> bool:
        host = req.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if self.token is not None or not is_loopback(self.host):
            return True  # the token protects; a remote name is expected
        return is_loopback(name.strip("[]"))

    async def _handle(self, req: Request, writer, keep: bool) -> bool:
        """Answer one request; return False when the connection ends (close, or an event stream ended)."""
        try:
            if not self._host_ok(req):
                raise HttpError(403, f"Host {req.headers.get('host', '')!r} is not this dashboard's loopback address")
            if not self._authorized(req):
                raise HttpError(401, "this dashboard needs its token (Authorization: Bearer, ?token= or cookie)")
            if req.path in STATIC:
                if req.method != "GET":
                    raise HttpError(405, f"{req.method} not allowed on {req.path}")
                name, ctype = STATIC[req.path]
                body = resources.files("tradejet.dashboard").joinpath("static", name).read_bytes()
                extra = {}
                if self.token and req.query.get("token"):
                    extra["Set-Cookie"] = f"tj_token={self.token}; HttpOnly; SameSite=Strict; Path=/"
                await self._send(writer, 200, body, ctype=ctype, close=not keep, extra=extra)
                self.served += 1
                return keep
            if req.path == "/api/events":
                if req.method != "GET":
                    raise HttpError(405, f"{req.method} not allowed on {req.path}")
                await self._event_stream(writer)
                return False
            route = self._routes.get((req.method, req.path))
            if route is None:
                if any(p == req.path for _, p in self._routes):
                    raise HttpError(405, f"{req.method} not allowed on {req.path}")
                raise HttpError(404, f"no route {req.path}")
            status, body = await route(req)
            await self._send(writer, status, body, close=not keep)
            self.served += 1
            return keep
        except HttpError as e:
            self.refused += 1
            await self._send(writer, e.status, _enc.encode(ErrorBody(error=e.message)), close=not keep)
            return keep
        except DataError as e:
            log.warning("dashboard: %s", e)
            await self._send(writer, 500, _enc.encode(ErrorBody(error=str(e))), close=True)
            return False
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as e:  # a bug answers 500 and is logged; the engine's loop goes on
            log.exception("dashboard: %s %s failed", req.method, req.path)
            await self._send(writer, 500, _enc.encode(ErrorBody(error=f"internal error: {type(e).__name__}")),
                             close=True)
            return False

    def _json(self, fn: Callable[[Request], Any]):
        async def handler(req: Request) -> tuple[int, bytes]:
            return 200, _enc.encode(fn(req))
        return handler

    # ------------------------------------------------------------------ server-sent events
    async def _event_stream(self, writer) -> None:
        writer.write(_head(200, "text/event-stream", None, {"Connection": "keep-alive"}))
        writer.write(b"retry: 2000\n\n" + self._event_bytes(self.view.update(self._seq)))
        await writer.drain()
        self._clients.add(writer)
        try:
            while not writer.is_closing():
                await asyncio.sleep(15.0)
                writer.write(b": keep-alive\n\n")
                async with asyncio.timeout(5.0):
                    await writer.drain()
        finally:
            self._clients.discard(writer)

    @staticmethod
    def _event_bytes(update) -> bytes:
        return b"event: update\nid: %d\ndata: " % update.seq + _enc.encode(update) + b"\n\n"

    async def _push_loop(self) -> None:
        """Every ``push_interval`` (or when woken by an action), send an update if anything changed."""
        while True:
            try:
                async with asyncio.timeout(self.push_interval):  # not wait_for (see _read_request)
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if not self._clients:
                continue
            try:
                version = self.view.version()
                if version == self._last_version:
                    continue
                self._last_version = version
                self._seq += 1
                data = self._event_bytes(self.view.update(self._seq))
            except DataError as e:
                log.warning("dashboard update failed: %s", e)
                continue
            except Exception:  # a bug here must not end the updates for good; it is logged every time
                log.exception("dashboard update failed")
                continue
            for w in list(self._clients):
                if w.is_closing():
                    self._clients.discard(w)
                    continue
                buffered = w.transport.get_write_buffer_size() if w.transport else 0
                if buffered > 4 * 1024 * 1024:  # a client that stopped reading: drop it, never block the engine
                    self._clients.discard(w)
                    w.close()
                    continue
                w.write(data)

    # ------------------------------------------------------------------ actions
    def _action_handler(self, action: str):
        async def handler(req: Request) -> tuple[int, bytes]:
            ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise HttpError(415, "actions take a JSON body (Content-Type: application/json)")
            origin = req.headers.get("origin")
            if origin and urlsplit(origin).netloc != req.headers.get("host", ""):
                raise HttpError(403, f"cross-origin action refused (Origin {origin})")
            try:
                body = _dec_action.decode(req.body)
            except msgspec.DecodeError as e:
                raise HttpError(400, f"bad action body: {e}") from None
            if body.confirm != action:
                raise HttpError(400, f"confirm must be {action!r} to {action}, was {body.confirm!r}")
            if self.view.read_only:
                raise HttpError(409, "read-only: this dashboard watches a ledger; actions need the running engine")
            result = await getattr(self, f"_do_{action}")(body.reason)
            self.notify()
            return 200, _enc.encode(result)
        return handler

    def _audit(self, event: str, data: dict[str, Any]) -> None:
        aud = self.audit if self.audit is not None else getattr(self.view.engine, "audit", None)
        if aud is None:
            log.warning("dashboard action %s not audited: the engine has no audit log", event)
            return
        aud.append(event, data)

    def _result(self, action: str, message: str, cancelled: list[str] | None = None) -> ActionResult:
        e = self.view.engine
        return ActionResult(action=action, ok=True, message=message, paused=e.paused, halted=e.halted,
                            cancelled=cancelled or [])

    async def _do_pause(self, reason: str) -> ActionResult:
        e = self.view.engine
        if e.halted:
            raise HttpError(409, "the engine was halted by the kill switch")
        e.pause()
        self._audit("dashboard.pause", {"reason": reason, "bar": e.bars_done})
        return self._result("pause", "new entries paused; exits still go")

    async def _do_resume(self, reason: str) -> ActionResult:
        e = self.view.engine
        if e.halted:
            raise HttpError(409, "the engine was halted by the kill switch; restart the run to trade again")
        e.resume()
        self._audit("dashboard.resume", {"reason": reason, "bar": e.bars_done})
        return self._result("resume", "new entries allowed again")

    async def _do_kill(self, reason: str) -> ActionResult:
        """Halt the engine, cancel every order it works and every order the venue reports, mark them in the ledger."""
        e = self.view.engine
        cids = e.halt()
        adapter = e.adapter
        errors = []
        if adapter is not None:
            try:
                cids += [o.client_order_id for o in await adapter.open_orders() if o.client_order_id not in cids]
            except Exception as ex:  # a venue fault must not stop the cancels below
                errors.append(f"open_orders: {ex}")
            failed = set()
            for cid in cids:
                try:
                    await adapter.cancel(cid)
                except Exception as ex:  # record it and go on cancelling the others
                    errors.append(f"cancel {cid}: {ex}")
                    failed.add(cid)
            cids = [c for c in cids if c not in failed]  # those stay open in the ledger: reconcile will see them
        led = e.ledger
        ts = e.last_ts or 0
        if led is not None:
            for cid in cids:
                row = led.order(cid)
                if row is not None and row.is_open:
                    led.set_order_status(cid, "canceled", ts=ts, detail="kill switch (dashboard)")
        self._audit("dashboard.kill", {"reason": reason, "bar": e.bars_done, "cancelled": cids, "errors": errors})
        msg = f"kill switch: {len(cids)} order(s) cancelled, engine stopping"
        if errors:
            msg += f"; {len(errors)} error(s): see the audit log"
        return self._result("kill", msg, cids)


def _limit(req: Request, default: int) -> int:
    raw = req.query.get("limit")
    if not raw:
        return default
    try:
        n = int(raw[0])
    except ValueError:
        raise HttpError(400, f"limit must be an integer, was {raw[0]!r}") from None
    if not 1 <= n <= 1000:
        raise HttpError(400, f"limit must be 1..1000, was {n}")
    return n


def new_token() -> str:
    """A fresh random token (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


async def serve_view(view, *, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
                     push_interval: float = 0.5, audit=None) -> Dashboard:
    """Start a :class:`Dashboard` over ``view`` in the running loop; return it (``await d.close()`` to stop)."""
    d = Dashboard(view, host=host, port=port, token=token, push_interval=push_interval, audit=audit)
    try:
        return await d.start()
    except BaseException:
        view.close()
        raise


async def attach(engine, *, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
                 mode: str = "paper", environment: str = "", initial_cash: float | None = None,
                 push_interval: float = 0.5) -> Dashboard:
    """Serve the dashboard of ``engine`` from the running event loop (the engine's); return the server.

    Call it inside the loop that runs :meth:`Engine.run`, before or while it runs. A
    non-loopback ``host`` without ``token`` gets a generated one (``dashboard.token``;
    print ``dashboard.url``). Actions are audited to ``engine.audit``.

    >>> import asyncio
    >>> from tradejet.config import Config
    >>> from tradejet.engine import Engine
    >>> async def main():
    ...     d = await attach(Engine(Config(), None, None, symbols=["BTC/USD"]), port=0)
    ...     up = d.url.startswith("http://127.0.0.1:")
    ...     await d.close()
    ...     return up
    >>> asyncio.run(main())
    True
    """
    from tradejet.dashboard.state import EngineView

    if token is None and not is_loopback(host):
        token = new_token()
    view = EngineView(engine, mode=mode, environment=environment, initial_cash=initial_cash)
    return await serve_view(view, host=host, port=port, token=token, push_interval=push_interval)
