"""Ensembles across modules: purged folds never let a training label reach a predicted block (property test), a
base run's out-of-fold predictions are reused rather than retrained, and an experiment grid trains an ensemble on its
runs."""

import json
from pathlib import Path
import numpy as np, pandas as pd, pytest, yaml
from hypothesis import given, settings, strategies as st, HealthCheck
import ensemble_research.data.cv as cv_module
from ensemble_research.data.cv import PurgedWalkForward, label_end_times
from ensemble_research.models import ModelRegistry, load_model
from ensemble_research.models.boosting import LightGBMModel
from ensemble_research.training.trainer import Trainer
from ensemble_research.training.experiment import ExperimentConfig, run_experiment


@st.composite
def panels(draw):
    "Random bars of a few symbols (own start and length), a random subset kept as labeled samples."
    n_sym, rng = draw(st.integers(1, 4)), np.random.default_rng(draw(st.integers(0, 10_000)))
    rows = []
    for s in range(n_sym):
        start, n = int(rng.integers(0, 30)), int(rng.integers(20, 120))
        rows.append(
            pd.DataFrame({'datetime': pd.bdate_range('2021-01-01', periods=200)[start : start + n], 'symbol': f'S{s}'}))
    bars = pd.concat(rows, ignore_index=True)
    keep = rng.random(len(bars)) > draw(st.floats(0, 0.3))  # unlabeled bars, or bars without a full window
    return bars, keep


def _leaks(cv, md, true_end, H) -> int:
    "Training rows whose label window meets a predicted block, its labels' windows, or the embargo after them."
    dt, times, far = md['datetime'].to_numpy(), np.unique(md['datetime']), np.datetime64('2262-01-01')
    n = 0
    for (tr, te), (first, last, _) in zip(cv.split(md, H), cv.blocks(dt)):
        t, e = dt[tr], np.where(pd.isna(true_end[tr]), far, true_end[tr])  # unknown end: open-ended
        block_end = far if pd.isna(true_end[te]).any() else true_end[te].max()  # when the block's last label ends
        gap = np.searchsorted(times, t) - np.searchsorted(times, block_end, 'right')  # bars between it and the row
        before, after = t < first, t > last
        n += int((~before & ~after).sum() + (before & (e >= first)).sum())  # in the block, or its label reaches it
        n += int((after & (cv.walk_forward | (t <= block_end) | (gap < cv.embargo))).sum())  # purge and embargo
    return n


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panels(), st.integers(1, 25), st.integers(1, 5), st.floats(0, 0.8), st.integers(0, 10), st.booleans())
def test_no_training_label_window_reaches_a_predicted_block_or_its_embargo(panel, H, k, init, emb, wf):
    bars, keep = panel
    # the true end of each label: H bars later in the symbol's own bars, whether or not those bars are samples
    true_end = bars.groupby('symbol')['datetime'].shift(-H).to_numpy()
    md = bars[keep].reset_index(drop=True)
    end, dt = true_end[keep], md['datetime'].to_numpy()
    assert (pd.isna(label_end_times(md, H)) | (label_end_times(md, H) >= np.where(pd.isna(end), dt, end))).all()
    cv = PurgedWalkForward(n_folds=k, initial_fraction=init, embargo=emb, walk_forward=wf)
    try:
        folds = list(cv.split(md, H))
    except Exception as e:  # too few datetimes or an empty fold: refused with a reason, never a silent fold
        assert 'too few' in str(e) or 'no training rows' in str(e)
        return
    for (tr, te), (first, last, _) in zip(folds, cv.blocks(md['datetime'])):
        assert len(te) and (dt[te] >= first).all() and (dt[te] <= last).all()
    assert _leaks(cv, md, end, H) == 0


@pytest.mark.parametrize('wf', [True, False])
def test_the_leak_check_fails_when_purging_is_disabled(wf, monkeypatch):
    bars = pd.concat([pd.DataFrame({'datetime': pd.bdate_range('2021-01-01', periods=120), 'symbol': s})
                      for s in 'ABC'], ignore_index=True)
    true_end = bars.groupby('symbol')['datetime'].shift(-5).to_numpy()
    cv = PurgedWalkForward(n_folds=3, embargo=2, walk_forward=wf)
    assert _leaks(cv, bars, true_end, 5) == 0
    monkeypatch.setattr(cv_module, 'label_end_times', lambda md, h: md['datetime'].to_numpy())  # labels end at once
    leaks = _leaks(cv, bars, true_end, 5)
    assert leaks >= 3 * 5 * (1 if wf else 2), leaks  # 5 bars a symbol before each block (and 7 after in k-fold)


@pytest.fixture
def base_run(data, tmp_path):
    "A LightGBM run on the tiny fixture that saved its purged out-of-fold predictions."
    cfg = {'model': 'lightgbm', 'horizon': 5, 'data': str(data), 'runs_dir': str(tmp_path / 'runs'),
           'model_config': LightGBMModel.quick_config, 'oof': {'n_folds': 2}}
    return Trainer(cfg).run_full_pipeline()


def test_a_matching_base_run_is_reused_not_retrained(data, tmp_path, base_run, monkeypatch):
    oof = pd.read_parquet(base_run / 'predictions' / 'oof_predictions.parquet')
    assert set(oof['fold']) == {0, 1} and np.allclose(oof[['prob_short', 'prob_neutral', 'prob_long']].sum(axis=1), 1)
    fits = []
    orig = LightGBMModel._fit
    monkeypatch.setattr(LightGBMModel, '_fit', lambda self, *a, **k: fits.append(1) or orig(self, *a, **k))
    bases = [{'model': 'lightgbm', 'config': LightGBMModel.quick_config},
             {'model': 'lightgbm', 'config': LightGBMModel.quick_config | {'num_leaves': 4}}]
    mc = {'bases': bases, 'oof': {'n_folds': 2}, 'base_runs': [str(base_run)]}
    settings = {'model': 'stacking', 'horizon': 5, 'data': str(data), 'runs_dir': str(tmp_path / 'runs')}
    run = Trainer(settings | {'model_config': mc}).run_full_pipeline()
    hist = json.loads((run / 'checkpoints' / 'model' / 'model.json').read_text())['training_history']
    assert [b['source'] for b in hist['bases']] == ['reused', 'fitted']
    assert hist['bases'][0]['run_dir'] == str(base_run)
    assert 'its model config differs' in hist['bases'][1]['not_reused'][0]
    assert len(fits) == 3  # the second base only: two folds and the final fit; the first was loaded, not trained
    reused = load_model(run / 'checkpoints' / 'model').base_models[0]
    X = Trainer({'model': 'lightgbm', 'data': str(data)}).prepare_data()['test'].X
    assert np.array_equal(reused.predict_proba(X), load_model(base_run / 'checkpoints' / 'model').predict_proba(X))


def test_other_fold_settings_or_data_are_not_reused(splits, base_run):
    cfg = {'bases': [{'model': 'lightgbm', 'config': LightGBMModel.quick_config}], 'oof': {'n_folds': 3}}
    m = ModelRegistry.create('stacking', cfg, 5, splits.features)
    assert m._reuse(0, base_run)[2] == "the ensemble's data fingerprint is unknown (fit outside the Trainer)"
    m.data_fingerprint = yaml.safe_load((base_run / 'config.yaml').read_text())['data']['fingerprint']
    assert m._reuse(0, base_run)[2] == 'its early stopping watched other rows'  # the run stopped on its inner slice
    m.inner = (0.15, 0)  # as the Trainer sets it
    assert m._reuse(0, base_run)[2] == 'its fold settings differ'
    m.data_fingerprint = 'other'
    assert m._reuse(0, base_run)[2] == 'it trained on other data'


def test_an_experiment_trains_stacking_on_its_base_runs(data, tmp_path):
    cfg = ExperimentConfig.from_dict(
        {'name': 'ens', 'models': ['lightgbm', 'xgboost', 'stacking'], 'horizons': [5], 'data': str(data),
         'runs_dir': str(tmp_path), 'quick': True,
         'model_config': {'stacking': {'bases': ['lightgbm', 'xgboost'], 'oof': {'n_folds': 2}}}})
    exp_dir, lb, failed = run_experiment(cfg)
    assert failed == []
    res = {r['stem']: r for r in json.loads((exp_dir / 'results.json').read_text())}
    assert [r['stem'] for r in res.values()][-1] == 'stacking_h5'  # ensembles run after their bases
    hist = json.loads((Path(res['stacking_h5']['run_dir']) / 'checkpoints' / 'model' / 'model.json').read_text())
    assert [b['source'] for b in hist['training_history']['bases']] == ['reused', 'reused']
    row = lb[lb['model'] == 'ensemble:stacking'].iloc[0]
    assert row['bases'] == 'lightgbm+xgboost' and row['n_runs'] == 1
    assert 'lightgbm+xgboost' in (exp_dir / 'leaderboard.md').read_text()
