"""A real tracking server, as the README's "Scaling out" recipe starts it: `mlflow server` on PostgreSQL with
proxied artifacts, on loopback. A grid logs every run, metric, plot and model there (nothing to a local SQLite
store), one cell at a time and two at once. The server is SIGKILLed while a cell trains and restarted: that cell
fails with one paragraph naming the tracking URI, the others complete, and the failed run resumes against the
restarted server. The best run is promoted in the server's registry and a fresh process loads it by alias;
`er_runs list` and `er_reproduce` work against it."""

import contextlib, json, os, signal, subprocess, sys, time
from pathlib import Path
import mlflow, numpy as np, pandas as pd, yaml
from conftest import free_port, readme_command, serving
from ensemble_research.training.records import mlflow_tracking

BIN = Path(sys.executable).parent
# a client that waits out a restart (retries 1, 2, 4, 8 s) but gives up on a server that stays down
RETRIES = {'MLFLOW_HTTP_REQUEST_MAX_RETRIES': '4', 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR': '1',
           'MLFLOW_HTTP_REQUEST_BACKOFF_JITTER': '0', 'MLFLOW_HTTP_REQUEST_TIMEOUT': '20'}


def _server(db: str, artifacts: Path, port: int):
    cmd = readme_command('mlflow server', {'postgresql+psycopg://USER@DBHOST/mlflow': db,
                                           '/shared/mlartifacts': str(artifacts), '0.0.0.0': '127.0.0.1',
                                           '5000': str(port)})
    return serving([str(BIN / cmd[0]), *cmd[1:], '--workers', '1'], f'http://127.0.0.1:{port}/health', timeout=180)


def _run(args, env, **kw):
    return subprocess.run([str(BIN / args[0]), *map(str, args[1:])], capture_output=True, text=True, env=env, **kw)


def _status(rd: Path) -> dict:
    return json.loads((rd / 'status.json').read_text())


def test_a_grid_on_a_tracking_server_that_dies_and_comes_back(pg, data, tmp_path):
    db, port, artifacts = pg('mlflow'), free_port(), tmp_path / 'mlartifacts'
    uri = f'http://127.0.0.1:{port}'
    env = os.environ | RETRIES | {'MLFLOW_TRACKING_URI': uri}
    grid = {'name': 'srv', 'models': ['lightgbm', 'xgboost', 'gru', 'catboost'], 'horizons': [5], 'seeds': [1],
            'data': str(data), 'runs_dir': str(tmp_path / 'runs'), 'quick': True,
            'model_config': {'gru': {'max_epochs': 120, 'early_stopping': False}}}  # trains long enough to kill under
    (tmp_path / 'g.yaml').write_text(yaml.safe_dump(grid))
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(_server(db, artifacts, port))
        p = subprocess.Popen([str(BIN / 'er_experiment'), str(tmp_path / 'g.yaml'), '--parallel', '1'], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t0, gru = time.time(), None
        while gru is None:  # the GRU cell (third) is training, its MLflow run open on the server
            assert p.poll() is None and time.time() - t0 < 600, p.communicate()
            found = [d for d in (tmp_path / 'runs').glob('srv_*/gru_h5_*') if (d / 'status.json').is_file()]
            gru = found[0] if found and 'mlflow_run_id' in _status(found[0]) else None
            time.sleep(0.5)
        os.killpg(server.pid, signal.SIGKILL)  # the server and its workers, with no clean shutdown
        server.wait(timeout=30)
        t0 = time.time()
        while _status(gru)['status'] == 'running':  # it finishes training, finds no server, and fails
            assert time.time() - t0 < 600 and p.poll() is None, p.communicate()
            time.sleep(0.5)
        stack.enter_context(_server(db, artifacts, port))  # back on the same port and database
        out, err = p.communicate(timeout=900)
        assert p.returncode == 1, (out[-2000:], err[-3000:])
        st = _status(gru)
        assert st['status'] == 'failed' and f'the MLflow tracking server at {uri} did not answer' in st['error'], st
        assert 'gru_h5: ' in err and f'TrackingError: the MLflow tracking server at {uri} did not answer' in err, err
        exp_dir = next((tmp_path / 'runs').glob('srv_*'))
        results = {r['stem']: r['status'] for r in json.loads((exp_dir / 'results.json').read_text())}
        assert results == {'lightgbm_h5': 'complete', 'xgboost_h5': 'complete', 'gru_h5': 'failed',
                           'catboost_h5': 'complete'}, results  # catboost started after the restart
        assert not list(tmp_path.rglob('mlflow.db')), list(tmp_path.rglob('mlflow.db'))  # nothing went to SQLite

        stack.enter_context(mlflow_tracking(uri))  # this process reads the server too (restored after)
        runs = mlflow.search_runs(experiment_names=['srv'])
        done = runs[runs['status'] == 'FINISHED']
        assert sorted(done['tags.model']) == ['boosting:catboost', 'boosting:lightgbm', 'boosting:xgboost'], runs
        lgbm = next(exp_dir.glob('lightgbm_h5_*'))
        run_id = _status(lgbm)['mlflow_run_id']
        assert 'val_log_loss' in mlflow.get_run(run_id).data.metrics
        names = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, 'run_dir/plots')}
        assert 'run_dir/plots/equity_curve.png' in names, names
        assert any(artifacts.rglob('MLmodel')), 'no model under the artifact store'

        listed = _run(['er_runs', 'list', '--runs-dir', exp_dir], env)
        assert listed.returncode == 0 and '| failed' in listed.stdout and '| complete' in listed.stdout, listed

        resumed = _run(['er_train', '--resume', gru], env, timeout=900)  # the failed run, against the new server
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert _status(gru)['status'] == 'complete'
        assert mlflow.get_run(st['mlflow_run_id']).info.status == 'FINISHED'

        promoted = _run(['er_promote', lgbm], env)
        assert promoted.returncode == 0 and '@champion-h5' in promoted.stdout, promoted.stderr[-2000:]
        code = ("import sys, numpy as np; from ensemble_research.models import load_model; "
                "m = load_model('models:/ensemble_research@champion-h5'); "
                "np.save(sys.argv[1], m.predict_proba(np.load(sys.argv[2])))")
        saved = pd.read_parquet(lgbm / 'predictions' / 'test_predictions.parquet')
        np.save(tmp_path / 'x.npy', _test_windows(lgbm))
        fresh = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'p.npy'), str(tmp_path / 'x.npy')],
                               capture_output=True, text=True, env=env)
        assert fresh.returncode == 0, fresh.stderr[-3000:]
        np.testing.assert_allclose(np.load(tmp_path / 'p.npy'),
                                   saved[['prob_short', 'prob_neutral', 'prob_long']].to_numpy(), atol=1e-12)

        again = _run(['er_reproduce', lgbm], env, timeout=600)
        assert again.returncode == 0 and 'reproduced' in again.stdout, again.stderr[-2000:]
        assert len(mlflow.search_runs(experiment_names=['srv'])) == len(runs) + 1  # the reproduction, on the server

        two = grid | {'name': 'srv2', 'models': ['lightgbm', 'xgboost'], 'model_config': {}}  # two cells at once
        (tmp_path / 'g2.yaml').write_text(yaml.safe_dump(two))
        par = _run(['er_experiment', tmp_path / 'g2.yaml', '--parallel', '2'], env, timeout=900)
        assert par.returncode == 0, par.stderr[-3000:]
        both = mlflow.search_runs(experiment_names=['srv2'])
        assert list(both['status']) == ['FINISHED'] * 2 and not list(tmp_path.rglob('mlflow.db')), both


def _test_windows(run_dir: Path) -> np.ndarray:
    "The test inputs the run scored, rebuilt from its config: what a fresh process feeds the registered model."
    from ensemble_research.training.runs import saved_model_data

    conf = yaml.safe_load((run_dir / 'config.yaml').read_text())
    _, ds, _, _ = saved_model_data(run_dir, conf['data']['dir'], 'test')
    return np.asarray(ds.X, dtype=np.float32)
