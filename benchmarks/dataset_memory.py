"""Peak memory and time: TimeSeriesDataset + BatchLoader vs naive materialization of every window.

A Phase-1-sized array (87,094 rows x 107 float32 features, 20 symbols), L=60, one epoch of shuffled batches of 256.
Each method runs in its own process; peak memory is traced (tracemalloc, which sees numpy's allocations) from after the input frame exists.
Target: ours peaks at most 1.2 x the raw feature array plus one batch. The consumer drops each batch before asking
for the next (a plain `for b in loader` keeps batch k alive while k+1 is gathered: one batch more, for either method).
Run: .venv/bin/python benchmarks/dataset_memory.py
"""
import gc, subprocess, sys, time, json, tracemalloc
import numpy as np, pandas as pd

ROWS, FEATS, SYMBOLS, L, BATCH = 87_094, 107, 20, 60, 256


def frame():
    rng = np.random.default_rng(0)
    per = np.diff(np.linspace(0, ROWS, SYMBOLS + 1).astype(int))
    sym = np.repeat([f'S{i:02d}' for i in range(SYMBOLS)], per)
    dt = np.concatenate([pd.date_range('2015-01-01', periods=n, freq='15min').to_numpy() for n in per])
    df = pd.DataFrame(rng.standard_normal((ROWS, FEATS), dtype=np.float32), columns=[f'f{i}' for i in range(FEATS)])
    return df.assign(datetime=dt, symbol=sym, label_h5=rng.integers(-1, 2, ROWS).astype(float))


def peak_mb(): return tracemalloc.get_traced_memory()[1] / 2**20


def run(method):
    import torch  # imports (torch alone is ~150 MB of RSS) happen before the baseline, for both methods
    from torch.utils.data import DataLoader, TensorDataset
    from ensemble_research.data.dataset import TimeSeriesDataset
    from ensemble_research.data.loaders import BatchLoader
    float(torch.zeros(2).sum()); torch.cuda.is_available()  # torch's lazy initialization, also before the baseline
    df = frame(); feats = [f'f{i}' for i in range(FEATS)]
    gc.collect(); tracemalloc.start(); base, t0 = peak_mb(), time.perf_counter()
    if method == 'ours':
        ds = TimeSeriesDataset(df, feats, 5, sequence_length=L)
        loader = BatchLoader(ds.X, ds.y, batch_size=BATCH, shuffle=True, seed=0, pin_memory=False)
    else:  # naive: every window materialized up front, the seed's loop
        X, y = [], []
        for _, g in df.groupby('symbol', sort=False):
            v, lab = g[feats].to_numpy(np.float32), g['label_h5'].to_numpy()
            for i in range(L - 1, len(g)): X.append(v[i - L + 1:i + 1]); y.append(lab[i] + 1)
        loader = DataLoader(TensorDataset(torch.from_numpy(np.stack(X)), torch.tensor(y, dtype=torch.long)),
                            batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0))
    n, it = 0, iter(loader)
    while (b := next(it, None)) is not None:  # touch every batch, then drop it before the next is gathered
        float(b[0].sum()); n += 1; del b
    print(json.dumps({'method': method, 'seconds': time.perf_counter() - t0, 'peak_mb': peak_mb() - base, 'batches': n}))


if __name__ == '__main__':
    if len(sys.argv) > 1: run(sys.argv[1]); sys.exit()
    raw = ROWS * FEATS * 4 / 2**20; batch = BATCH * L * FEATS * 4 / 2**20
    res = {m: json.loads(subprocess.run([sys.executable, __file__, m], capture_output=True, text=True, check=True).stdout) for m in ('ours', 'naive')}
    print(f"raw feature array {raw:.1f} MB, one batch {batch:.1f} MB, target peak <= {1.2 * raw + batch:.1f} MB")
    for m, r in res.items(): print(f"{m:>6}: peak {r['peak_mb']:8.1f} MB ({r['peak_mb'] / raw:.2f} x raw), {r['seconds']:.2f} s, {r['batches']:.0f} batches")
    ok = res['ours']['peak_mb'] <= 1.2 * raw + batch
    print(f"naive / ours: memory {res['naive']['peak_mb'] / res['ours']['peak_mb']:.1f} x, time {res['naive']['seconds'] / res['ours']['seconds']:.1f} x; target {'met' if ok else 'MISSED'}")
