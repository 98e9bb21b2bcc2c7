"""A run's model served by `mlflow models serve` on loopback and queried over HTTP as a client would: rows in the
Phase-1 feature schema in, three probabilities per row out; a request with a wrong schema refused by the signature."""

import json, os, subprocess, sys, urllib.error, urllib.request
from pathlib import Path
import numpy as np, pandas as pd, pytest
from conftest import free_port, serving
from ensemble_research.models import load_model

BIN = Path(sys.executable).parent


def _post(url, payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def served(data, tmp_path):
    "A LightGBM run on the tiny fixture, its logged pyfunc served with the local environment manager."
    subprocess.run([str(BIN / 'er_train'), '--model', 'lightgbm', '--horizon', '5', '--data', str(data), '--runs-dir',
                    str(tmp_path / 'runs'), '--set', 'n_estimators=10', '--set', 'n_jobs=1'], check=True,
                   capture_output=True)
    run = next((tmp_path / 'runs').glob('lightgbm_h5_*'))
    st = json.loads((run / 'status.json').read_text())
    port = free_port()
    env = os.environ | {'MLFLOW_TRACKING_URI': st['tracking_uri'], 'PATH': f"{BIN}:{os.environ['PATH']}"}
    cmd = [str(BIN / 'mlflow'), 'models', 'serve', '-m', st['model_uri'], '--env-manager', 'local', '-h', '127.0.0.1',
           '-p', str(port)]
    with serving(cmd, f'http://127.0.0.1:{port}/ping', env=env):
        yield f'http://127.0.0.1:{port}/invocations', run


def test_a_served_model_answers_http_requests_in_the_feature_schema(served, data):
    url, run = served
    model = load_model(run / 'checkpoints' / 'model')
    rows = pd.read_parquet(data / 'test_scaled.parquet')[model.feature_columns].head(5)
    code, body = _post(url, {'dataframe_split': {'columns': list(rows.columns), 'data': rows.to_numpy().tolist()}})
    assert code == 200
    got = pd.DataFrame(body['predictions'])
    assert list(got.columns) == ['prob_short', 'prob_neutral', 'prob_long'] and len(got) == 5
    assert np.allclose(got.to_numpy(), model.predict_proba(rows))
    missing = rows.drop(columns=[model.feature_columns[0]])
    code, body = _post(
        url, {'dataframe_split': {'columns': list(missing.columns), 'data': missing.to_numpy().tolist()}})
    assert code == 400 and f"Model is missing inputs ['{model.feature_columns[0]}']" in body['message']
    assert 'stack_trace' not in body and 'Traceback' not in body['message']
