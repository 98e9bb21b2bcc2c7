"""Experiment grids on a Dask cluster: a LocalCluster of two worker processes gives --parallel 2's leaderboard, and a
worker killed mid-cell leaves that cell failed and listed while the others complete; `dask scheduler` and `dask worker`
started from the command line in working directories of their own run a grid and a walk, and a worker that cannot
see the data fails its cells with an error naming its host and the path."""

import contextlib, json, os, shutil, signal, socket, subprocess, sys, time
from pathlib import Path
import pandas as pd, psutil, pytest, yaml
from distributed import Client, LocalCluster
from conftest import free_port, readme_command
from ensemble_research.training.experiment import ExperimentConfig, run_experiment


@pytest.fixture(scope='module')
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host='127.0.0.1', dashboard_address=None,
                      silence_logs=40) as c:
        yield c


def _grid(data, runs, **kw):
    return ExperimentConfig.from_dict(
        {'name': 'g', 'models': ['lightgbm', 'xgboost'], 'horizons': [5], 'seeds': [1, 2], 'data': str(data),
         'runs_dir': str(runs), 'quick': True}
        | kw)


def test_dask_grid_matches_parallel_two(data, tmp_path, cluster):
    d_dir, d_lb, d_failed = run_experiment(_grid(data, tmp_path / 'dask'), scheduler=cluster.scheduler_address)
    t_dir, t_lb, t_failed = run_experiment(_grid(data, tmp_path / 'threads'), parallel=2)
    assert d_failed == t_failed == []
    assert len(d_lb) == len(t_lb) and (d_lb['n_cells'] > 0).all()
    pd.testing.assert_frame_equal(d_lb.reset_index(drop=True), t_lb.reset_index(drop=True), check_exact=True)
    ran = {json.loads(p.read_text())['pid'] for p in d_dir.glob('*/status.json')}
    assert len(ran) == 4 and os.getpid() not in ran  # each cell ran in its own kernel on a worker
    assert json.loads((d_dir / 'experiment.json').read_text())['scheduler'] == cluster.scheduler_address
    assert not list(d_dir.glob('.*.attempt'))


def _kill_worker_running(client, kernel_pid: int) -> int:
    "SIGKILL the worker process whose descendants include the kernel `kernel_pid`, with all its descendants."
    for pid in client.run(os.getpid).values():
        w = psutil.Process(pid)
        tree = w.children(recursive=True)
        if kernel_pid in {p.pid for p in tree}:
            for p in [w, *tree]:
                p.send_signal(signal.SIGKILL)
            return pid
    raise AssertionError(f'no worker runs kernel {kernel_pid}')


def test_a_worker_dying_mid_cell_fails_that_cell_only(data, tmp_path, cluster):
    cfg = _grid(data, tmp_path / 'runs', models=['gru', 'lightgbm', 'xgboost'], seeds=[42],
                model_config={'gru': {'max_epochs': 5000, 'early_stopping': False}})  # long enough to be killed
    (tmp_path / 'g.yaml').write_text(yaml.safe_dump(cfg.to_dict()))
    p = subprocess.Popen([sys.executable, '-c', 'from ensemble_research.training.experiment import main; main()',
                          str(tmp_path / 'g.yaml'), '--scheduler', cluster.scheduler_address], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    t0, status = time.time(), None
    while status is None:  # the GRU cell's run has started training in a worker's kernel
        assert p.poll() is None and time.time() - t0 < 300, p.communicate()
        for f in (tmp_path / 'runs').glob('g_*/gru_h5_*/status.json'):
            st = json.loads(f.read_text())
            status = st if st.get('status') == 'running' and st.get('mlflow_run_id') else None
        time.sleep(0.5)
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        _kill_worker_running(client, status['pid'])
    out, err = p.communicate(timeout=600)
    assert p.returncode == 1, err
    assert '1 cell(s) failed' in err and 'gru_h5: ' in err and 'its worker died' in err, err
    assert 'boosting:lightgbm' in out and 'boosting:xgboost' in out  # the leaderboard of the cells that completed
    exp_dir = next((tmp_path / 'runs').glob('g_*'))
    results = {r['stem']: r for r in json.loads((exp_dir / 'results.json').read_text())}
    assert {k: r['status'] for k, r in results.items()} == {'gru_h5': 'failed', 'lightgbm_h5': 'complete',
                                                            'xgboost_h5': 'complete'}
    gru = json.loads(next(exp_dir.glob('gru_h5_*/status.json')).read_text())
    assert gru['status'] == 'failed' and 'died' in gru['error']  # reaped: never left 'running'


def test_walk_forward_folds_on_the_cluster_give_the_same_record(tmp_path, cluster):
    from ensemble_research.data.synthetic import chronological_split, planted_panel, write_splits
    from ensemble_research.training.walkforward import WalkForward

    panel = planted_panel(n_symbols=3, n_bars=600, n_features=4, horizons=(5,), delta=1.0, seed=2)
    data = write_splits(chronological_split(panel), tmp_path / 'data')  # no scaler.json: blocks start at val
    conf = {'model': 'lightgbm', 'horizon': 5, 'data': str(data), 'runs_dir': str(tmp_path / 'runs'),
            'model_config': {'n_estimators': 40, 'n_jobs': 1}}
    walk = {'refit_every': 30, 'min_train_bars': 100}
    here, there = WalkForward(conf, walk), WalkForward(conf, walk)
    here.run_full_pipeline()
    rd = there.run_full_pipeline(scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(here.predictions['oos'], there.predictions['oos'])
    assert there.folds[0]['block_start'] >= pd.Timestamp(there.splits.val['datetime'].min()).to_datetime64()
    assert 'the blocks start at the first val row' in json.loads((rd / 'metrics' / 'metrics.json').read_text())[
        'walk_forward']['scaling']


# Dask as it runs across hosts: `dask scheduler` and `dask worker` started from the command line, each in a
# working directory of its own (as on separate hosts), all on loopback: the README's "Scaling out" lines.
BIN = Path(sys.executable).parent


def _can_hide() -> bool:
    "Whether this machine lets a process mount over a directory in a mount namespace of its own (root, unshare)."
    return subprocess.run(['unshare', '-m', 'true'], capture_output=True).returncode == 0 if shutil.which('unshare') \
        else False


@contextlib.contextmanager
def cli_cluster(tmp_path, workers: int = 2, hide: Path | None = None):
    "A scheduler and `workers` worker processes from the dask CLI; `hide`: a directory the workers cannot see."
    port, procs = free_port(), []
    addr = f'tcp://127.0.0.1:{port}'
    try:
        sched = readme_command('dask scheduler', {'8786': str(port)})  # the README's lines, on loopback
        procs.append(subprocess.Popen([str(BIN / 'dask'), *sched[1:], '--host', '127.0.0.1', '--no-dashboard'],
                                      cwd=_mkdir(tmp_path / 'scheduler'), start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for i in range(workers):
            cmd = [str(BIN / 'dask'), *readme_command('dask worker', {'SCHEDHOST:8786': f'127.0.0.1:{port}'})[1:],
                   '--no-dashboard', '--host', '127.0.0.1', '--name', f'host{i}']
            if hide is not None:  # as on a host whose file system lacks that directory: an empty tmpfs over it
                cmd = ['unshare', '-m', 'sh', '-c', f'mount -t tmpfs none {hide} && exec "$@"', 'sh', *cmd]
            procs.append(subprocess.Popen(cmd, cwd=_mkdir(tmp_path / f'host{i}'), start_new_session=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(addr, timeout=60, set_as_default=False) as c:
            c.wait_for_workers(workers, timeout=120)
        yield addr
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=60)


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def test_cli_scheduler_and_workers_run_a_grid_and_a_walk(data, tmp_path):
    from ensemble_research.data.synthetic import chronological_split, planted_panel, write_splits

    with cli_cluster(tmp_path) as addr:
        (tmp_path / 'g.yaml').write_text(yaml.safe_dump(_grid(data, tmp_path / 'runs').to_dict()))
        out = subprocess.run([str(BIN / 'er_experiment'), str(tmp_path / 'g.yaml'), '--scheduler', addr],
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        exp_dir = next((tmp_path / 'runs').glob('g_*'))
        results = json.loads((exp_dir / 'results.json').read_text())
        assert [r['status'] for r in results] == ['complete'] * 4, results
        astray = [p for h in ('host0', 'host1') for p in (tmp_path / h).iterdir() if not p.name.startswith('dask')]
        assert not astray, astray  # every path a cell uses was resolved where er_experiment runs
        panel = planted_panel(n_symbols=3, n_bars=600, n_features=4, horizons=(5,), delta=1.0, seed=2)
        walk_data = write_splits(chronological_split(panel), tmp_path / 'walk_data')
        out = subprocess.run([str(BIN / 'er_train'), '--model', 'lightgbm', '--horizon', '5', '--data', str(walk_data),
                              '--runs-dir', str(tmp_path / 'walks'), '--walk-forward', '--scheduler', addr, '--set',
                              'n_estimators=30', '--set', 'n_jobs=1', '--set', 'walk_forward.refit_every=30', '--set',
                              'walk_forward.min_train_bars=100'], capture_output=True, text=True, timeout=900)
        assert out.returncode == 0 and 'walk-forward: ' in out.stdout, out.stderr[-3000:]
        folds = pd.read_parquet(next((tmp_path / 'walks').glob('lightgbm_h5_wf_*')) / 'metrics' / 'folds.parquet')
        assert (folds['status'] == 'complete').all() and len(folds) > 2, folds


@pytest.mark.skipif(not _can_hide(), reason='hiding a directory from a worker needs unshare -m (root)')
def test_a_worker_that_cannot_see_the_data_names_its_host_and_the_path(data, tmp_path):
    import shutil as sh

    mine = sh.copytree(data, tmp_path / 'shared' / 'data')  # visible here, hidden from the workers
    with cli_cluster(tmp_path, workers=1, hide=tmp_path / 'shared') as addr:
        cfg = _grid(mine, tmp_path / 'runs', seeds=[1])
        (tmp_path / 'g.yaml').write_text(yaml.safe_dump(cfg.to_dict()))
        out = subprocess.run([str(BIN / 'er_experiment'), str(tmp_path / 'g.yaml'), '--scheduler', addr],
                             capture_output=True, text=True, timeout=600)
    assert out.returncode == 1, (out.stdout[-2000:], out.stderr[-2000:])
    assert f'cannot see the data directory {mine}' in out.stderr and f'worker {socket.gethostname()}' in out.stderr, \
        out.stderr
    assert '2 cell(s) failed' in out.stderr, out.stderr
