"""Time-series family: the contract for TimesFM on a small local checkpoint, the random-label and future-leak canaries
(held-out accuracy at the majority-class rate), and planted-signal learnability near the Bayes limit (slow)."""

import numpy as np, pytest
from ensemble_research.data.synthetic import planted_panel, chronological_split, write_splits, bayes_accuracy
from ensemble_research.data.phase1 import load_splits
from ensemble_research.data.dataset import TimeSeriesDataset
from ensemble_research.models import ModelRegistry
from ensemble_research.models.timesfm import TimesFMModel, save_random_timesfm
from test_contract import test_contract as contract

CFG = {'device': 'cpu', 'sequence_length': 8, 'max_epochs': 6, 'patience': 2, 'batch_size': 256, 'learning_rate': 3e-3}
SMALL = {'nhits': {'hidden_size': 32}, 'tft': {'hidden_size': 8}, 'bitcn': {}, 'patchtst': {'hidden_size': 16}}


def test_timesfm_passes_the_contract_offline(splits, tmp_path, monkeypatch):
    ckpt = save_random_timesfm(tmp_path / 'weights')  # a local directory: nothing is downloaded
    monkeypatch.setattr(TimesFMModel, 'quick_config', TimesFMModel.quick_config | {'checkpoint': str(ckpt)})
    contract('timesfm', splits, tmp_path)


def _acc(name, sp, **kw):
    tr, va, te = (TimeSeriesDataset.from_splits(sp, s, 5, sequence_length=8) for s in ('train', 'val', 'test'))
    m = ModelRegistry.create(name, {**CFG, **SMALL[name], **kw}, 5, sp.features)
    m.fit(tr.X, tr.y, va.X, va.y)
    return (m.predict(te.X).predictions == te.y).mean(), te.y


def _splits(tmp_path, future_leak=False, **kw):
    panel = planted_panel(n_symbols=12, n_bars=1500, n_features=4, horizons=(5,), seed=5, **kw)
    if future_leak:  # the feature of bar t+1 carries the label of bar t: only a model that reads ahead can use it
        panel['sig_h5'] = panel.groupby('symbol')['sig_h5'].shift(1).fillna(0.0)
    return load_splits(write_splits(chronological_split(panel), tmp_path))


@pytest.mark.parametrize('name', ['nhits', 'bitcn', 'patchtst', 'tft'])
def test_random_labels_stay_at_majority_rate(name, tmp_path):
    acc, y = _acc(name, _splits(tmp_path, signal=False, priors=(0.25, 0.5, 0.25)))
    assert abs(acc - np.bincount(y + 1).max() / len(y)) < 0.025, acc


@pytest.mark.parametrize('name', ['nhits', 'bitcn', 'tft'])
def test_a_signal_from_the_future_is_not_seen(name, tmp_path):
    acc, y = _acc(name, _splits(tmp_path / 'leak', future_leak=True, delta=3.0, priors=(0.25, 0.5, 0.25)))
    assert abs(acc - np.bincount(y + 1).max() / len(y)) < 0.025, acc
    now, _ = _acc(name, _splits(tmp_path / 'now', delta=3.0, priors=(0.25, 0.5, 0.25)))  # the same signal at bar t
    assert now > 0.85, now


@pytest.mark.slow
@pytest.mark.parametrize('name', ['nhits', 'tft'])
def test_learns_planted_signal_near_the_bayes_limit(name, tmp_path):
    acc, _ = _acc(name, _splits(tmp_path, delta=1.5), max_epochs=15, patience=4)
    assert abs(acc - bayes_accuracy(1.5)) < 0.05, (acc, bayes_accuracy(1.5))
