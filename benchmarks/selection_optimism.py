"""How optimistic are val metrics when val drives early stopping? (issue 25; the table in nbs/tutorials/05_selection.ipynb)

For each data set (the built-in sample and a planted panel), model and seed, the same model is fitted three ways:
- `val`: early stopping watches val (before 0.3), so val both fitted and ranks the model;
- `test`: the roles swapped, early stopping watches test (only to measure: never do this);
- `inner`: early stopping watches the inner slice of train (the default since 0.3).
The val - test gap of each mixes two things: the selection's optimism and the difference between the two periods.
Swapping the roles cancels the second: optimism = (gap when val stops - gap when test stops) / 2. With `inner`, the
gap is the period difference alone. Gaps are in macro F1 (val - test) and log loss (test - val): positive is optimistic.

Usage: python benchmarks/selection_optimism.py [--seeds 5] [--symbols 100]   (about 5 minutes on 2 cores)
"""
import argparse, tempfile, time
from pathlib import Path
import numpy as np
import pandas as pd
from ensemble_research.data.sample import build_sample
from ensemble_research.data.synthetic import chronological_split, planted_panel, write_splits
from ensemble_research.training.evaluator import flat_report
from ensemble_research.training.trainer import Trainer

MODELS = {'lightgbm': {'n_estimators': 400, 'learning_rate': 0.05, 'n_jobs': 2},
          'gru': {'sequence_length': 10, 'hidden_size': 32, 'max_epochs': 15, 'patience': 3, 'device': 'cpu'}}


def fit(data, model, seed, stop_on):
    "One model fitted with early stopping on `stop_on` (val, test or inner); its val and test reports."
    t = Trainer({'model': model, 'horizon': 5, 'data': str(data), 'runs_dir': 'unused', 'seed': seed,
                 'model_config': MODELS[model], 'early_stopping_on': 'inner' if stop_on == 'inner' else 'val'})
    t.prepare_data(), t.build_model()
    if stop_on == 'test':  # the roles swapped for the fit only, then put back for the evaluation
        t.data['val'], t.data['test'] = t.data['test'], t.data['val']
        t.train()
        t.data['val'], t.data['test'] = t.data['test'], t.data['val']
    else:
        t.train()
    m = t.evaluate()
    v, s = flat_report(m['val']['model']), flat_report(m['test']['model'])
    return {'f1_gap': v['macro_f1'] - s['macro_f1'], 'log_loss_gap': s['log_loss'] - v['log_loss'],
            'val_macro_f1': v['macro_f1'], 'test_macro_f1': s['macro_f1'], 'best_iteration': t.history.get('best_iteration')}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, default=5)
    p.add_argument('--symbols', type=int, default=100)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    build_sample(tmp / 'sample', symbols=a.symbols)
    sets = {'sample': tmp / 'sample',
            'planted': write_splits(chronological_split(planted_panel(n_symbols=10, n_bars=1500, n_features=20,
                                                                      horizons=(5,), delta=0.4, seed=3)),
                                    tmp / 'planted')}
    rows = []
    for (name, data), model, seed, stop in pd.MultiIndex.from_product(
            [list(sets.items()), MODELS, range(1, a.seeds + 1), ('val', 'test', 'inner')]):
        rows.append({'data': name, 'model': model, 'seed': seed, 'stop_on': stop, **fit(data, model, seed, stop)})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    g = df.groupby(['data', 'model', 'stop_on'])[['f1_gap', 'log_loss_gap']].mean().unstack('stop_on')
    out = pd.DataFrame({
        'macro F1 gap, val stops': g[('f1_gap', 'val')], 'macro F1 gap, test stops': g[('f1_gap', 'test')],
        'macro F1 gap, inner stops': g[('f1_gap', 'inner')],
        'optimism in macro F1': (g[('f1_gap', 'val')] - g[('f1_gap', 'test')]) / 2,
        'log loss gap, val stops': g[('log_loss_gap', 'val')], 'log loss gap, test stops': g[('log_loss_gap', 'test')],
        'log loss gap, inner stops': g[('log_loss_gap', 'inner')],
        'optimism in log loss': (g[('log_loss_gap', 'val')] - g[('log_loss_gap', 'test')]) / 2})
    print(f"\n{a.seeds} seeds per cell, horizon 5, {time.perf_counter() - t0:.0f} s in all\n")
    print(out.reset_index().to_markdown(index=False, floatfmt='.4f'))
    sd = df.groupby(['data', 'model', 'stop_on'])[['f1_gap', 'log_loss_gap']].std(ddof=1).unstack('stop_on')
    print('\nstandard deviation over seeds of each gap:\n')
    print(sd.round(4).to_markdown())


if __name__ == '__main__':
    main()
