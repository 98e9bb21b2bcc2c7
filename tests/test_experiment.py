"Papermill experiments: the leaderboard matches the runs, a failing cell stops no other, nbdev_clean keeps the tag."

import json, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pytest, yaml
from ensemble_research.data.synthetic import tiny_fixture
from ensemble_research.training.experiment import TEMPLATE, ExperimentConfig, run_experiment


def test_two_models_one_horizon_leaderboard_matches_runs(data, tmp_path):
    cfg = ExperimentConfig.from_dict(
        {'name': 't', 'models': ['lightgbm', 'gru'], 'horizons': [5], 'data': str(data), 'runs_dir': str(tmp_path),
         'quick': True, 'rank_by': 'val_accuracy'})
    exp_dir, lb, failed = run_experiment(cfg)
    assert failed == []
    for stem in ('lightgbm_h5', 'gru_h5'):
        nb = json.loads((exp_dir / f'{stem}.ipynb').read_text())
        assert any(c.get('outputs') for c in nb['cells'])  # executed, with outputs
    models = lb[~lb['is_reference']]
    assert set(models['model']) == {'boosting:lightgbm', 'neural:gru'} and list(models['rank']) == [1, 2]
    assert models['val_accuracy'].is_monotonic_decreasing
    results, own = json.loads((exp_dir / 'results.json').read_text()), {}
    for r in results:
        m = json.loads((Path(r['run_dir']) / 'metrics' / 'metrics.json').read_text())
        row = lb[(lb['model'] == r['model']) & (lb['horizon'] == 5)].iloc[0]
        assert np.isclose(row['test_macro_f1_own'], m['test']['model']['classification']['macro_f1'])
        assert np.isclose(row['val_accuracy_own'], m['val']['model']['classification']['accuracy'])
        own[r['model']] = m['n_samples']['val']
    # like with like: the GRU's 5-bar windows score fewer val rows than LightGBM; both are ranked on the GRU's rows
    assert own['boosting:lightgbm'] > own['neural:gru'], own
    assert set(models['val_rows']) == {own['neural:gru']}, models[['model', 'val_rows', 'val_rows_own']]
    refs = lb[lb['is_reference']]  # each averages its rows over both runs: the same rows, so no spread at all
    assert set(refs['n_runs']) == {2} and (refs[['val_accuracy_std', 'test_accuracy_std']] == 0).all().all(), refs
    assert {'reference:majority', 'reference:always_long'} <= set(lb['model'])
    for f in ('leaderboard.parquet', 'leaderboard.md', 'leaderboard.png'):
        assert (exp_dir / f).is_file()


def test_a_failing_cell_does_not_stop_the_others(data, tmp_path):
    # valid config, fails inside fit
    cfg = {'name': 'f', 'models': ['xgboost', 'catboost'], 'horizons': [5], 'data': str(data),
           'runs_dir': str(tmp_path / 'runs'), 'quick': True, 'model_config': {'catboost': {'min_delta': 0.01}}}
    (tmp_path / 'exp.yaml').write_text(yaml.safe_dump(cfg))
    r = subprocess.run([sys.executable, '-c', 'from ensemble_research.training.experiment import main; main()',
                        str(tmp_path / 'exp.yaml')], capture_output=True, text=True)
    assert r.returncode == 1
    assert 'catboost_h5' in r.stderr and 'no min_delta' in r.stderr and 'catboost_h5.ipynb' in r.stderr
    assert 'boosting:xgboost' in r.stdout  # the leaderboard of the cells that ran
    exp_dir = next((tmp_path / 'runs').glob('f_*'))
    assert json.loads(next(exp_dir.glob('xgboost_h5_*/status.json')).read_text())['status'] == 'complete'
    assert json.loads(next(exp_dir.glob('catboost_h5_*/status.json')).read_text())['status'] == 'failed'


def test_bad_experiment_config_fails_before_running(data, tmp_path):
    with pytest.raises(Exception, match="did you mean 'n_estimators'"):
        run_experiment(ExperimentConfig.from_dict({'models': ['xgboost'], 'data': str(data), 'runs_dir': str(tmp_path),
                                                   'model_config': {'xgboost': {'n_estimator': 3}}}))
    assert not any(tmp_path.iterdir())


def test_nbdev_clean_keeps_the_parameters_tag(tmp_path):
    nb = tmp_path / 't.ipynb'
    shutil.copy(TEMPLATE, nb)
    subprocess.run([str(Path(sys.executable).parent / 'nbdev_clean'), '--fname', str(nb)], check=True,
                   cwd=Path(__file__).parent.parent)
    cells = json.loads(nb.read_text())['cells']
    assert any('parameters' in c['metadata'].get('tags', []) for c in cells)


def test_shipped_experiments_are_valid():
    from ensemble_research.training.experiment import load_experiment

    assert load_experiment('quick').name == 'quick' and load_experiment('baseline').quick is False


def test_template_runs_top_to_bottom_with_its_defaults(tmp_path):
    "As when opened in JupyterLab in a project folder: default parameters, data in data/splits/scaled, runs into runs/."
    import papermill as pm

    tiny_fixture(tmp_path / 'data' / 'splits' / 'scaled')
    out = tmp_path / 'executed.ipynb'
    # the defaults, fewer rounds
    pm.execute_notebook(str(TEMPLATE), str(out), cwd=str(tmp_path), kernel_name='python3', progress_bar=False,
                        parameters={'config_overrides': {'n_estimators': 10, 'n_jobs': 1}})
    runs = list((tmp_path / 'runs').glob('lightgbm_h5_*'))
    assert len(runs) == 1 and json.loads((runs[0] / 'status.json').read_text())['status'] == 'complete'
    outputs = ''.join(str(o) for c in json.loads(out.read_text())['cells'] for o in c.get('outputs', []))
    assert 'always_long' in outputs and 'image/png' in outputs


def test_parallel_cells_on_a_fresh_relative_runs_dir(data, tmp_path, monkeypatch):
    "Two kernels at once: no socket clash, no MLflow migration race on the new store, no chdir of this process."
    monkeypatch.chdir(tmp_path)
    cfg = ExperimentConfig.from_dict(
        {'name': 'par', 'models': ['lightgbm', 'xgboost'], 'horizons': [5], 'data': str(data), 'runs_dir': 'runs',
         'quick': True})
    exp_dir, lb, failed = run_experiment(cfg, parallel=2)
    assert failed == [], [f['error'] for f in failed]
    assert Path.cwd() == tmp_path
    assert sorted(lb['model']) == ['boosting:lightgbm', 'boosting:xgboost', 'reference:always_long',
                                   'reference:majority']
