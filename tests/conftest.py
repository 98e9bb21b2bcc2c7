"""Shared pytest setup: the `slow` marker (run with --runslow, as `make test-slow` does), the tiny fixture written once
per session (`data`, and its loaded splits `splits`), and MLflow kept off any tracking URI set in the environment."""

import contextlib, os, shutil, signal, socket, subprocess, tempfile, time, urllib.error, urllib.request
from pathlib import Path
import pytest
from ensemble_research.data.phase1 import load_splits
from ensemble_research.data.synthetic import tiny_fixture


def pytest_addoption(parser):
    parser.addoption('--runslow', action='store_true', default=False, help='also run tests marked slow')


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes more than a few seconds; runs with --runslow')
    if os.environ.get('PYTEST_XDIST_WORKER'):  # `-n 2` on 2 cores: one math thread per worker, never four
        for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
            os.environ[k] = str(max(1, (os.cpu_count() or 2) // int(os.environ['PYTEST_XDIST_WORKER_COUNT'])))
        import torch
        torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))


# the files that take longest (seconds of work, `make pytest` with --durations on 2 cores), handed to the xdist
# workers first (`--dist loadfile --no-loadscope-reorder`): a long file started last leaves the other worker idle
LONGEST_FIRST = ('test_tracking_server', 'test_dask', 'test_reliability', 'test_walkforward', 'test_trainer',
                 'test_experiment', 'test_tuning', 'test_docs', 'test_timeseries', 'test_seed_quickstart', 'test_cli',
                 'test_ensembles', 'test_serve')


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: a file's own order is kept
    if config.getoption('--runslow'):
        return
    skip = pytest.mark.skip(reason='slow: run with --runslow (make test-slow)')
    for item in items:
        if 'slow' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope='session')
def data(tmp_path_factory):
    "The tiny planted-signal Phase-1 fixture's directory (3 symbols, horizons 5 and 20, with weights)."
    return tiny_fixture(tmp_path_factory.mktemp('tiny'))


@pytest.fixture(scope='session')
def splits(data):
    "The tiny fixture, loaded and validated."
    return load_splits(data)


@pytest.fixture(autouse=True)
def _no_env_uri(monkeypatch):
    "Runs go to each test's own temporary store, never to a tracking server named in the environment."
    monkeypatch.delenv('MLFLOW_TRACKING_URI', raising=False)


@contextlib.contextmanager
def serving(cmd: list, url: str, timeout: float = 120, **popen):
    "Start a server process (its own process group), wait until `url` answers, yield it; stop the group after."
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, **popen)
    try:
        t = time.time()
        while True:
            assert p.poll() is None, p.stderr.read().decode()[-3000:]
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except urllib.error.HTTPError:  # it answers, if only to refuse: it is up
                break
            except OSError:
                assert time.time() - t < timeout, f'{cmd[0]} did not answer at {url} within {timeout} s'
                time.sleep(0.5)
        yield p
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)


def free_port() -> int:
    "A TCP port on loopback that nothing listens on now."
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


PG = max(Path('/usr/lib/postgresql').glob('*/bin'), default=Path('/usr/lib/postgresql/15/bin'),
         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)  # Debian's newest


@pytest.fixture(scope='session')
def pg():
    "A throwaway PostgreSQL server on loopback (run as the postgres user: it refuses root); yields db(name) -> its URL."
    if not (PG / 'initdb').is_file():
        pytest.skip(f'no PostgreSQL server binaries at {PG} (Debian: apt install postgresql)')
    if os.geteuid() != 0 or shutil.which('runuser') is None:
        pytest.skip('starting PostgreSQL here needs root and runuser, to run the server as the postgres user')
    d = Path(tempfile.mkdtemp(prefix='er_pg_'))
    shutil.chown(d, 'postgres')
    as_pg, port = ['runuser', '-u', 'postgres', '--'], free_port()
    subprocess.run(as_pg + [str(PG / 'initdb'), '-D', str(d / 'data'), '-A', 'trust', '-U', 'er'], check=True,
                   capture_output=True)
    subprocess.run(as_pg + [str(PG / 'pg_ctl'), '-D', str(d / 'data'), '-l', str(d / 'log'), '-w', '-o',
                            f'-k {d} -h 127.0.0.1 -p {port}', 'start'], check=True, capture_output=True)

    def db(name: str) -> str:
        subprocess.run(as_pg + [str(PG / 'createdb'), '-h', '127.0.0.1', '-p', str(port), '-U', 'er', name],
                       check=True, capture_output=True)
        return f'postgresql+psycopg://er@127.0.0.1:{port}/{name}'
    try:
        yield db
    finally:
        subprocess.run(as_pg + [str(PG / 'pg_ctl'), '-D', str(d / 'data'), '-m', 'fast', 'stop'], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def readme_command(start: str, subs: dict) -> list[str]:
    "The README's command line that begins with `start` (continuation lines joined, comment dropped), with `subs`."
    import shlex
    text = (Path(__file__).resolve().parents[1] / 'README.md').read_text().replace('\\\n', ' ')
    line = next(l for l in text.splitlines() if l.strip().startswith(start)).split('  #')[0]
    for k, v in subs.items():
        assert k in line, (k, line)  # the recipe still says what the test substitutes
        line = line.replace(k, v)
    return shlex.split(line)
