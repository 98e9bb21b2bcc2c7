"The Trainer end to end: complete run directories for every model, honest metrics.json, failed runs marked failed, CLI."

import hashlib, json, subprocess, sys
from pathlib import Path
import mlflow, numpy as np, pandas as pd, pytest
from ensemble_research.models import ModelRegistry, load_model
from ensemble_research.models.base import PROB_COLUMNS
from ensemble_research.training.records import mlflow_tracking, tracking_uri
from ensemble_research.training.trainer import Trainer, metrics_from_predictions

MODELS = [m['full_name']
          for m in ModelRegistry.list_models(available_only=True)
          if not m['requires_gpu'] and not m['requires_weights']]


def _trainer(name, data, runs, **kw):
    quick = ModelRegistry.get(name).quick_config
    return Trainer(
        {'model': name, 'horizon': 5, 'data': str(data), 'runs_dir': str(runs), 'model_config': dict(quick), **kw})


def _close(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return (np.isnan(a) and np.isnan(b)) or np.isclose(a, b, rtol=1e-9, atol=1e-12)
    return a == b


@pytest.mark.parametrize('name', MODELS)
def test_run_directory_is_complete_and_metrics_are_recomputable(name, data, tmp_path):
    t = _trainer(name, data, tmp_path)
    rd = t.run_full_pipeline()
    assert json.loads((rd / 'status.json').read_text())['status'] == 'complete'
    for p in ('config.yaml', 'checkpoints/model/model.json', 'predictions/val_predictions.parquet',
              'predictions/test_predictions.parquet', 'metrics/metrics.json', 'plots/confusion_matrix.png',
              'plots/equity_curve.png', 'plots/reliability.png'):
        assert (rd / p).is_file(), p
    m = json.loads((rd / 'metrics' / 'metrics.json').read_text())
    re = json.loads(json.dumps(metrics_from_predictions(rd), default=float))
    assert _close(re['val'], m['val']) and _close(re['test'], m['test'])
    saved = pd.read_parquet(rd / 'predictions' / 'test_predictions.parquet')
    assert list(saved.columns[:8]) == ['datetime', 'symbol', 'horizon', 'prediction', *PROB_COLUMNS, 'label'][:8]
    assert np.array_equal(load_model(rd / 'checkpoints' / 'model').predict_proba(t.data['test'].X),
                          saved[list(PROB_COLUMNS)].to_numpy())
    with mlflow_tracking(tracking_uri(tmp_path)):
        run = mlflow.get_run(t.mlflow_run_id)
    assert run.info.status == 'FINISHED' and run.data.tags['horizon'] == '5' and 'val_accuracy' in run.data.metrics


def _digest(d: Path):
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob('*')) if p.is_file()}


def test_failure_marks_run_failed_and_leaves_earlier_runs(data, tmp_path, monkeypatch):
    first = _trainer('xgboost', data, tmp_path).run_full_pipeline()
    before = _digest(first)
    t = _trainer('xgboost', data, tmp_path)
    klass = type(ModelRegistry.create('xgboost', {}, 5, ['a']))
    monkeypatch.setattr(klass, '_fit', lambda *a, **k: (_ for _ in ()).throw(RuntimeError('injected failure')))
    with pytest.raises(RuntimeError, match='injected failure'):
        t.run_full_pipeline()
    st = json.loads((t.run_dir / 'status.json').read_text())
    assert st['status'] == 'failed' and 'injected failure' in st['error'] and t.run_dir != first
    with mlflow_tracking(tracking_uri(tmp_path)):
        assert mlflow.get_run(t.mlflow_run_id).info.status == 'FAILED'
    assert _digest(first) == before and json.loads((first / 'status.json').read_text())['status'] == 'complete'


def _er_train(*args):
    return subprocess.run([sys.executable, '-c', 'from ensemble_research.training.cli import main; main()', *args],
                          capture_output=True, text=True)


def test_er_train_list():
    r = _er_train('--list')
    assert r.returncode == 0 and 'boosting:lightgbm' in r.stdout and 'available' in r.stdout


@pytest.mark.parametrize(
    'args,msg', [(['--model', 'nope', '--horizon', '5'], 'unknown model'),
     (['--model', 'lightgbm', '--horizon', '3'], 'the data has horizons [5, 20]'),
     (['--model', 'lightgbm', '--horizon', '5', '--set', 'num_leave=4'], "did you mean 'num_leaves'")])
def test_er_train_bad_arguments(args, msg, data, tmp_path):
    r = _er_train(*args, '--data', str(data), '--runs-dir', str(tmp_path / 'runs'))
    assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path / 'runs').exists() or not any((tmp_path / 'runs').glob('*_h*'))


def test_er_train_missing_data_dir(tmp_path):
    r = _er_train('--model', 'lightgbm', '--horizon', '5', '--data', str(tmp_path / 'none'), '--runs-dir',
                  str(tmp_path / 'runs'))
    assert r.returncode == 2 and 'does not exist' in r.stderr


def test_a_run_leaves_mlflow_pointed_where_it_was(data, tmp_path):
    "MLflow's set_tracking_uri writes MLFLOW_TRACKING_URI: a run must not leave it set for the next run's store."
    import os

    before = os.environ.get('MLFLOW_TRACKING_URI')
    for runs in ('a', 'b'):
        t = _trainer('lightgbm', data, tmp_path / runs)
        t.run_full_pipeline()
        with mlflow_tracking(tracking_uri(tmp_path / runs)):
            assert mlflow.get_run(t.mlflow_run_id).info.status == 'FINISHED'
    assert os.environ.get('MLFLOW_TRACKING_URI') == before
    assert (tmp_path / 'a' / 'mlflow.db').is_file() and (tmp_path / 'b' / 'mlflow.db').is_file()


def test_reference_rows_are_the_same_for_every_window_length(data, tmp_path):
    "Like with like: a model of 1-bar rows and one of 5-bar windows carry the same reference prior and majority row."
    reps = {}
    for name, cfg in (('lightgbm', {'n_estimators': 5, 'n_jobs': 1}),
                      ('gru', {'max_epochs': 1, 'sequence_length': 5, 'hidden_size': 8, 'device': 'cpu'})):
        t = Trainer({'model': name, 'horizon': 5, 'data': str(data), 'runs_dir': str(tmp_path), 'model_config': cfg})
        t.prepare_data(); t.build_model(); t.train()
        reps[name] = t.evaluate()
    a, b = reps['lightgbm'], reps['gru']
    assert a['n_samples']['train'] != b['n_samples']['train'], (a['n_samples'], b['n_samples'])  # other windows
    assert a['train_class_prior'] == b['train_class_prior'], (a['train_class_prior'], b['train_class_prior'])
