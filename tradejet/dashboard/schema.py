"""The dashboard's JSON API: one msgspec struct per answer, the route table, and the OpenAPI file made from both.

Every answer the server sends is one of these structs encoded by msgspec, and
:func:`openapi` builds the OpenAPI 3.1 document from :data:`ROUTES` and
``msgspec.json.schema_components`` of the same structs, so the document cannot drift
from what is served. Times are int64 Unix nanoseconds UTC; sides are ``"buy"`` /
``"sell"``; money is in the run's quote currency.

>>> doc = openapi()
>>> doc["openapi"], "/api/status" in doc["paths"]
('3.1.0', True)
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "Status", "PositionView", "OpenOrder", "FillView", "EquityPoint", "TimelineSegment", "EquityCurve", "PnlRow",
    "PnlReport", "Latency", "ReconFinding", "AuditEvent", "Alert", "Update", "ActionRequest", "ActionResult",
    "ErrorBody", "Route", "ROUTES", "ACTIONS", "openapi",
]

Mode = Literal["paper", "live", "watch"]


class Status(msgspec.Struct, kw_only=True):
    """The header: what runs, in which state."""

    mode: Mode
    """``paper`` or ``live`` (an engine in this process), ``watch`` (a ledger read by ``tradejet dashboard``)."""
    ledger_mode: str | None
    """For ``watch``: the mode the ledger was written by (``paper``/``live``), if it says."""
    environment: str
    trading_state: str
    """TRADING / DRAINING / DOWNTIME / RESUMING (the schedule), PAUSED, HALTED, FINISHED or UNKNOWN."""
    schedule_state: str | None
    paused: bool
    halted: bool
    finished: bool
    read_only: bool
    regime: str | None
    active_strategies: list[str]
    uptime_s: float
    run_id: str | None
    bars_done: int
    last_bar_ts: int | None
    equity: float | None
    initial_cash: float | None
    breaker_tripped: bool
    working_orders: int
    paused_entries: int
    """Entry orders the engine dropped because the operator paused entries."""


class PositionView(msgspec.Struct, kw_only=True):
    strategy: str
    symbol: str
    qty: float
    avg_price: float
    mark: float | None
    unrealized_pnl: float | None
    realized_pnl: float


class OpenOrder(msgspec.Struct, kw_only=True):
    client_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    order_type: str
    qty: float
    filled_qty: float
    price: float | None
    strategy: str
    status: str
    ts_created: int | None


class FillView(msgspec.Struct, kw_only=True):
    trade_id: str
    client_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    qty: float
    price: float
    fee: float
    strategy: str
    ts_event: int


class EquityPoint(msgspec.Struct, array_like=True):
    """``[ts, equity, drawdown, regime]``: drawdown <= 0 from the running peak; regime may be null."""

    ts: int
    equity: float
    drawdown: float
    regime: str | None


class TimelineSegment(msgspec.Struct, kw_only=True):
    """A stretch of bars with one regime and one set of active strategies."""

    start_ts: int
    end_ts: int
    regime: str | None
    active: list[str]


class EquityCurve(msgspec.Struct, kw_only=True):
    """The equity curve, thinned to at most ``max_points`` (every ``stride``-th bar, plus the newest)."""

    points: list[EquityPoint]
    stride: int
    total_bars: int
    peak: float | None
    max_drawdown: float
    timeline: list[TimelineSegment]


class PnlRow(msgspec.Struct, kw_only=True):
    key: str
    realized: float
    unrealized: float | None
    fees: float
    total: float


class PnlReport(msgspec.Struct, kw_only=True):
    by_strategy: list[PnlRow]
    by_pair: list[PnlRow]


class Latency(msgspec.Struct, kw_only=True):
    """Bar arrival to orders handed to the venue, microseconds (engine modes only)."""

    n: int
    p50_us: float | None = None
    p99_us: float | None = None
    p999_us: float | None = None
    max_us: float | None = None


class ReconFinding(msgspec.Struct, kw_only=True):
    ts: int
    kind: str
    symbol: str | None
    detail: str


class AuditEvent(msgspec.Struct, kw_only=True):
    seq: int
    ts: int
    event: str
    data: dict[str, Any]


class Alert(msgspec.Struct, kw_only=True):
    kind: Literal["unreconciled", "breaker", "model_refused", "halted", "paused", "data", "connection"]
    severity: Literal["info", "warning", "critical"]
    message: str
    symbol: str | None = None


class Update(msgspec.Struct, kw_only=True):
    """One server-sent event (``event: update``): everything the page shows."""

    seq: int
    status: Status
    positions: list[PositionView]
    orders: list[OpenOrder]
    fills: list[FillView]
    equity: EquityCurve
    pnl: PnlReport
    latency: Latency
    alerts: list[Alert]


class ActionRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of an action: ``confirm`` must repeat the action's name (``"pause"``, ``"resume"``, ``"kill"``)."""

    confirm: str
    reason: str = ""


class ActionResult(msgspec.Struct, kw_only=True):
    action: str
    ok: bool
    message: str
    paused: bool
    halted: bool
    cancelled: list[str] = []


class ErrorBody(msgspec.Struct, kw_only=True):
    error: str


class Route(msgspec.Struct, frozen=True, kw_only=True):
    method: Literal["GET", "POST"]
    path: str
    summary: str
    response: Any
    """A msgspec-encodable type, or ``"text/event-stream"`` / ``"text/html"``."""
    request: Any = None
    query: tuple[tuple[str, str], ...] = ()
    """``(name, description)`` of integer query parameters."""
    errors: tuple[int, ...] = ()


ACTIONS = ("pause", "resume", "kill")

ROUTES: tuple[Route, ...] = (
    Route(method="GET", path="/api/status", summary="Mode, environment, trading state, regime, strategies, uptime",
          response=Status),
    Route(method="GET", path="/api/positions", summary="Open positions per strategy and symbol",
          response=list[PositionView]),
    Route(method="GET", path="/api/orders", summary="Open (working) orders", response=list[OpenOrder]),
    Route(method="GET", path="/api/fills", summary="Recent fills, newest first", response=list[FillView],
          query=(("limit", "how many (1..1000, default 50)"),), errors=(400,)),
    Route(method="GET", path="/api/equity", summary="Equity curve, drawdown, regime and strategy timeline",
          response=EquityCurve),
    Route(method="GET", path="/api/pnl", summary="P&L by strategy and by pair", response=PnlReport),
    Route(method="GET", path="/api/latency", summary="Tick-to-order latency percentiles", response=Latency),
    Route(method="GET", path="/api/reconciliation", summary="Reconciliation findings (ledger)",
          response=list[ReconFinding]),
    Route(method="GET", path="/api/audit", summary="Audit log events, newest first", response=list[AuditEvent],
          query=(("limit", "how many (1..1000, default 100)"),), errors=(400,)),
    Route(method="GET", path="/api/alerts", summary="Alerts: unreconciled symbols, breaker, refused models",
          response=list[Alert]),
    Route(method="GET", path="/api/update", summary="Everything at once (what each server-sent event carries)",
          response=Update),
    Route(method="GET", path="/api/events", summary="Server-sent events: `update` (an Update) on every change",
          response="text/event-stream"),
    Route(method="POST", path="/api/actions/pause", summary="Pause new entries (exits still go)",
          response=ActionResult, request=ActionRequest, errors=(400, 409, 415)),
    Route(method="POST", path="/api/actions/resume", summary="Resume new entries", response=ActionResult,
          request=ActionRequest, errors=(400, 409, 415)),
    Route(method="POST", path="/api/actions/kill", summary="Kill switch: cancel every open order and stop",
          response=ActionResult, request=ActionRequest, errors=(400, 409, 415)),
    Route(method="GET", path="/api/openapi.json", summary="This document", response=dict[str, Any]),
    Route(method="GET", path="/", summary="The dashboard page", response="text/html"),
)

_ERRORS = {400: "bad request (names what is wrong)", 401: "missing or wrong token",
           403: "foreign Host or Origin", 409: "not possible in this state (read-only, halted)",
           415: "body must be application/json"}


def openapi(title: str = "tradejet dashboard", version: str = "1") -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of :data:`ROUTES`, schemas generated from the structs."""
    types = []
    for r in ROUTES:
        if not isinstance(r.response, str):
            types.append(r.response)
        if r.request is not None:
            types.append(r.request)
    types.append(ErrorBody)
    schemas, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    by_type = {}
    k = 0
    for r in ROUTES:
        if not isinstance(r.response, str):
            by_type[("res", r.path)] = schemas[k]
            k += 1
        if r.request is not None:
            by_type[("req", r.path)] = schemas[k]
            k += 1
    err_schema = schemas[k]
    paths: dict[str, Any] = {}
    for r in ROUTES:
        if isinstance(r.response, str):
            content = {r.response: {"schema": {"type": "string"}}}
        else:
            content = {"application/json": {"schema": by_type[("res", r.path)]}}
        responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
        for code in (*r.errors, 401, 403):
            responses[str(code)] = {"description": _ERRORS[code],
                                    "content": {"application/json": {"schema": err_schema}}}
        op: dict[str, Any] = {"summary": r.summary, "operationId": _op_id(r), "responses": responses}
        if r.query:
            op["parameters"] = [{"name": n, "in": "query", "required": False, "description": d,
                                 "schema": {"type": "integer"}} for n, d in r.query]
        if r.request is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": by_type[("req", r.path)]}}}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Read-mostly API of a tradejet run. Bound to 127.0.0.1 by default; elsewhere every "
                                "request needs the token (Authorization: Bearer, ?token= or the tj_token cookie)."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "query": {"type": "apiKey", "in": "query", "name": "token"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "tj_token"}}},
        "security": [{}, {"bearer": []}, {"query": []}, {"cookie": []}],
    }


def _op_id(r: Route) -> str:
    name = r.path.strip("/").replace("api/", "").replace("/", "_").replace(".", "_") or "page"
    return f"{r.method.lower()}_{name}"
