"""Shared pytest setup: the `slow` marker (run with --runslow, as `make test-slow` does), the tiny fixture written once
per session (`data`, and its loaded splits `splits`), and MLflow kept off any tracking URI set in the environment."""

import contextlib, os, signal, socket, subprocess, time, urllib.error, urllib.request
import pytest
from ensemble_research.data.phase1 import load_splits
from ensemble_research.data.synthetic import tiny_fixture


def pytest_addoption(parser):
    parser.addoption('--runslow', action='store_true', default=False, help='also run tests marked slow')


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes more than a few seconds; runs with --runslow')


def pytest_collection_modifyitems(config, items):
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
