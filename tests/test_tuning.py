"""Tuning across processes: every search space builds its model, studies complete with pruning, two workers share a
storage, a killed worker's trial is failed by its heartbeat and retried, test data is never read, PostgreSQL storage,
and optuna-dashboard reads a study back over HTTP."""

import json, os, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import mlflow, optuna, pytest
from ensemble_research.data.phase1 import split_file
from ensemble_research.data.synthetic import tiny_fixture
from ensemble_research.models import ModelRegistry
from ensemble_research.training.records import mlflow_tracking, tracking_uri
from ensemble_research.tuning.tuner import TuneConfig, open_study, search_space, suggest, summary, tune

MODELS = [m['full_name'] for m in ModelRegistry.list_models(available_only=True)]
FAST = {'lightgbm': {'n_estimators': 40, 'n_jobs': 1},
        'lstm': {'max_epochs': 4, 'hidden_size': 8, 'sequence_length': 4, 'device': 'cpu'}}
BIN = Path(sys.executable).parent


def _cfg(tmp_path, model='lightgbm', **kw):
    return TuneConfig.from_dict({'model': model, 'horizon': 5, 'trials': 3, 'data': str(tiny_fixture(tmp_path / 'd')),
                                 'runs_dir': str(tmp_path / 'runs'), 'model_config': FAST[model]}
                                | kw)


def _port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('name', MODELS)
def test_every_search_space_samples_into_a_valid_model(name):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        params = suggest(study.ask(), name)
        assert set(params) == set(search_space(name))
        ModelRegistry.create(name, params, 5, ['ret_1', 'f1', 'f2'])  # every key real, every value in range


@pytest.mark.parametrize('model,trials', [('lightgbm', 4), ('lstm', 3)])
def test_study_completes_and_pruned_trials_are_nested_mlflow_runs(tmp_path, model, trials):
    cfg = _cfg(tmp_path, model, trials=trials)
    if model == 'lightgbm':  # three good points, then one that learns far slower: the median pruner must stop it
        study = open_study(cfg)
        for lr in (0.3, 0.25, 0.2, 0.003):
            study.enqueue_trial(
                {'learning_rate': lr, 'num_leaves': 15, 'min_child_samples': 10, 'subsample': 0.9, 'colsample': 0.9,
                 'reg_lambda': 0.1})
    s = summary(tune(cfg, progress=False))
    assert s['complete'] + s['pruned'] == trials and s['fail'] == 0
    assert s['pruned'] == (1 if model == 'lightgbm' else 0)
    with mlflow_tracking(tracking_uri(cfg.runs_dir)):
        runs = mlflow.search_runs(experiment_names=['tuning'])
    parent = runs[runs['tags.mlflow.parentRunId'].isna()]
    kids = runs[runs['tags.mlflow.parentRunId'].notna()]
    assert len(parent) == 1 and len(kids) == trials, (len(parent), len(kids), trials)
    assert (kids['tags.mlflow.parentRunId'] == parent['run_id'].iloc[0]).all()
    assert (kids['status'] == 'KILLED').sum() == s['pruned'] and parent['status'].iloc[0] == 'FINISHED'
    assert parent['metrics.complete'].iloc[0] == s['complete']  # the summary's numbers on the study's run


def test_tuning_never_reads_the_test_split(tmp_path):
    cfg = _cfg(tmp_path, trials=2)
    split_file(cfg.data, 'test').write_text('not parquet: reading it would fail the study')
    assert summary(tune(cfg, progress=False))['complete'] >= 1


def _run_cli(cfg, *extra):
    args = [str(BIN / 'er_tune'), '--model', cfg.model, '--horizon', '5', '--trials', str(cfg.trials), '--data',
            cfg.data, '--runs-dir', cfg.runs_dir, '--storage', cfg.storage_url, '--no-mlflow', *extra]
    args += [f'--set={k}={v}' for k, v in cfg.model_config.items()]
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


def _distinct_finished(cfg):
    st = optuna.load_study(study_name=cfg.study_name, storage=cfg.storage_url)
    done = [t for t in st.trials if t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL]
    assert len({t.number for t in done}) == len(done)
    return len(done)


def test_two_worker_processes_share_one_sqlite_study(tmp_path):
    cfg = _cfg(tmp_path, trials=6)
    r = _run_cli(cfg, '--workers', '2')
    assert r.returncode == 0, r.stderr
    assert _distinct_finished(cfg) == 6 and 'study lightgbm_h5: 6 trials' in r.stdout


def test_a_killed_worker_is_failed_by_its_heartbeat_and_the_study_resumes(tmp_path):
    slow = {
        'max_epochs': 400, 'patience': 400, 'hidden_size': 8, 'sequence_length': 4, 'batch_size': 8, 'device': 'cpu'}
    cfg = _cfg(tmp_path, 'lstm', trials=2, model_config=slow, heartbeat_interval=1, grace_period=2, mlflow=False)
    open_study(cfg)  # created here, so that this process can follow it while the worker runs
    code = f"from ensemble_research.tuning.tuner import tune; tune({cfg.to_dict()!r}, progress=False)"
    p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until a trial is training (it has reported an epoch)
            time.sleep(0.5)
            trials = optuna.load_study(study_name=cfg.study_name, storage=cfg.storage_url).trials
            if any(t.state == optuna.trial.TrialState.RUNNING and t.intermediate_values for t in trials):
                break
        else:
            pytest.fail('no trial started training within 120 s')
    finally:
        os.kill(p.pid, signal.SIGKILL)  # mid-trial, as a crash would; never left running past the test
        p.wait()
    time.sleep(cfg.grace_period + 1)
    resumed = TuneConfig.from_dict(cfg.to_dict() | {'model_config': FAST['lstm']})
    study = tune(resumed, progress=False)
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.FAIL in states and optuna.trial.TrialState.RUNNING not in states
    assert _distinct_finished(cfg) == 2
    failed = next(t for t in study.trials if t.state == optuna.trial.TrialState.FAIL)
    assert any(t.system_attrs.get('failed_trial') == failed.number for t in study.trials)  # it was retried


@pytest.fixture(scope='module')
def postgres(pg):
    "The study's database on the session's PostgreSQL server (conftest.pg)."
    return pg('optuna')


def test_two_workers_on_postgresql(tmp_path, postgres):
    cfg = _cfg(tmp_path, trials=4, storage=postgres)
    r = _run_cli(cfg, '--workers', '2')
    assert r.returncode == 0, r.stderr
    assert _distinct_finished(cfg) == 4


def test_optuna_dashboard_reads_the_study(tmp_path):
    cfg = _cfg(tmp_path, trials=2, mlflow=False)
    tune(cfg, progress=False)
    port = _port()
    p = subprocess.Popen([str(BIN / 'optuna-dashboard'), cfg.storage_url, '--host', '127.0.0.1', '--port', str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, body = time.time() + 60, None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f'http://127.0.0.1:{port}/api/studies', timeout=5) as r:
                    body = json.loads(r.read())
            except OSError:
                time.sleep(0.5)
        assert body is not None, 'optuna-dashboard did not answer within 60 s'
        study = next(s for s in body['study_summaries'] if s['study_name'] == cfg.study_name)
        assert study['directions'] == ['minimize']
    finally:
        p.terminate()
        p.wait(10)


def test_the_deflated_sharpe_counts_every_trial_on_the_data(tmp_path):
    "A study with a pruned trial, then a two-horizon grid on the same data: both deflate for N = all six tries."
    from ensemble_research.training.experiment import _write_leaderboard, leaderboard
    from ensemble_research.training.records import read_trials
    from ensemble_research.training.trainer import Trainer
    cfg = _cfg(tmp_path, trials=4, data=str(tiny_fixture(tmp_path / 'long', n_bars=300)))  # h20 labels in test
    study = open_study(cfg)
    for lr in (0.3, 0.25, 0.2, 0.003):  # the last learns far slower: the median pruner stops it
        study.enqueue_trial({'learning_rate': lr, 'num_leaves': 15, 'min_child_samples': 10, 'subsample': 0.9,
                             'colsample': 0.9, 'reg_lambda': 0.1})
    s = summary(tune(cfg, progress=False), cfg.ledger)
    assert (s['pruned'], s['dsr_trials']) == (1, 4), s  # the pruned trial is counted
    results = []
    for h in (5, 20):  # the grid's two cells, as er_experiment runs them, into the same runs directory
        t = Trainer({'model': 'lightgbm', 'horizon': h, 'data': cfg.data, 'runs_dir': cfg.runs_dir,
                     'model_config': FAST['lightgbm']})
        results.append({'model': 'boosting:lightgbm', 'horizon': h, 'seed': 42, 'status': 'complete',
                        'run_dir': str(t.run_full_pipeline())})
    lb = leaderboard(results, 'val_macro_f1', cfg.ledger)
    tested = lb[lb['dsr_trials'].notna()]
    assert len(tested) >= 1 and set(tested['dsr_trials']) == {6}, tested[['horizon', 'dsr_trials']]
    assert set(tested['dsr_trials_from']) == {'ledger'}
    assert summary(study, cfg.ledger)['dsr_trials'] == 6  # the study, asked again, counts the grid too
    md = _write_leaderboard(lb, tmp_path, 'val_macro_f1')
    assert 'deflated for N = 6 trials' in md, md
    assert sorted(read_trials(cfg.ledger)['state']) == ['complete'] * 5 + ['pruned']
