"""Tuning speed on the sample data, side by side in one run (same sampler seed, MLflow off, studies in a temporary
SQLite file, so that the trials' own cost is what is compared):

1. reuse: the same pruned LightGBM study with each worker's binned training data reused across trials
   (`reuse_data`, the default) and rebuilt for every trial. Target: at least 1.3x the trials per hour.
2. pruning: the same study with and without the median pruner, both reusing. Target: the pruned study's best
   validation log loss within 1% of the unpruned one's, in at most 60% of its time.
3. workers: `--workers 2` against `--workers 1` on the same enqueued random points (one thread per trial, so that two
   workers are two cores' worth of trials). Target: at least 1.6x the trials per hour. Worker 0 is this process; the
   second is forked from the fork server, which is started cold here (its start is inside the measured time).

The data: the full sample (`er_data sample`: about 500 stocks, 53,513 train rows x 111 features), built into a
temporary directory unless --data names splits.
Run: .venv/bin/python benchmarks/tuning_pruning.py [--data DIR] [--trials 20] [--worker-trials 16]
"""
import argparse, subprocess, sys, tempfile, time, warnings
from pathlib import Path
import optuna
from ensemble_research.tuning.tuner import TuneConfig, open_study, suggest, summary, tune


def main():  # workers are forked from a fork server that imports the tuner, never this file
    p = argparse.ArgumentParser()
    p.add_argument('--data', default=None); p.add_argument('--trials', type=int, default=20)
    p.add_argument('--worker-trials', type=int, default=16); p.add_argument('--horizon', type=int, default=5)
    a = p.parse_args()
    d = tempfile.mkdtemp(prefix='er_tune_bench_')
    if a.data is None:
        a.data = f'{d}/full_sample'
        subprocess.run([str(Path(sys.executable).parent / 'er_data'), 'sample', '--out', a.data], check=True)
    base = {'model': 'lightgbm', 'horizon': a.horizon, 'data': a.data, 'runs_dir': d, 'mlflow': False,
            'trials': a.trials}

    def study(study, **kw):
        t = time.perf_counter(); s = summary(tune(TuneConfig.from_dict(base | {'study': study} | kw), progress=False))
        return time.perf_counter() - t, s

    def line(name, t, s):
        n = s['complete'] + s['pruned']
        print(f"  {name:<22}: {t:7.1f} s, {n} trials ({s['pruned']} pruned), {3600 * n / t:6.0f} trials per hour, "
              f"best val_log_loss {s['best_value']:.5f}", flush=True)
        return 3600 * n / t

    print(f"{a.trials} trials, sampler seed 42, LightGBM at its shipped defaults, {a.data}")
    t_re, s_re = study('median_rebuilt', pruner='median', reuse_data=False)
    r_re = line('median, rebuilt', t_re, s_re)
    t_on, s_on = study('median_reused', pruner='median')
    r_on = line('median, reused', t_on, s_on)
    t_off, s_off = study('no_pruner_reused', pruner='none')
    line('no pruner, reused', t_off, s_off)
    ok = r_on / r_re >= 1.3
    print(f"  reuse: {r_on / r_re:.2f}x the trials per hour of rebuilding ({'met' if ok else 'MISSED'}: >= 1.3x); "
          f"same best loss: {s_on['best_value'] == s_re['best_value']}")
    gap, share = s_on['best_value'] / s_off['best_value'] - 1, t_on / t_off
    ok = gap <= 0.01 and share <= 0.60
    print(f"  pruning: best loss {gap:+.2%} against no pruning, in {share:.0%} of its time ({'met' if ok else 'MISSED'}:"
          " within 1% in at most 60%)", flush=True)

    rates, q0 = {}, optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    points = [suggest(q0.ask(), 'lightgbm') for _ in range(a.worker_trials)]  # both runs train the same points
    for k in (1, 2):
        kw = dict(workers=k, trials=a.worker_trials, pruner='none', model_config={'n_jobs': 1})
        with warnings.catch_warnings():  # Optuna's experimental-feature notices
            warnings.simplefilter('ignore')
            q = open_study(TuneConfig.from_dict(base | {'study': f'workers_{k}'} | kw))
            for pt in points:
                q.enqueue_trial(pt)
        t, s = study(f'workers_{k}', **kw)
        rates[k] = line(f'--workers {k}', t, s)
    ok = rates[2] / rates[1] >= 1.6
    print(f"  workers: 2 give {rates[2] / rates[1]:.2f}x the trials per hour of 1 ({'met' if ok else 'MISSED'}: >= 1.6x)")


if __name__ == '__main__':
    main()
