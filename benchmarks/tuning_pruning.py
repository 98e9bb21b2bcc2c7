"""The same LightGBM study on the sample data with and without the median pruner (same sampler seed), one run each,
then trials per hour with 2 worker processes against 1 (both train the same 8 random points, enqueued).

Target: the pruned study's best validation log loss within 1% of the unpruned study's, in at most 60% of its time.
Studies are in a temporary SQLite file, MLflow off (the trials' own cost is what is compared).
Run: .venv/bin/python benchmarks/tuning_pruning.py [--data data/splits/scaled] [--trials 20] [--worker-trials 8]
"""
import argparse, tempfile, time
import optuna
from ensemble_research.tuning.tuner import TuneConfig, open_study, suggest, summary, tune



def main():  # workers are spawned processes: they import this file, which must not rerun the benchmark
    p = argparse.ArgumentParser()
    p.add_argument('--data', default='data/splits/scaled'); p.add_argument('--trials', type=int, default=20)
    p.add_argument('--worker-trials', type=int, default=8); p.add_argument('--horizon', type=int, default=5)
    a = p.parse_args()
    d = tempfile.mkdtemp(prefix='er_tune_bench_')


    def study(study, **kw):
        cfg = TuneConfig.from_dict({'model': 'lightgbm', 'horizon': a.horizon, 'data': a.data, 'runs_dir': d,
                                    'study': study, 'mlflow': False, 'trials': a.trials} | kw)
        t = time.perf_counter(); s = summary(tune(cfg, progress=False)); return time.perf_counter() - t, s


    t_off, s_off = study('no_pruner', pruner='none')
    t_on, s_on = study('median_pruner', pruner='median')
    gap, share = s_on['best_value'] / s_off['best_value'] - 1, t_on / t_off
    print(f"{a.trials} trials, sampler seed 42, LightGBM at its shipped defaults, {a.data}")
    print(f"  no pruner : {t_off:7.1f} s, best val_log_loss {s_off['best_value']:.5f} ({s_off['complete']} complete)")
    print(f"  median    : {t_on:7.1f} s, best val_log_loss {s_on['best_value']:.5f} "
          f"({s_on['complete']} complete, {s_on['pruned']} pruned)")
    ok = gap <= 0.01 and share <= 0.60
    print(f"  best loss {gap:+.2%} against no pruning, in {share:.0%} of its time ({'met' if ok else 'MISSED'}: "
          "within 1% in at most 60%)", flush=True)

    rates, base = {}, optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    points = [suggest(base.ask(), 'lightgbm') for _ in range(a.worker_trials)]  # both runs train the same points
    for k in (1, 2):  # one thread per trial, so that two workers are two cores' worth of trials
        kw = dict(study=f'workers_{k}', workers=k, trials=a.worker_trials, pruner='none', model_config={'n_jobs': 1})
        q = open_study(TuneConfig.from_dict({'model': 'lightgbm', 'horizon': a.horizon, 'data': a.data, 'runs_dir': d,
                                             'mlflow': False} | kw))
        for pt in points:
            q.enqueue_trial(pt)
        t, s = study(**kw)
        rates[k] = 3600 * (s['complete'] + s['pruned']) / t
        print(f"  --workers {k}: {s['complete'] + s['pruned']} trials in {t:.1f} s, {rates[k]:.0f} trials per hour", flush=True)
    print(f"  2 workers / 1 worker: {rates[2] / rates[1]:.2f}x trials per hour")


if __name__ == '__main__':
    main()
