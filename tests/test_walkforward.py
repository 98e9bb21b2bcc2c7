"""Walk-forward runs: the stitched record learns a planted signal to its Bayes limit and nothing from random labels or
the future; no fold trains on a label that reaches its block (hypothesis), and each fold's scaler sees only its own
training rows; folds in parallel give the same record; a failed fold is a named hole; experiments compare the records
with SPA and the MCS; the index history gives at least 4x the bars of its test split."""

import contextlib, io, json, types
from pathlib import Path
import numpy as np, pandas as pd, pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from ensemble_research.core import ConfigError, ModelError
from ensemble_research.data.cv import label_end_times
from ensemble_research.data.phase1 import SPLITS
from ensemble_research.data.synthetic import bayes_accuracy, chronological_split, planted_panel, write_splits
from ensemble_research.training.runs import explain_saved, reproduce
from ensemble_research.training.experiment import ExperimentConfig, run_experiment, terminal_table
from ensemble_research.training.walkforward import WalkForward, WalkForwardConfig, plan_folds

QUICK = {'n_estimators': 60, 'learning_rate': 0.1, 'n_jobs': 1}


def _phase1(panel: pd.DataFrame, path: Path) -> Path:
    "Write `panel` as Phase-1 splits scaled with train statistics, beside its scaler.json (as er_data writes them)."
    frames = chronological_split(panel)
    feats = [c for c in panel.columns if c.startswith(('sig_', 'noise_', 'ret_'))]
    mu, sd = frames['train'][feats].mean(), frames['train'][feats].std()
    for s in SPLITS: frames[s][feats] = ((frames[s][feats] - mu) / sd).astype(np.float32)
    out = write_splits(frames, path)
    (out / 'scaler.json').write_text(json.dumps({'fitted_on': 'train', 'mean': mu.to_dict(), 'std': sd.to_dict()}))
    return out


def _walk(tmp_path, panel, model='lightgbm', config=QUICK, walk=None, **kw):
    wf = WalkForward({'model': model, 'horizon': 5, 'data': str(_phase1(panel, tmp_path / 'data')),
                      'runs_dir': str(tmp_path / 'runs'), 'model_config': config},
                     walk or {'refit_every': 150, 'min_train_bars': 300})
    return wf, wf.run_full_pipeline(**kw)


def _accuracy(wf) -> tuple[float, float]:
    "The stitched record's accuracy and its majority-class rate."
    rec = wf.predictions['oos']
    acc = (rec[['prob_short', 'prob_neutral', 'prob_long']].to_numpy().argmax(1) - 1 == rec['label']).mean()
    return acc, np.bincount(rec['label'].to_numpy() + 1).max() / len(rec)


def test_the_stitched_record_learns_a_planted_signal_to_its_bayes_limit(tmp_path):
    wf, rd = _walk(tmp_path, planted_panel(n_symbols=8, n_bars=1200, n_features=4, horizons=(5,), delta=1.5, seed=2))
    acc, _ = _accuracy(wf)
    assert abs(acc - bayes_accuracy(1.5)) < 0.03, (acc, bayes_accuracy(1.5), len(wf.folds))
    with pytest.raises(ConfigError, match='would be in-sample'):  # its saved model (the last fold's) has seen val
        explain_saved(rd)


@pytest.mark.parametrize('case', ['random labels', 'future leak'])
def test_random_labels_and_a_future_signal_stay_at_the_majority_rate(case, tmp_path):
    panel = planted_panel(n_symbols=8, n_bars=1200, n_features=4, horizons=(5,), delta=3.0, seed=4,
                          signal=case != 'random labels', priors=(0.25, 0.5, 0.25))
    if case == 'future leak':  # the feature of bar t+1 carries the label of bar t: only reading ahead could use it
        panel['sig_h5'] = panel.groupby('symbol')['sig_h5'].shift(1).fillna(0.0)
    wf, _ = _walk(tmp_path, panel)
    acc, majority = _accuracy(wf)
    assert abs(acc - majority) < 0.025, (case, acc, majority)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lengths=st.lists(st.integers(40, 160), min_size=1, max_size=4), offsets=st.data(),
       horizon=st.integers(1, 8), refit=st.integers(3, 40), first=st.integers(10, 35), embargo=st.integers(0, 5),
       sliding=st.booleans(), train_bars=st.integers(5, 60))
def test_no_fold_trains_on_a_label_that_reaches_its_block(lengths, offsets, horizon, refit, first, embargo, sliding,
                                                          train_bars):
    days = pd.bdate_range('2020-01-01', periods=250)
    md = pd.concat([pd.DataFrame({'datetime': days[o:o + n], 'symbol': f'S{i}'})
                    for i, n in enumerate(lengths) for o in [offsets.draw(st.integers(0, 250 - n))]],
                   ignore_index=True)
    cfg = WalkForwardConfig(refit_every=refit, min_train_bars=first, embargo=embargo, train_bars=train_bars,
                            window='sliding' if sliding else 'expanding')
    try:
        folds = plan_folds(md, horizon, cfg)
    except ValueError as e:  # too short a history for these settings: said so, by name
        assert 'walk_forward.min_train_bars' in str(e), e
        return
    dt, end, times = md['datetime'].to_numpy(), label_end_times(md, horizon), np.unique(md['datetime'].to_numpy())
    for f in folds:
        s = np.searchsorted(times, f['block_start'])
        assert (end[f['train']] < times[max(s - embargo, 0)]).all(), f['fold']  # the label window, then the embargo
        assert not np.intersect1d(f['train'], f['block']).size and (dt[f['train']] < f['block_start']).all()
        if sliding: assert (dt[f['train']] >= times[max(s - train_bars, 0)]).all()
        # the fold's scaler is fitted on its training rows, and on nothing else
        values = np.arange(len(md), dtype=np.float32)[:, None].repeat(2, 1)
        fake = types.SimpleNamespace(scaling='each fold', folds=folds,
                                     dataset=types.SimpleNamespace(ends=np.arange(len(md)), values=values))
        mean, _, rows = WalkForward.fold_scaler(fake, f['fold'])
        assert set(rows) == set(f['train']) and np.isclose(mean[0], f['train'].mean()), f['fold']
    blocks = np.concatenate([f['block'] for f in folds])
    assert len(blocks) == len(np.unique(blocks)) == (dt >= folds[0]['block_start']).sum()  # tiled, no overlap


def test_folds_in_parallel_give_the_same_record(tmp_path):
    panel = planted_panel(n_symbols=4, n_bars=700, n_features=4, horizons=(5,), delta=1.0, seed=1)
    one, _ = _walk(tmp_path / 'one', panel)
    two, rd = _walk(tmp_path / 'two', panel, parallel=2)
    pd.testing.assert_frame_equal(one.predictions['oos'], two.predictions['oos'])
    assert json.loads((rd / 'status.json').read_text())['status'] == 'complete'
    assert len(pd.read_parquet(rd / 'metrics' / 'folds.parquet')) == len(two.folds) > 2
    again = reproduce(rd)  # er_reproduce walks the same folds again, in a new run directory
    assert again['identical'] and (Path(again['run_dir']) / 'metrics' / 'folds.parquet').is_file(), again


def test_a_failed_fold_is_a_named_hole_never_stitched_over(tmp_path, monkeypatch):
    fit = WalkForward.fit_fold

    def failing(self, k, save_to=None):
        if k == 1: raise RuntimeError('out of memory in fold one')
        return fit(self, k, save_to)

    monkeypatch.setattr(WalkForward, 'fit_fold', failing)
    panel = planted_panel(n_symbols=3, n_bars=700, n_features=4, horizons=(5,), seed=1)
    with pytest.raises(ModelError, match=r'1 of \d+ walk-forward folds failed.*fold 1 \(block .*out of memory'):
        _walk(tmp_path, panel)
    rd = next((tmp_path / 'runs').glob('lightgbm_h5_wf_*'))
    status = json.loads((rd / 'status.json').read_text())
    assert status['status'] == 'failed' and 'nothing was stitched over them' in status['error'], status
    folds = pd.read_parquet(rd / 'metrics' / 'folds.parquet')
    assert folds.loc[folds['fold'] == 1, 'status'].item() == 'failed' and (folds['status'] == 'complete').sum() > 1
    assert not (rd / 'predictions' / 'walkforward_predictions.parquet').exists()


def test_an_ensemble_walks_forward_with_its_stacking_inside_each_fold(tmp_path):
    panel = planted_panel(n_symbols=4, n_bars=700, n_features=4, horizons=(5,), delta=1.5, seed=3)
    cfg = {'bases': [{'model': 'lightgbm', 'config': QUICK}, {'model': 'xgboost', 'config': QUICK}],
           'oof': {'n_folds': 2, 'initial_fraction': 0.5}}
    wf, rd = _walk(tmp_path, panel, model='stacking', config=cfg, walk={'refit_every': 200, 'min_train_bars': 300})
    acc, majority = _accuracy(wf)
    assert acc > majority + 0.1, (acc, majority)
    assert json.loads((rd / 'status.json').read_text())['status'] == 'complete'


def test_a_walk_forward_grid_is_compared_with_spa_and_the_mcs(tmp_path):
    panel = planted_panel(n_symbols=6, n_bars=700, n_features=4, horizons=(5,), delta=1.5, seed=5)
    data = _phase1(panel, tmp_path / 'data')
    cfg = ExperimentConfig.from_dict(
        {'name': 'wf', 'models': ['lightgbm', 'xgboost'], 'horizons': [5], 'data': str(data),
         'runs_dir': str(tmp_path / 'runs'), 'model_config': {'lightgbm': QUICK, 'xgboost': QUICK},
         'rank_by': 'val_log_loss', 'evaluation': {'mode': 'walk_forward', 'refit_every': 100, 'min_train_bars': 250}})
    exp_dir, lb, failed = run_experiment(cfg)
    assert failed == [], failed
    models = lb[~lb['is_reference']]
    for r in json.loads((exp_dir / 'results.json').read_text()):  # val: the stitched record before the test rows
        rec = pd.read_parquet(Path(r['run_dir']) / 'predictions' / 'walkforward_predictions.parquet')
        row = models[models['model'] == r['model']].iloc[0]
        assert row['val_rows_own'] == (rec['split'] != 'test').sum() > 0, (r['model'], row['val_rows_own'])
    assert models['in_mcs'].notna().all() and models['in_mcs'].any(), models[['model', 'in_mcs', 'mcs_p']]
    assert (models['spa_p'] < 0.05).all(), models[['model', 'spa_p']]  # both beat the references on a strong signal
    assert (exp_dir / 'loss_differential.png').is_file() and 'Tied for best' in (exp_dir / 'leaderboard.md').read_text()
    table = terminal_table(lb, cfg.rank_by)
    assert max(map(len, table.splitlines())) <= 120, table


def test_the_index_history_walks_forward_with_4x_the_bars_of_its_test_split(tmp_path):
    from ensemble_research.data.cli import main as er_data
    from ensemble_research.training.cli import main as er_train

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        er_data(['sample', '--source', 'indices', '--out', str(tmp_path / 'indices')])
        er_train(['--model', 'lightgbm', '--horizon', '5', '--data', str(tmp_path / 'indices'), '--runs-dir',
                  str(tmp_path / 'runs'), '--walk-forward', '--set', 'walk_forward.refit_every=252', '--set',
                  'walk_forward.min_train_bars=1000', '--set', 'n_estimators=60', '--set', 'n_jobs=1'])
    rd = next((tmp_path / 'runs').glob('lightgbm_h5_wf_*'))
    w = json.loads((rd / 'metrics' / 'metrics.json').read_text())['walk_forward']
    assert w['bars_vs_test'] >= 4, w['bars']
    assert w['sharpe_ci_width']['oos'] < w['sharpe_ci_width']['test'], w['sharpe_ci_width']
    assert 'each fold fits its own scaler' in w['scaling'] and 'Sharpe interval width' in out.getvalue()
