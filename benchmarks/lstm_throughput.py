"""Training throughput of our LSTM (the shared torch loop) against a minimal hand-written torch loop.

Same network (hidden 64, one layer), same windows (L=60 over 107 float32 features, strided views), batch 256,
AdamW, no clipping, one epoch each after one warm-up epoch each, interleaved A B, B A, ... (median). Target: ours >= 0.95 x the hand loop's samples/s.
Run: .venv/bin/python benchmarks/lstm_throughput.py [--samples 16384] [--reps 4]
"""
import argparse, time
import numpy as np, torch
from numpy.lib.stride_tricks import sliding_window_view
from ensemble_research.models import ModelRegistry
from ensemble_research.models.neural import _RNNNet
from ensemble_research.data.dataset import Windows

p = argparse.ArgumentParser(); p.add_argument('--samples', type=int, default=16_384); p.add_argument('--reps', type=int, default=4)
a = p.parse_args()
L, F, B, H = 60, 107, 256, 64
rng = np.random.default_rng(0)
values = rng.standard_normal((a.samples + L - 1, F), dtype=np.float32)
X = Windows(sliding_window_view(values, L, axis=0).transpose(0, 2, 1), np.arange(a.samples))
y = rng.integers(-1, 2, a.samples)
cfg = {'sequence_length': L, 'hidden_size': H, 'num_layers': 1, 'dropout': 0.0, 'batch_size': B, 'max_epochs': 1,
       'early_stopping': False, 'grad_clip': 0.0, 'device': 'cpu', 'learning_rate': 1e-3, 'weight_decay': 1e-4}
feats = [f'f{i}' for i in range(F)]


def ours():
    m = ModelRegistry.create('lstm', cfg, 5, feats)
    t = time.perf_counter(); m.fit(X, y); return a.samples / (time.perf_counter() - t)


def hand():
    torch.manual_seed(42)
    net = _RNNNet(torch.nn.LSTM, F, H, 1, 0.0)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    yt = torch.from_numpy(y + 1)
    t = time.perf_counter()
    net.train()
    for idx in torch.randperm(a.samples).split(B):
        xb = torch.from_numpy(X[np.sort(idx.numpy())])
        loss = torch.nn.functional.cross_entropy(net(xb), yt[idx.sort().values])
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    return a.samples / (time.perf_counter() - t)


print(f"{a.samples} windows of {L} x {F}, batch {B}, LSTM hidden {H}, {torch.get_num_threads()} threads, interleaved x{a.reps}")
ours(); hand()  # warm-up: torch's first LSTM calls are slow
o, h = [], []
for i in range(a.reps):
    if i % 2: h.append(hand()); o.append(ours())
    else: o.append(ours()); h.append(hand())
r = np.median(o) / np.median(h)
print(f"ours {np.median(o):,.0f} samples/s, hand loop {np.median(h):,.0f} samples/s, ratio {r:.3f} ({'met' if r >= 0.95 else 'MISSED'} >= 0.95)"
      f"  [ours {', '.join(f'{v:,.0f}' for v in o)}; hand {', '.join(f'{v:,.0f}' for v in h)}]")
