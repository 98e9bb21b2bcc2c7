"""A walk-forward run's fold fitting against the same folds fitted by hand with LightGBM, and what --parallel 2 buys.

Data: the index history (er_data sample --source indices; built into a temporary directory if --data is not given),
2 symbols x about 5,000 daily bars, refits every 252 bars after 1,000. Both sides fit every fold on the same rows
(the fold's scaler, the inner purged slice that early stopping watches, the same LightGBM parameters) and predict its
block; the hand-written side calls lgb.train directly. Interleaved A B, B A. Then the whole run (evaluation, plots,
MLflow parent and child runs, the saved model) with --parallel 1 and --parallel 2.
Target: ours / raw <= 1.10 on the fold fitting.
Run: .venv/bin/python benchmarks/walkforward.py [--data DIR] [--reps 2] [--rounds 200]   (about 3 minutes)
"""
import argparse, tempfile, time
from pathlib import Path
import numpy as np

from ensemble_research.data.cv import _rows, inner_split
from ensemble_research.data.sample import build_indices
from ensemble_research.training.walkforward import WalkForward

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data'); p.add_argument('--reps', type=int, default=2); p.add_argument('--rounds', type=int, default=200)
    a = p.parse_args()
    tmp = tempfile.TemporaryDirectory()
    data = a.data or str(build_indices(Path(tmp.name) / 'indices') and Path(tmp.name) / 'indices')
    conf = {'model': 'lightgbm', 'horizon': 5, 'data': data, 'runs_dir': str(Path(tmp.name) / 'runs'),
            'model_config': {'n_estimators': a.rounds, 'learning_rate': 0.05}}
    walk = {'refit_every': 252, 'min_train_bars': 1000}
    wf = WalkForward(conf, walk)
    wf.prepare_data(); wf.build_model()
    print(f"{len(wf.dataset)} samples, {len(wf.folds)} folds, {a.rounds} rounds with early stopping, "
          f"{wf.model.threads} threads")


    def ours():
        t = time.perf_counter()
        out = [wf.fit_fold(k) for k in range(len(wf.folds))]
        return time.perf_counter() - t, np.concatenate([r['predictions'][['prob_short', 'prob_neutral', 'prob_long']]
                                                        .to_numpy() for r in out])


    def raw():
        import lightgbm as lgb

        ds, params, c, P = wf.dataset, wf.model.params(), wf.config, []
        t = time.perf_counter()
        for k, f in enumerate(wf.folds):
            X, tr, te = wf._fold_X(k), f['train'], f['block']
            fit, stop = inner_split(ds.metadata.iloc[tr].reset_index(drop=True), 5, c.inner_fraction, c.inner_embargo)
            Xt, yt = _rows(X, tr), ds.y[tr] + 1
            d = lgb.Dataset(Xt[fit], yt[fit], feature_name=wf.model.columns, free_raw_data=False)
            b = lgb.train(params, d, a.rounds, valid_sets=[d, lgb.Dataset(Xt[stop], yt[stop], reference=d)],
                          valid_names=['train', 'val'], callbacks=[lgb.early_stopping(wf.model.config.patience,
                                                                                      verbose=False)])
            P.append(b.predict(_rows(X, te), num_iteration=b.best_iteration))
        return time.perf_counter() - t, np.concatenate(P)


    t_ours, t_raw = [], []
    for i in range(a.reps):
        for side in ((ours, raw) if i % 2 == 0 else (raw, ours)):
            s, P = side()
            (t_ours if side is ours else t_raw).append(s)
    same = np.abs(ours()[1] - raw()[1]).max()
    r = np.median(t_ours) / np.median(t_raw)
    print(f"fold fitting: ours {np.median(t_ours):.2f} s, raw lightgbm {np.median(t_raw):.2f} s, ratio {r:.3f} "
          f"({'met' if r <= 1.10 else 'MISSED'} <= 1.10); largest probability difference {same:.1e}")

    gru = {'sequence_length': 10, 'max_epochs': 5, 'hidden_size': 32, 'batch_size': 128, 'device': 'cpu'}
    for model, mc in (('lightgbm', conf['model_config']), ('gru', gru)):
        runs = {}
        for n in (1, 2):
            t = time.perf_counter()
            WalkForward(conf | {'model': model, 'model_config': mc}, walk).run_full_pipeline(parallel=n)
            runs[n] = time.perf_counter() - t
        print(f"whole {model} run: --parallel 1 {runs[1]:.1f} s, --parallel 2 {runs[2]:.1f} s, speedup "
              f"{runs[1] / runs[2]:.2f}x (each worker imports the libraries and builds the history before its first "
              "fold, and gets half the cores)", flush=True)

if __name__ == '__main__':  # the --parallel workers are spawned: they import this file
    main()
