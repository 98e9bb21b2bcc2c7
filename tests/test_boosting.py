"Boosting learns a planted signal up to its Bayes limit and stays at chance on random labels (the leakage canary)."

import numpy as np, pytest
from ensemble_research.data.synthetic import planted_panel, chronological_split, bayes_accuracy
from ensemble_research.data.phase1 import load_splits
from ensemble_research.data.synthetic import write_splits
from ensemble_research.data.dataset import TimeSeriesDataset
from ensemble_research.models import ModelRegistry

BOOSTING = [m['full_name'] for m in ModelRegistry.list_models(family='boosting', available_only=True)]
CFG = {'n_estimators': 150, 'learning_rate': 0.1, 'max_depth': 3, 'patience': 15, 'n_jobs': 2}


def _splits(tmp_path, **kw):
    panel = planted_panel(n_symbols=10, n_bars=1500, n_features=6, horizons=(5,), seed=11, **kw)
    return load_splits(write_splits(chronological_split(panel), tmp_path))


def _fit_eval(name, sp):
    tr, va, te = (TimeSeriesDataset.from_splits(sp, s, 5) for s in ('train', 'val', 'test'))
    m = ModelRegistry.create(name, CFG, 5, sp.features)
    m.fit(tr.X, tr.y, va.X, va.y)
    return (m.predict(te.X).predictions == te.y).mean(), te.y


@pytest.mark.parametrize('name', BOOSTING)
def test_learns_planted_signal_to_bayes_limit(name, tmp_path):
    acc, _ = _fit_eval(name, _splits(tmp_path, delta=1.5))
    assert abs(acc - bayes_accuracy(1.5)) < 0.03, (acc, bayes_accuracy(1.5))


@pytest.mark.parametrize('name', BOOSTING)
def test_random_labels_stay_at_majority_rate(name, tmp_path):
    acc, y = _fit_eval(name, _splits(tmp_path, signal=False, priors=(0.25, 0.5, 0.25)))
    majority = np.bincount(y + 1).max() / len(y)
    assert abs(acc - majority) < 0.02, (acc, majority)
