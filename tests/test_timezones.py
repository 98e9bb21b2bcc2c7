"Time-zone-aware intraday bars end to end: er_data check, a boosting, a neural and a time-series model, book, MLflow."

import json, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
import mlflow
from ensemble_research.data.synthetic import planted_panel, chronological_split, write_splits
from ensemble_research.training.records import mlflow_tracking, tracking_uri
from ensemble_research.training.trainer import Trainer


@pytest.fixture(scope='module')
def hourly(tmp_path_factory):
    "Hourly UTC bars (FX-like, no session gaps) with per-bar returns, so the marked-to-market book is used."
    p = planted_panel(n_symbols=6, n_bars=400, n_features=6, horizons=(5,), seed=3)
    p['datetime'] = list(pd.date_range('2024-03-01', periods=400, freq='h', tz='UTC')) * 6
    p['label_fwd_ret_h1'] = np.random.default_rng(0).normal(0, 0.001, len(p))
    return write_splits(chronological_split(p, embargo=2), tmp_path_factory.mktemp('utc'))


def test_check_reads_tz_aware_bars(hourly):
    er_data = str(Path(sys.executable).parent / 'er_data')
    r = subprocess.run([er_data, 'check', str(hourly), '--json'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)['horizons'] == [5]


@pytest.mark.parametrize('model,cfg', [('lightgbm', {'n_estimators': 10, 'n_jobs': 1}),
                          ('gru', {'max_epochs': 1, 'sequence_length': 4, 'hidden_size': 8}),
                          ('nhits', {'max_epochs': 1, 'sequence_length': 4, 'hidden_size': 8})])
def test_models_train_on_tz_aware_hourly_bars(hourly, tmp_path, model, cfg):
    t = Trainer({'model': model, 'horizon': 5, 'data': str(hourly), 'runs_dir': str(tmp_path), 'model_config': cfg,
                 'context_from_previous': True})
    rd = t.run_full_pipeline()
    assert json.loads((rd / 'status.json').read_text())['status'] == 'complete'
    tr = t.metrics['test']['model']['trading']
    assert tr['method'] == 'marked to market per bar' and tr['frequency'] == 'continuous h bars'
    assert tr['bars_per_year'] == 24 * 365.25  # unbroken through the weekend: around the clock, not 252 days
    saved = pd.read_parquet(rd / 'predictions' / 'test_predictions.parquet')
    assert str(saved['datetime'].dt.tz) == 'UTC'
    assert (rd / 'plots' / 'equity_curve.png').is_file() and (rd / 'plots' / 'drawdown.png').is_file()
    with mlflow_tracking(tracking_uri(tmp_path)):
        assert mlflow.get_run(t.mlflow_run_id).info.status == 'FINISHED'
