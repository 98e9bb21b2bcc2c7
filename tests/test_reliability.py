"""Reliability with real processes and signals: killed runs found and marked failed, a resumed run ending with the
weights of an uninterrupted one, four concurrent er_train runs, atomic artifacts under SIGKILL, exact reproduction,
and every bad input past the loader answered with one paragraph, exit code 2 and earlier runs untouched."""

import json, os, random, shutil, signal, subprocess, sys, time
from pathlib import Path
import mlflow, numpy as np, pandas as pd, pytest, yaml
from safetensors.numpy import load_file
from ensemble_research.data.synthetic import tiny_fixture
from ensemble_research.models.base import read_model_json
from ensemble_research.training.experiment import leaderboard, _write_leaderboard
from ensemble_research.training.records import mlflow_tracking

BIN = Path(sys.executable).parent
GRU = ['--model', 'gru', '--horizon', '5', '--set', 'max_epochs=6', '--set', 'early_stopping=false', '--set',
       'hidden_size=64', '--set', 'sequence_length=10', '--set', 'batch_size=16']


def cli(tool, *args, check=True, **kw):
    r = subprocess.run([str(BIN / tool), *map(str, args)], capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{tool} {args} exited {r.returncode}:\n{r.stderr[-3000:]}")
    return r


def status(rd):
    return json.loads((Path(rd) / 'status.json').read_text())


def wait_for(pred, timeout=120, what='condition'):
    t = time.time()
    while time.time() - t < timeout:
        if v := pred():
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_and_kill(data, runs, until):
    "Start er_train on the GRU config in the background, SIGKILL it once `until(run_dir)` holds; returns the run dir."
    p = subprocess.Popen([str(BIN / 'er_train'), *GRU, '--data', str(data), '--runs-dir', str(runs)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rd = wait_for(lambda: next(iter(Path(runs).glob('gru_h5_*')), None), what='the run directory')
    wait_for(lambda: (rd / 'status.json').is_file() and until(rd), what='the kill point')
    p.send_signal(signal.SIGKILL)
    p.wait()
    return rd


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    "The tiny fixture and one complete LightGBM run that every test below must leave untouched."
    d = tmp_path_factory.mktemp('rel')
    data, runs = tiny_fixture(d / 'data'), d / 'runs'
    cli('er_train', '--model', 'lightgbm', '--horizon', 5, '--data', data, '--runs-dir', runs, '--set',
        'n_estimators=20', '--set', 'n_jobs=1')
    done = next(runs.glob('lightgbm_h5_*'))
    snap = {p: p.stat().st_mtime_ns for p in done.rglob('*') if p.is_file()}
    yield data, runs, done
    assert status(done)['status'] == 'complete'
    assert {p: p.stat().st_mtime_ns for p in done.rglob('*') if p.is_file()} == snap  # earlier run untouched


def test_a_killed_run_is_found_and_marked_failed_here_and_in_mlflow(world, tmp_path):
    data, _, _ = world
    runs = tmp_path / 'runs'
    rd = start_and_kill(data, runs, lambda rd: 'mlflow_run_id' in status(rd))
    st = status(rd)
    assert st['status'] == 'running'  # what SIGKILL leaves behind
    out = cli('er_runs', 'list', '--runs-dir', runs)
    assert f'marked failed (its process died): {rd}' in out.stderr and '| failed' in out.stdout
    assert status(rd)['status'] == 'failed' and 'died before finishing' in status(rd)['error']
    with mlflow_tracking(st['tracking_uri']):
        assert mlflow.get_run(st['mlflow_run_id']).info.status == 'FAILED'


def test_a_killed_neural_run_resumes_to_the_weights_of_an_uninterrupted_one(world, tmp_path):
    data, _, _ = world
    cli('er_train', *GRU, '--data', data, '--runs-dir', tmp_path / 'whole')
    whole = next((tmp_path / 'whole').glob('gru_h5_*'))

    def after_epoch_2(rd):
        meta = rd / 'checkpoints' / 'training' / 'last' / 'meta.json'
        return meta.is_file() and json.loads(meta.read_text())['epoch'] >= 2

    rd = start_and_kill(data, tmp_path / 'cut', after_epoch_2)
    run_id = status(rd)['mlflow_run_id']
    out = cli('er_train', '--resume', rd)
    assert 'gru' in out.stdout and status(rd)['status'] == 'complete' and status(rd)['mlflow_run_id'] == run_id
    a, b = (load_file(str(d / 'checkpoints' / 'model' / 'model.safetensors')) for d in (whole, rd))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    bad = cli('er_train', '--resume', whole, check=False)
    assert bad.returncode == 2 and "'complete': only a failed run resumes" in bad.stderr


def test_four_concurrent_er_train_runs_all_land_on_a_fresh_store(world, tmp_path):
    data, _, _ = world
    runs = tmp_path / 'runs'
    args = ['--model', 'lightgbm', '--horizon', '5', '--data', str(data), '--runs-dir', str(runs), '--set', 'n_jobs=1',
            '--set', 'n_estimators=10']
    procs = [subprocess.Popen([str(BIN / 'er_train'), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate() for p in procs]
    for p, (o, e) in zip(procs, outs):
        assert p.returncode == 0, e[-2000:]
        assert 'database is locked' not in e and 'duplicate column' not in e
    dirs = sorted(runs.glob('lightgbm_h5_*'))
    assert len(dirs) == 4 and all(status(d)['status'] == 'complete' for d in dirs)
    with mlflow_tracking(f"sqlite:///{runs / 'mlflow.db'}"):
        found = mlflow.search_runs(experiment_names=['ensemble_research'])
    assert len(found) == 4 and set(found['status']) == {'FINISHED'}
    assert len(cli('er_runs', 'list', '--runs-dir', runs).stdout.strip().splitlines()) == 2 + 4  # header + 4 runs


WRITER = '''
import sys, numpy as np
from pathlib import Path
from safetensors.numpy import save_file
from ensemble_research.core import write_text_atomic
from ensemble_research.models.base import BaseModel

class Big(BaseModel):  # a model whose weights take a while to write
    def _fit(self, *a): return {}
    def _predict_proba(self, X): return np.full((len(X), 3), 1 / 3)
    def _save_weights(self, path):
        save_file({'w': np.full((4_000_000,), self.fill, np.float32)}, str(path / 'weights.safetensors'))
        return ['weights.safetensors']
    def _load_weights(self, path): pass

out = Path(sys.argv[1])
m = Big({'early_stopping': False}, 5, ['a'])
m.is_fitted = True
print('ready', flush=True)
for i in range(10_000):
    m.fill = float(i % 2)
    m.save(out / 'model', overwrite=True)
    write_text_atomic(out / 'metrics.json', '{"i": %d, "pad": "%s"}' % (i, 'x' * 100_000))
'''


def test_sigkill_never_leaves_a_truncated_artifact(tmp_path):
    (tmp_path / 'writer.py').write_text(WRITER)
    rng = random.Random(0)
    seen = set()
    for k in range(20):
        p = subprocess.Popen([sys.executable, str(tmp_path / 'writer.py'), str(tmp_path)], stdout=subprocess.PIPE)
        assert p.stdout.readline() == b'ready\n'  # imported: from here on it only saves and writes
        time.sleep(rng.uniform(0.0, 0.5))  # somewhere inside a save (about 30 ms each) or a metrics write
        p.send_signal(signal.SIGKILL)
        p.wait()
        model, old = tmp_path / 'model', list(tmp_path.glob('.model.old-*'))
        if model.exists():
            read_model_json(model)  # every file present with the SHA-256 model.json promised
            w = load_file(str(model / 'weights.safetensors'))['w']
            assert w.size == 4_000_000 and len(np.unique(w)) == 1
            seen.add('model')
        elif old:  # killed between the old directory stepping aside and the new one's rename: the old one is whole
            assert len(old) == 1 and read_model_json(old[0])
            shutil.move(old[0], model)
            seen.add('old')
        else:  # killed before the first save finished: there was no model, and there is none
            assert 'model' not in seen and 'old' not in seen
        if (tmp_path / 'metrics.json').exists():
            json.loads((tmp_path / 'metrics.json').read_text())  # complete JSON, never half a file
        for leftover in tmp_path.glob('.*.tmp*'):  # a killed writer's temporary: never read, removed here
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        for o in tmp_path.glob('.model.old-*'):
            shutil.rmtree(o)
    assert 'model' in seen


def test_er_reproduce_reproduces_a_run_exactly_and_refuses_changed_data(world, tmp_path):
    data, runs, done = world
    out = cli('er_reproduce', done, '--runs-dir', tmp_path)
    assert 'reproduced exactly' in out.stdout
    changed = tmp_path / 'data'
    shutil.copytree(data, changed)
    conf = yaml.safe_load((done / 'config.yaml').read_text())
    copy = tmp_path / 'copy'
    shutil.copytree(done, copy)
    conf['data']['dir'] = str(changed)
    (copy / 'config.yaml').write_text(yaml.safe_dump(conf))
    df = pd.read_parquet(changed / 'val_scaled.parquet')
    df.drop(columns=['noise_0']).to_parquet(changed / 'val_scaled.parquet', index=False)
    r = cli('er_reproduce', copy, '--runs-dir', tmp_path, check=False)
    assert r.returncode == 2 and "val_scaled.parquet: columns removed ['noise_0']" in r.stderr
    assert 'Traceback' not in r.stderr


def _bad(tool, *args, expect):
    r = cli(tool, *args, check=False)
    assert r.returncode == 2 and expect in r.stderr and 'Traceback' not in r.stderr, (r.returncode, r.stderr[-2000:])


def test_bad_saved_models(world, tmp_path):
    data, _, done = world
    run = tmp_path / 'run'
    shutil.copytree(done, run)
    weights = run / 'checkpoints' / 'model' / 'model.txt'
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # truncated
    _bad('er_runs', 'predict', run, '--data', data, '--out', tmp_path / 'p.parquet', expect='is corrupt: its SHA-256')
    shutil.copy(done / 'checkpoints' / 'model' / 'model.txt', weights)
    mj = run / 'checkpoints' / 'model' / 'model.json'
    mj.write_text(json.dumps(json.loads(mj.read_text()) | {'format_version': 99}))
    _bad('er_runs', 'predict', run, '--data', data, '--out', tmp_path / 'p.parquet', expect='has format version 99')
    other = tiny_fixture(tmp_path / 'other')
    for s in ('train', 'val', 'test'):  # the same features in another order
        f = other / f'{s}_scaled.parquet'
        df = pd.read_parquet(f)
        df[list(df.columns[::-1])].to_parquet(f, index=False)
    _bad('er_runs', 'predict', done, '--data', other, '--out', tmp_path / 'p.parquet', expect='first at position')
    for s in ('train', 'val', 'test'):  # other features
        f = other / f'{s}_scaled.parquet'
        pd.read_parquet(f).rename(columns={'noise_0': 'volume_z'}).to_parquet(f, index=False)
    _bad('er_runs', 'predict', done, '--data', other, '--out', tmp_path / 'p.parquet', expect='feature columns differ')
    assert not (tmp_path / 'p.parquet').exists()


def test_bad_yaml_configs(world, tmp_path):
    data, runs, _ = world
    cases = {'- a\n- b\n': 'must hold a mapping of keys', 'model: lightgbm\nhorizon: five\n': 'horizon',
             'modle: lightgbm\nhorizon: 5\n': "did you mean 'model'"}
    for i, (text, expect) in enumerate(cases.items()):
        (tmp_path / f'c{i}.yaml').write_text(text)
        _bad('er_train', '--config', tmp_path / f'c{i}.yaml', '--data', data, '--runs-dir', runs, expect=expect)


def test_a_runs_directory_without_write_permission(world, tmp_path):
    data, _, _ = world
    ro = Path('/tmp') / f'er-readonly-{os.getpid()}'
    ro.mkdir(mode=0o755)
    shutil.copytree(data, ro / 'data')
    (ro / 'runs').mkdir(mode=0o555)
    args = [str(BIN / 'er_train'), '--model', 'lightgbm', '--horizon', '5', '--data', str(ro / 'data'), '--runs-dir',
            str(ro / 'runs')]
    try:
        if os.geteuid() == 0:  # root writes anywhere: drop the capability that lets it ignore permissions
            caps = '-dac_override,-dac_read_search'
            args = ['setpriv', f'--bounding-set={caps}', f'--inh-caps={caps}', '--', *args]
        r = subprocess.run(args, capture_output=True, text=True, cwd=ro)
        assert r.returncode == 2 and 'Permission denied' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-2000:]
        assert str(ro / 'runs') in r.stderr and not any((ro / 'runs').iterdir())
    finally:
        shutil.rmtree(ro)


def test_a_full_disk_while_writing_artifacts(world, tmp_path):
    data, _, _ = world
    disk = tmp_path / 'disk'
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', str(disk)]).returncode:
        pytest.skip('mounting a small tmpfs needs root (CAP_SYS_ADMIN) here')
    try:
        runs = disk / 'runs'
        cli('er_train', '--model', 'lightgbm', '--horizon', 5, '--data', data, '--runs-dir', runs, '--set', 'n_jobs=1',
            '--set', 'n_estimators=10')
        first = next(runs.glob('lightgbm_h5_*'))
        free = shutil.disk_usage(disk).free
        (disk / 'filler').write_bytes(b'\0' * (free - 400_000))  # room for a run directory, not for its artifacts
        r = cli('er_train', '--model', 'xgboost', '--horizon', 5, '--data', data, '--runs-dir', runs, '--set',
                'n_jobs=1', check=False)
        assert r.returncode == 2 and 'No space left on device' in r.stderr and 'Traceback' not in r.stderr, r.stderr[
            -2000:]
        failed = next(runs.glob('xgboost_h5_*'))
        assert status(failed)['status'] == 'failed'
        assert status(first)['status'] == 'complete' and read_model_json(first / 'checkpoints' / 'model')
        assert not list(failed.rglob('.*.tmp*'))  # no half-written temporary left behind
    finally:
        subprocess.run(['umount', str(disk)])


def test_er_experiment_with_an_unknown_model_horizon_or_no_cells(world, tmp_path):
    data, runs, _ = world
    for i, (extra, expect) in enumerate(
        [({'models': ['lightgbn']}, "did you mean 'lightgbm'"), ({'horizons': [7]}, 'horizon 7'),
         ({'seeds': []}, 'the experiment has no cells')]):
        cfg = {'name': 'bad', 'models': ['lightgbm'], 'data': str(data), 'runs_dir': str(runs)} | extra
        (tmp_path / f'e{i}.yaml').write_text(yaml.safe_dump(cfg))
        _bad('er_experiment', tmp_path / f'e{i}.yaml', expect=expect)
    assert not list(runs.glob('bad_*'))


def test_the_leaderboard_says_when_a_cell_is_missing(world, tmp_path):
    _, _, done = world
    ok = {'model': 'boosting:lightgbm', 'horizon': 5, 'seed': 1, 'status': 'complete', 'run_dir': str(done)}
    lost = ok | {'seed': 2, 'status': 'failed', 'error': 'OperationalError: duplicate column name: step'}
    lb = leaderboard([ok, lost], 'val_macro_f1')
    row = lb[lb['model'] == 'boosting:lightgbm'].iloc[0]
    assert (row['n_runs'], row['n_cells']) == (1, 2) and 'seed 2: OperationalError' in row['missing']
    md = _write_leaderboard(lb, tmp_path, 'val_macro_f1')
    assert '**Missing cells**' in md and 'boosting:lightgbm h5: 1 of 2 ran' in md
