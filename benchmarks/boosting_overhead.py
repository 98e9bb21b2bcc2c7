"""Our boosting models' fit against each library's own train call, same parameters and arrays, interleaved A B A B.

A Phase-1-sized array: 87,094 x 107 float32 train, 18,591 validation rows, 3 classes, 200 rounds on all cores,
early stopping off so both sides do the same number of rounds (both record train and validation log loss).
Target: ours / raw <= 1.05 for each library.
Run: .venv/bin/python benchmarks/boosting_overhead.py [--rounds 200] [--reps 2] [--libs xgboost,lightgbm,catboost]
"""
import argparse, time
import numpy as np
from ensemble_research.models import ModelRegistry

p = argparse.ArgumentParser()
p.add_argument('--rounds', type=int, default=200); p.add_argument('--reps', type=int, default=2)
p.add_argument('--libs', default='xgboost,lightgbm,catboost'); p.add_argument('--rows', type=int, default=87_094)
a = p.parse_args()

rng = np.random.default_rng(0)
F = 107
Xtr, Xva = rng.standard_normal((a.rows, F), dtype=np.float32), rng.standard_normal((18_591, F), dtype=np.float32)
beta = rng.normal(size=(F, 3)).astype(np.float32) * 0.1
ytr, yva = (np.argmax(X @ beta + rng.gumbel(size=(len(X), 3)), 1) - 1 for X in (Xtr, Xva))
feats = [f'f{i}' for i in range(F)]
cfg = {'n_estimators': a.rounds, 'early_stopping': False, 'learning_rate': 0.1, 'max_depth': 6}


def ours(name):
    m = ModelRegistry.create(name, cfg, 5, feats)
    t = time.perf_counter(); m.fit(Xtr, ytr, Xva, yva); return time.perf_counter() - t


def raw(name):
    m = ModelRegistry.create(name, cfg, 5, feats)  # only to read the identical parameters
    y, yv = ytr + 1, yva + 1
    t = time.perf_counter()
    if name == 'xgboost':
        import xgboost as xgb
        d, dv = xgb.DMatrix(Xtr, y, feature_names=m.columns, nthread=m.threads), xgb.DMatrix(Xva, yv, feature_names=m.columns, nthread=m.threads)
        xgb.train(m.params(), d, a.rounds, evals=[(d, 'train'), (dv, 'val')], evals_result={}, verbose_eval=False)
    elif name == 'lightgbm':
        import lightgbm as lgb
        d = lgb.Dataset(Xtr, y, feature_name=m.columns, free_raw_data=False)
        lgb.train(m.params(), d, a.rounds, valid_sets=[d, lgb.Dataset(Xva, yv, reference=d)], valid_names=['train', 'val'], callbacks=[lgb.record_evaluation({})])
    else:
        from catboost import CatBoostClassifier, Pool
        CatBoostClassifier(**m.params()).fit(Pool(Xtr, y, feature_names=m.columns), eval_set=Pool(Xva, yv, feature_names=m.columns))
    return time.perf_counter() - t


print(f"train {Xtr.shape}, val {Xva.shape}, {a.rounds} rounds, interleaved x{a.reps}")
for name in a.libs.split(','):
    t_ours, t_raw = [], []
    ModelRegistry.create(name, {**cfg, 'n_estimators': 2}, 5, feats).fit(Xtr[:2000], ytr[:2000], Xva[:500], yva[:500])  # warm-up
    for i in range(a.reps):  # A B, then B A: neither side always runs first
        if i % 2: t_raw.append(raw(name)); t_ours.append(ours(name))
        else: t_ours.append(ours(name)); t_raw.append(raw(name))
    r = np.median(t_ours) / np.median(t_raw)
    print(f"{name:>9}: ours {np.median(t_ours):6.1f} s, raw {np.median(t_raw):6.1f} s, ratio {r:.3f} ({'met' if r <= 1.05 else 'MISSED'} <= 1.05)"
          f"  [ours {', '.join(f'{t:.1f}' for t in t_ours)}; raw {', '.join(f'{t:.1f}' for t in t_raw)}]", flush=True)
