"""The full grid's wall time: `er_experiment baseline` (every available model x both horizons) with 3 seeds on the full
sample, `--parallel 2`, then each model's time per cell from its executed notebook (papermill's duration: kernel start,
data, training, evaluation and saving), as a markdown table. Target: the whole grid within 60 minutes on 2 cores.
Measured (2 cores, the full sample from `er_data sample --out data/full`): 75.8 min with 15 of 72 cells failed before
the out-of-fold fix and one shuffle per feature in permutation importance; 47.9 min, 72 of 72 complete, after.
Run: .venv/bin/python benchmarks/full_grid.py [--data data/full] [--runs-dir /tmp/grid] [--seeds 1 2 3]
     .venv/bin/python benchmarks/full_grid.py --report RUNS_DIR/baseline_...   (the table of a grid already run)
"""
import argparse, collections, json, subprocess, sys, time
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument('--data', default='data/full'); p.add_argument('--runs-dir', default='/tmp/er_full_grid')
p.add_argument('--seeds', nargs='+', default=['1', '2', '3']); p.add_argument('--parallel', default='2')
p.add_argument('--report', help='an experiment folder to tabulate instead of running the grid')
a = p.parse_args()

if a.report:
    exp, total = Path(a.report), None
else:
    if not (Path(a.data) / 'train_scaled.parquet').is_file():
        sys.exit(f"no full sample in {a.data}: build it with `er_data sample --out {a.data}` (all symbols)")
    t = time.perf_counter()
    cmd = [str(Path(sys.executable).parent / 'er_experiment'), 'baseline', '--data', a.data, '--runs-dir', a.runs_dir,
           '--seeds', *a.seeds, '--parallel', a.parallel]
    print('$', ' '.join(cmd), flush=True)
    rc = subprocess.run(cmd).returncode
    total = time.perf_counter() - t
    exp = max(Path(a.runs_dir).glob('baseline_*'), key=lambda d: d.stat().st_mtime)
    if rc:
        print(f"er_experiment exited {rc}: the failed cells are listed above and in {exp / 'results.json'}")
results = json.loads((exp / 'results.json').read_text())
cell = collections.defaultdict(list)
for r in results:
    nb = json.loads(Path(r['notebook']).read_text()) if Path(r['notebook']).is_file() else {}
    secs = nb.get('metadata', {}).get('papermill', {}).get('duration')
    cell[(r['model'], int(r['horizon']))].append((r['status'], secs))
models, horizons = sorted({m for m, _ in cell}), sorted({h for _, h in cell})
print(f"\n{exp}: {len(results)} cells, {sum(s == 'complete' for v in cell.values() for s, _ in v)} complete")
print('| model | ' + ' | '.join(f'h{h}: mean per seed (s)' for h in horizons) + ' | all its cells (min) |')
print('|---|' + '---|' * (len(horizons) + 1))
for m in models:
    row, tot = [], 0.0
    for h in horizons:
        v = cell.get((m, h), [])
        secs = [s for st, s in v if st == 'complete' and s is not None]
        row.append(f"{sum(secs) / len(secs):.0f} ({len(secs)}/{len(v)} complete)" if secs else 'failed')
        tot += sum(s for _, s in v if s is not None)
    print(f"| {m} | " + ' | '.join(row) + f" | {tot / 60:.1f} |")
busy = sum(s for v in cell.values() for _, s in v if s is not None)
print(f"\ncell time summed {busy / 60:.1f} min" + (f"; the grid's wall time with --parallel {a.parallel}: "
      f"{total / 60:.1f} min ({'met' if total <= 3600 else 'MISSED'} <= 60 min)" if total is not None else ''))
