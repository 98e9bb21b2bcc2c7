"""TFT's epoch: our network (`_UnbindVSN` swapped into its variable selection) against neuralforecast's own, side by side.

1. One epoch of the full sample's training windows at the shipped defaults (window 8, hidden 16, 1,024 windows per
   step, CPU), ours then neuralforecast's, interleaved `--reps` times. Target: ours at most 40 s per epoch.
2. Accuracy on a planted panel (`planted_panel`: one feature carries the label, the rest noise, a known Bayes limit):
   the shipped defaults (5 epochs, early stopping on val) trained by both, test accuracy against the Bayes limit.
Run: .venv/bin/python benchmarks/tft_epoch.py [--data data/splits/scaled] [--reps 1]
"""
import argparse, logging, tempfile, time, warnings
import numpy as np
from ensemble_research.core import shipped_config
from ensemble_research.data.dataset import TimeSeriesDataset
from ensemble_research.data.phase1 import load_splits
from ensemble_research.data.synthetic import bayes_accuracy, chronological_split, planted_panel, write_splits
from ensemble_research.models import ModelRegistry
from ensemble_research.models.timeseries import TFTConfig, _UnbindVSN
from neuralforecast.models.tft import VariableSelectionNetwork

p = argparse.ArgumentParser()
p.add_argument('--data', default='data/splits/scaled'); p.add_argument('--reps', type=int, default=1)
p.add_argument('--horizon', type=int, default=5)
a = p.parse_args()
warnings.filterwarnings('ignore')
for n in ('lightning', 'lightning.pytorch', 'lightning_fabric'): logging.getLogger(n).setLevel(logging.ERROR)
SHIPPED = TFTConfig.from_yaml(shipped_config('models', 'tft')).to_dict() | {'device': 'cpu'}


def model(feats, upstream: bool, **over):
    m = ModelRegistry.create('tft', SHIPPED | over, a.horizon, feats)
    if upstream:  # neuralforecast's own variable selection, built the moment the loop builds the network
        build = m.build_net

        def build_upstream():
            net = build()
            for v in net.modules():
                if isinstance(v, _UnbindVSN): v.__class__ = VariableSelectionNetwork
            return net
        m.build_net = build_upstream
    return m


def epoch(tr, feats, upstream):
    m = model(feats, upstream, max_epochs=1, early_stopping=False)
    t = time.perf_counter(); m.fit(tr.X, tr.y); return time.perf_counter() - t


sp = load_splits(a.data, a.horizon)
tr = TimeSeriesDataset.from_splits(sp, 'train', a.horizon, SHIPPED['sequence_length'])
print(f"full sample: {len(tr):,} training windows x {SHIPPED['sequence_length']} bars x {len(sp.features)} features, "
      f"hidden {SHIPPED['hidden_size']}, {SHIPPED['batch_size']} windows per step, one epoch, x{a.reps}", flush=True)
t_ours, t_up = [], []
for i in range(a.reps):  # A B, then B A
    if i % 2: t_up.append(epoch(tr, sp.features, True)); t_ours.append(epoch(tr, sp.features, False))
    else: t_ours.append(epoch(tr, sp.features, False)); t_up.append(epoch(tr, sp.features, True))
o, u = (np.median(t_ours), np.median(t_up)) if a.reps else (np.nan, np.nan)  # --reps 0: accuracy only
if a.reps: print(f"tft epoch: ours {o:6.1f} s, neuralforecast's VSN {u:6.1f} s, speed-up {u / o:.2f}x; "
      f"ours {'met' if o <= 40 else 'MISSED'} <= 40 s  [ours {', '.join(f'{t:.1f}' for t in t_ours)}; "
      f"upstream {', '.join(f'{t:.1f}' for t in t_up)}]", flush=True)

delta, H = 2.0, a.horizon
panel = planted_panel(n_symbols=60, n_bars=600, n_features=32, horizons=(H,), delta=delta, seed=3)
ps = load_splits(write_splits(chronological_split(panel), tempfile.mkdtemp(prefix='er_tft_')), H)
d = {s: TimeSeriesDataset.from_splits(ps, s, H, SHIPPED['sequence_length']) for s in ('train', 'val', 'test')}
print(f"planted panel: 60 symbols x 600 bars, 32 features (one carries the label, delta {delta}), "
      f"{len(d['train']):,} training windows; Bayes limit {bayes_accuracy(delta):.3f}, majority rate "
      f"{np.bincount(d['test'].y.astype(int) + 1).max() / len(d['test']):.3f}", flush=True)
for name, up in (('ours', False), ("neuralforecast's VSN", True)):
    m = model(ps.features, up)
    t = time.perf_counter(); hist = m.fit(d['train'].X, d['train'].y, d['val'].X, d['val'].y); t = time.perf_counter() - t
    acc = float((m.predict_proba(d['test'].X).argmax(1) - 1 == d['test'].y).mean())
    print(f"{name:>21}: test accuracy {acc:.4f} over {len(d['test'])} windows, {hist['epochs']} epochs in {t:.1f} s",
          flush=True)
