"""ml_signal with a real model: batch scores (backtest) == streaming scores (event driver), same trades."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from tradejet.config import Config, StrategyShare
from tradejet.engine.simulate import MarketBars, run
from tradejet.engine.sources import load_bars
from tradejet.io.synthetic import synthetic_market
from tradejet.models.inference import OnnxModel
from tradejet.models.scoring import StreamingScorer, batch_scores
from tradejet.testing.paper import fills_array, run_paper

ML = STRATEGY = 4  # index of ml_signal in STRATEGY_TEXT


def _train_model(bars: MarketBars) -> OnnxModel:
    """A real (small) gradient-boosted model on the bars' features, exported to ONNX."""
    from tradejet.testing.models import quick_model

    return quick_model(bars)


def _ml_everywhere(threshold: float) -> Config:
    only = [StrategyShare(strategy="ml_signal", share=1.0)]
    cfg = Config()
    sel = msgspec.structs.replace(cfg.selector, risk_on=only, neutral=list(only), risk_off=list(only))
    strat = msgspec.structs.replace(cfg.strategies, ml_signal={"enter_threshold": threshold,
                                                               "exit_threshold": threshold - 0.05})
    return msgspec.convert(msgspec.to_builtins(msgspec.structs.replace(cfg, selector=sel, strategies=strat)), Config)


def _streaming(bars: MarketBars, model) -> np.ndarray:
    sc = StreamingScorer(model, len(bars.symbols))
    out = np.empty((bars.n_bars, len(bars.symbols)))
    have = bars.have
    for t in range(bars.n_bars):
        out[t] = sc.update(bars.open[t], bars.high[t], bars.low[t], bars.close[t], bars.volume[t], have[t])
    return out


@pytest.fixture(scope="module")
def synthetic():
    return MarketBars.from_synthetic(synthetic_market(days=60, timeframe="1h", seed=11))


@pytest.fixture(scope="module")
def model(synthetic):
    m = _train_model(synthetic)
    yield m
    m.close()


def test_streaming_scores_equal_batch_scores_bit_for_bit(synthetic, model):
    b = batch_scores(model, synthetic.open, synthetic.high, synthetic.low, synthetic.close, synthetic.volume)
    s = _streaming(synthetic, model)
    assert np.isfinite(b).sum() > 0.8 * b.size
    np.testing.assert_array_equal(s, b)


def test_scores_are_causal(synthetic, model):
    """Changing the bars after t leaves every score up to t unchanged."""
    t = synthetic.n_bars // 2
    b = batch_scores(model, synthetic.open, synthetic.high, synthetic.low, synthetic.close, synthetic.volume)
    c2, h2 = synthetic.close.copy(), synthetic.high.copy()
    c2[t + 1:] *= 1.3
    h2[t + 1:] *= 1.3
    b2 = batch_scores(model, synthetic.open, h2, synthetic.low, c2, synthetic.volume)
    np.testing.assert_array_equal(b[: t + 1], b2[: t + 1])
    assert not np.array_equal(b[t + 1:], b2[t + 1:])


def test_ml_signal_parity_backtest_vs_event_driver(synthetic, model):
    cfg = _ml_everywhere(0.55)
    scores = batch_scores(model, synthetic.open, synthetic.high, synthetic.low, synthetic.close, synthetic.volume)
    res = run(synthetic, cfg, scores=scores)
    eng = run_paper(synthetic, cfg, scorer=StreamingScorer(model, len(synthetic.symbols)))
    fl = fills_array(eng)
    assert (res.fills["strategy"] == ML).sum() > 20  # ml_signal really trades on the model's scores
    for k in ("qty", "price", "fee", "bar", "pair", "strategy"):
        np.testing.assert_array_equal(fl[k], res.fills[k].astype(np.float64), err_msg=k)
    np.testing.assert_array_equal(np.array(eng.log.equity), res.equity)


def test_without_scores_ml_signal_never_enters(synthetic):
    res = run(synthetic, _ml_everywhere(0.55))
    assert (res.fills["strategy"] == ML).sum() == 0


def test_real_bars_with_gaps(shared_data, model):
    """Ten Binance alt/BTC 5m files: missing bars per symbol; batch == streaming still."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        for f in sorted((shared_data / "crypto" / "binance").glob("*BTC_5m.csv")):
            (Path(d) / f.name).symlink_to(f)
        bars, _ = load_bars(Path(d))
    assert np.any(~bars.have)
    b = batch_scores(model, bars.open, bars.high, bars.low, bars.close, bars.volume)
    np.testing.assert_array_equal(_streaming(bars, model), b)


def test_scorer_refuses_a_model_of_other_features(model):
    from tradejet.errors import ModelError

    class Other:
        names = ["a", "b"]

    with pytest.raises(ModelError, match="not the schema's"):
        StreamingScorer(Other(), 3)
    with pytest.raises(ValueError, match="n_symbols"):
        StreamingScorer(model, 0)
