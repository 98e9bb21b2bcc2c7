"""Validation only chooses: with early stopping on train's inner slice (the default), replacing val by noise of the
same shape leaves every fitted model bit-identical, for each family and both ensembles; stopping on val does not."""

import shutil
import numpy as np, pandas as pd, pytest
from ensemble_research.data.phase1 import load_splits, split_file
from ensemble_research.models import ModelRegistry
from ensemble_research.training.trainer import Trainer

FAMILIES = ['lightgbm', 'catboost', 'gru', 'nhits', 'voting', 'stacking']


@pytest.fixture(scope='module')
def garbage_val(data, tmp_path_factory):
    "The tiny fixture with val's features, labels, weights and returns replaced by noise of the same shape."
    out = tmp_path_factory.mktemp('garbage_val')
    for s in ('train', 'test'):
        shutil.copy(split_file(data, s), split_file(out, s))
    val, rng = pd.read_parquet(split_file(data, 'val')), np.random.default_rng(7)
    for c in load_splits(data).features + [c for c in val.columns if c.startswith('label_fwd_ret')]:
        val[c] = rng.normal(size=len(val)).astype(val[c].dtype)
    for c in [c for c in val.columns if c.startswith('label_h')]:
        val[c] = np.where(val[c].isna(), np.nan, rng.integers(-1, 2, len(val)))
    val.to_parquet(split_file(out, 'val'))
    return out


def _fitted(name, data, **train):
    "The test probabilities of `name` (quick config) trained on `data`, and its training history."
    t = Trainer({'model': name, 'horizon': 5, 'data': str(data), 'model_config': ModelRegistry.get(name).quick_config,
                 'runs_dir': 'unused', **train})
    t.prepare_data(), t.build_model(), t.train()
    return t.model.predict_proba(t.data['test'].X), t.history


@pytest.mark.parametrize('name', FAMILIES)
def test_val_drives_no_fitted_choice(name, data, garbage_val):
    real, hist = _fitted(name, data)
    noise, _ = _fitted(name, garbage_val)
    assert np.array_equal(real, noise), np.abs(real - noise).max()
    if not name.startswith(('voting', 'stacking')):  # a single model says what it stopped on
        assert hist['inner_slice']['slice_rows'] > 0, hist['inner_slice']


@pytest.mark.parametrize('name', FAMILIES)
def test_stopping_on_val_is_driven_by_val(name, data, garbage_val):
    "The check above can fail: stopping on val (as before 0.3), the same swap changes the fitted model."
    real, hist = _fitted(name, data, early_stopping_on='val')
    noise, hist_noise = _fitted(name, garbage_val, early_stopping_on='val')
    assert not np.array_equal(real, noise), (hist.get('best_iteration'), hist_noise.get('best_iteration'))
