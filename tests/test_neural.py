"Neural family: a sequence-only signal needs the window, random labels stay at chance, checkpoints cross processes."

import subprocess, sys
import numpy as np, pytest
from ensemble_research.data.synthetic import planted_panel, chronological_split, write_splits
from ensemble_research.data.phase1 import load_splits
from ensemble_research.data.dataset import TimeSeriesDataset
from ensemble_research.models import ModelRegistry

CFG = {'hidden_size': 16, 'batch_size': 128, 'max_epochs': 12, 'patience': 4, 'learning_rate': 5e-3, 'device': 'cpu',
       'dropout': 0.0}


def _splits(tmp_path, n_symbols=6, n_bars=900, **kw):
    panel = planted_panel(n_symbols=n_symbols, n_bars=n_bars, n_features=4, horizons=(5,), seed=21, **kw)
    return load_splits(write_splits(chronological_split(panel), tmp_path))


def _acc(name, sp, L, **kw):
    tr, va, te = (TimeSeriesDataset.from_splits(sp, s, 5, sequence_length=L) for s in ('train', 'val', 'test'))
    m = ModelRegistry.create(name, {**CFG, 'sequence_length': L, **kw}, 5, sp.features)
    m.fit(tr.X, tr.y, va.X, va.y)
    return (m.predict(te.X).predictions == te.y).mean(), te.y


def test_lstm_sees_a_signal_three_bars_back(tmp_path):
    sp = _splits(tmp_path, delta=3.0, lag=3)
    seq, _ = _acc('lstm', sp, 6)
    flat, _ = _acc('lstm', sp, 1)
    assert seq > flat + 0.15, (seq, flat)  # the window reaches the planted bar; a single bar cannot
    assert abs(flat - 1 / 3) < 0.05


@pytest.mark.parametrize('name', ['lstm', 'gru', 'transformer'])
def test_random_labels_stay_at_majority_rate(name, tmp_path):
    acc, y = _acc(name, _splits(tmp_path, n_symbols=12, n_bars=2000, signal=False, priors=(0.25, 0.5, 0.25)), 5,
                  max_epochs=6)  # ~3,500 test samples
    assert abs(acc - np.bincount(y + 1).max() / len(y)) < 0.02


def test_checkpoint_written_by_one_process_loads_in_another(tmp_path):
    sp = _splits(tmp_path / 'd', delta=3.0)
    tr, va = (TimeSeriesDataset.from_splits(sp, s, 5, sequence_length=5) for s in ('train', 'val'))
    m = ModelRegistry.create('gru', {**CFG, 'sequence_length': 5, 'max_epochs': 2}, 5, sp.features)
    m.fit(tr.X, tr.y, va.X, va.y, checkpoint_dir=tmp_path / 'ck')
    m.save(tmp_path / 'model')
    np.save(tmp_path / 'X.npy', np.asarray(va.X))
    np.save(tmp_path / 'P.npy', m.predict_proba(va.X))
    code = f"""
import numpy as np
from ensemble_research.models import load_model
from ensemble_research.models.callbacks import ModelCheckpoint
m = load_model({str(tmp_path / 'model')!r})
assert np.array_equal(m.predict_proba(np.load({str(tmp_path / 'X.npy')!r})), np.load({str(tmp_path / 'P.npy')!r}))
w, state, meta = ModelCheckpoint.load({str(tmp_path / 'ck')!r})
assert meta['epoch'] == 1 and set(w) == set(m.net.state_dict())
print('ok')
"""
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and 'ok' in r.stdout, r.stderr
