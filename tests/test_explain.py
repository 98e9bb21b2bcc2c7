"""Explanations across families: on a planted panel the planted feature ranks first under permutation importance for
GRU and N-HiTS (LightGBM, with TreeSHAP's additivity, is checked in nbs/20d), noise features stay within their interval
of zero, and `er_runs explain` explains a run that was trained without explanations."""

import json, subprocess, sys
from pathlib import Path
import pandas as pd, pytest
from ensemble_research.data.synthetic import chronological_split, planted_panel, write_splits
from ensemble_research.training.trainer import Trainer

BIN = Path(sys.executable).parent
FAST = {'gru': {'hidden_size': 16, 'batch_size': 128, 'max_epochs': 8, 'patience': 3, 'learning_rate': 5e-3,
                'sequence_length': 5, 'device': 'cpu', 'dropout': 0.0},
        'nhits': {'hidden_size': 32, 'sequence_length': 8, 'max_epochs': 6, 'patience': 2, 'batch_size': 256,
                  'learning_rate': 3e-3, 'device': 'cpu'}}


@pytest.fixture(scope='module')
def planted(tmp_path_factory):
    panel = planted_panel(n_symbols=6, n_bars=900, n_features=5, horizons=(5,), delta=1.5, seed=3)
    return write_splits(chronological_split(panel), tmp_path_factory.mktemp('planted'))


@pytest.mark.parametrize('model', ['gru', 'nhits'])
def test_the_planted_feature_ranks_first_and_noise_stays_near_zero(planted, tmp_path, model):
    t = Trainer({'model': model, 'horizon': 5, 'data': str(planted), 'runs_dir': str(tmp_path),
                 'model_config': FAST[model]})
    rd = t.run_full_pipeline()
    imp = pd.read_parquet(rd / 'explain' / 'permutation_importance.parquet')
    assert imp['feature'].iat[0] == 'sig_h5' and imp['low'].iat[0] > 0, imp
    noise = imp.iloc[1:]
    # each noise feature's interval covers zero, or its effect is under 2% of the planted one's (an overfit network
    # can lean a little on noise: shuffling it then helps val slightly, by a margin the interval can resolve)
    small = noise['importance'].abs() < 0.02 * imp['importance'].iat[0]
    assert ((noise['low'] <= 0) & (noise['high'] >= 0) | small).all(), noise
    m = json.loads((rd / 'metrics' / 'metrics.json').read_text())['explain']
    assert m['permutation_top'][0]['feature'] == 'sig_h5' and 'shap_top' not in m, m  # no TreeSHAP off trees
    assert (rd / 'plots' / 'permutation_importance.png').is_file()


def test_er_runs_explain_explains_a_run_trained_without_it(planted, tmp_path):
    t = Trainer({'model': 'lightgbm', 'horizon': 5, 'data': str(planted), 'runs_dir': str(tmp_path),
                 'model_config': {'n_estimators': 40, 'n_jobs': 1}, 'explain': {'permutation': False, 'shap': False}})
    rd = t.run_full_pipeline()
    assert not (rd / 'explain').exists() and 'explain' not in t.metrics
    out = subprocess.run([str(BIN / 'er_runs'), 'explain', str(rd), '--repeats', '2'], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'permutation importance' in out.stdout and 'TreeSHAP (mean |SHAP|): sig_h5' in out.stdout, out.stdout
    m = json.loads((rd / 'metrics' / 'metrics.json').read_text())['explain']
    assert m['repeats'] == 2 and m['shap_additivity_max_error'] < 1e-5, m
    assert json.loads((rd / 'status.json').read_text())['status'] == 'complete'
