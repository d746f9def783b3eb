from __future__ import annotations

import json

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tradejet.cli import main
from tradejet.io.ledger import Ledger
from tradejet.messages import OrderFilled, SubmitOrder


def _ledger(path):
    with Ledger(path) as led:
        led.set_cash("USD", 1000.0, ts=0)
        led.record_order(SubmitOrder(client_order_id="c1", symbol="BTC/USD", side=1, qty=0.5, order_type=0,
                                     ts_init=1, strategy=2))
        led.record_fill(OrderFilled(client_order_id="c1", venue_order_id="O1", trade_id="T1", symbol="BTC/USD",
                                    side=1, qty=0.5, price=100.0, fee=0.2, ts_event=2, ts_init=2))
        led.mark_equity(3, 999.8, 949.8)


def test_show_json_for_scripts(tmp_path, capsys):
    _ledger(tmp_path / "l.sqlite")
    assert main(["ledger", "show", "--ledger", str(tmp_path / "l.sqlite"), "--json"]) == 0
    snap = json.loads(capsys.readouterr().out)
    assert snap["cash"] == {"USD": 949.8}
    assert snap["orders"] == 1 and snap["fills"] == 1 and snap["equity"] == 999.8
    assert snap["positions"][0]["qty"] == 0.5 and snap["positions"][0]["strategy"] == 2


def test_show_table(tmp_path, capsys):
    _ledger(tmp_path / "l.sqlite")
    assert main(["ledger", "show", "--ledger", str(tmp_path / "l.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "BTC/USD" in out and "949.80" in out


def test_export_parquet_and_csv(tmp_path):
    _ledger(tmp_path / "l.sqlite")
    assert main(["ledger", "export", "--ledger", str(tmp_path / "l.sqlite"), "--out", str(tmp_path / "p")]) == 0
    assert pq.read_table(tmp_path / "p" / "fills.parquet").column("trade_id").to_pylist() == ["T1"]
    assert pq.read_table(tmp_path / "p" / "reconciliation_events.parquet").num_rows == 0
    assert main(["ledger", "export", "--ledger", str(tmp_path / "l.sqlite"), "--out", str(tmp_path / "c"),
                 "--format", "csv"]) == 0
    assert pacsv.read_csv(tmp_path / "c" / "orders.csv").column("status").to_pylist() == ["filled"]


def test_missing_ledger_is_a_one_line_error(tmp_path, capsys):
    assert main(["ledger", "show", "--ledger", str(tmp_path / "none.sqlite")]) == 2
    assert "no such ledger" in capsys.readouterr().err
