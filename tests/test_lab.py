"""`make lab`: JupyterLab starts on loopback with a token, and its REST API lists the notebooks and a run's executed
experiment notebook (with outputs), as a researcher's browser would see them."""

import json, os, shutil, urllib.error, urllib.request
from pathlib import Path
import pytest
from conftest import free_port, serving
from ensemble_research.training.experiment import ExperimentConfig, run_experiment

REPO = Path(__file__).resolve().parent.parent


def _get(url, token):
    req = urllib.request.Request(url, headers={'Authorization': f'token {token}'})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture
def lab(data, tmp_path):
    "A JupyterLab from `make lab` over a scratch root holding a copy of nbs/ and one experiment's runs."
    root = tmp_path / 'root'
    shutil.copytree(REPO / 'nbs', root / 'nbs', ignore=shutil.ignore_patterns('_*', '.*'))
    cfg = {'name': 'lab', 'models': ['lightgbm'], 'horizons': [5], 'data': str(data), 'runs_dir': str(root / 'runs'),
           'quick': True}
    exp_dir, _, failed = run_experiment(ExperimentConfig.from_dict(cfg))
    assert failed == []
    port, token = free_port(), 'er-test-token'
    args = f'--ServerApp.port={port} --IdentityProvider.token={token}'
    args += ' --allow-root' if os.geteuid() == 0 else ''  # Jupyter refuses root without it
    cmd = ['make', '-C', str(REPO), '--no-print-directory', 'lab', f'LAB_ROOT={root}', f'LAB_ARGS={args}']
    base = f'http://127.0.0.1:{port}'
    with serving(cmd, f'{base}/api/status', env=os.environ | {'JUPYTER_RUNTIME_DIR': str(tmp_path / 'runtime')}):
        yield base, token, exp_dir.relative_to(root)


def test_jupyterlab_lists_the_notebooks_and_a_runs_executed_notebooks(lab):
    base, token, exp = lab
    with pytest.raises(urllib.error.HTTPError):  # the token is required
        urllib.request.urlopen(f'{base}/api/contents/nbs', timeout=10)
    names = {c['name'] for c in _get(f'{base}/api/contents/nbs', token)['content']}
    assert {'00_core.ipynb', '40_ensembles.models.ipynb', 'tutorials'} <= names
    runs = {c['name'] for c in _get(f'{base}/api/contents/{exp}', token)['content']}
    assert 'lightgbm_h5.ipynb' in runs and 'leaderboard.md' in runs
    nb = _get(f'{base}/api/contents/{exp}/lightgbm_h5.ipynb?content=1', token)
    assert nb['type'] == 'notebook' and any(c.get('outputs') for c in nb['content']['cells'])
