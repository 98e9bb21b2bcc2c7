"""Our N-HiTS fit against neuralforecast's own `NeuralForecast.fit`, same network, data, steps and seed, interleaved.

Data: the sample's train split (`er_data sample`, 521 symbols, 111 features). Ours trains on the dataset's windows of
`sequence_length` bars; neuralforecast on the panel data frame the issue describes: label_t as `y` at bar t+1 of each
symbol, the features as `hist_exog_list`, an integer bar index as `ds` (freq 1), `sample_weight` 0 where the label is
unknown. Both: h=1, input_size L, SoftmaxNLL, identity scaler, exclude_insample_y, 1,024 windows per step, the same
number of steps (one epoch of ours), no validation, CPU. Target: ours / raw <= 1.10.
Then the cost of one epoch of every feature-aware model of the family, and PatchTST, at the shipped defaults.
Run: .venv/bin/python benchmarks/timeseries_overhead.py [--data data/splits/scaled] [--reps 2] [--cost nhits,...]
"""
import argparse, logging, math, time, warnings
import numpy as np, pandas as pd, torch
from ensemble_research.core import shipped_config
from ensemble_research.data.phase1 import load_splits
from ensemble_research.data.dataset import TimeSeriesDataset
from ensemble_research.models import ModelRegistry
from ensemble_research.models.timeseries import SoftmaxNLL, nf_panel

p = argparse.ArgumentParser()
p.add_argument('--data', default='data/splits/scaled'); p.add_argument('--reps', type=int, default=2)
p.add_argument('--cost', default='nhits,bitcn,patchtst,tft'); p.add_argument('--horizon', type=int, default=5)
a = p.parse_args()
warnings.filterwarnings('ignore'); logging.getLogger('lightning').setLevel(logging.ERROR)
logging.getLogger('lightning.pytorch').setLevel(logging.ERROR); logging.getLogger('lightning_fabric').setLevel(logging.ERROR)

sp = load_splits(a.data, a.horizon)
H, feats = a.horizon, sp.features
base = ModelRegistry.create('nhits', {'device': 'cpu', 'early_stopping': False, 'max_epochs': 1}, H, feats)
L, B = base.config.sequence_length, base.config.batch_size
tr = TimeSeriesDataset.from_splits(sp, 'train', H, L)
steps = math.ceil(len(tr) / B)

df = nf_panel(sp['train'], feats, H)  # label_t as y at bar t+1 of its symbol; unknown labels weigh 0
df = df[df.groupby('unique_id')['ds'].transform('size') > L]  # neuralforecast needs input_size bars in every series


def ours():
    m = ModelRegistry.create('nhits', {'device': 'cpu', 'early_stopping': False, 'max_epochs': 1}, H, feats)
    t = time.perf_counter(); m.fit(tr.X, tr.y); return time.perf_counter() - t


def raw():
    from neuralforecast import NeuralForecast
    from neuralforecast.models import NHITS
    c = base.config
    net = NHITS(h=1, input_size=L, hist_exog_list=feats, exclude_insample_y=True, scaler_type='identity',
                loss=SoftmaxNLL(), valid_loss=SoftmaxNLL(), mlp_units=[[c.hidden_size] * c.num_layers] * 3,
                dropout_prob_theta=c.dropout, learning_rate=c.learning_rate, max_steps=steps, windows_batch_size=B,
                random_seed=c.random_seed, val_check_steps=10**9, accelerator='cpu', logger=False,
                enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    nf = NeuralForecast(models=[net], freq=1)
    t = time.perf_counter(); nf.fit(df); return time.perf_counter() - t


print(f"train windows {len(tr):,} (neuralforecast: {len(df):,} rows of {df.unique_id.nunique()} symbols) x L={L} x {len(feats)} features, {steps} steps of {B} windows, interleaved x{a.reps}")
t_ours, t_raw = [], []
for i in range(a.reps):  # A B, then B A
    if i % 2: t_raw.append(raw()); t_ours.append(ours())
    else: t_ours.append(ours()); t_raw.append(raw())
r = np.median(t_ours) / np.median(t_raw)
print(f"nhits fit: ours {np.median(t_ours):6.1f} s, NeuralForecast.fit {np.median(t_raw):6.1f} s, ratio {r:.3f} "
      f"({'met' if r <= 1.10 else 'MISSED'} <= 1.10)  [ours {', '.join(f'{t:.1f}' for t in t_ours)}; "
      f"raw {', '.join(f'{t:.1f}' for t in t_raw)}]", flush=True)

print("cost of one epoch at the shipped defaults (train windows, then predicting the val split):")
for name in a.cost.split(','):
    klass = ModelRegistry.get(name)
    c = klass.config_class.from_yaml(shipped_config('models', name)).to_dict() | {'device': 'cpu', 'max_epochs': 1,
                                                                                  'early_stopping': False}
    m = ModelRegistry.create(name, c, H, feats)
    d = {s: TimeSeriesDataset.from_splits(sp, s, H, m.config.sequence_length) for s in ('train', 'val')}
    t = time.perf_counter(); m.fit(d['train'].X, d['train'].y); t_fit = time.perf_counter() - t
    t = time.perf_counter(); m.predict_proba(d['val'].X); t_pred = time.perf_counter() - t
    print(f"{name:>9}: L={m.config.sequence_length}, {len(d['train']):,} windows, one epoch {t_fit:6.1f} s, "
          f"val predict ({len(d['val']):,}) {t_pred:5.1f} s", flush=True)
