"Third-party models plug in through the `ensemble_research.models` entry point: a small plugin package is built here."

import sys
import numpy as np
from ensemble_research.models import ModelRegistry

PLUGIN = '''
import json, numpy as np
from ensemble_research.models.base import BaseModel
from ensemble_research.models.registry import ModelRegistry

@ModelRegistry.register('uniform', family='thirdparty', description='uniform probabilities')
class Uniform(BaseModel):
    def _fit(self, X, y, X_val, y_val, w, w_val): return {}
    def _predict_proba(self, X): return np.full((len(X), 3), 1 / 3)
    def _save_weights(self, path): (path / 'u.json').write_text('{}'); return ['u.json']
    def _load_weights(self, path): pass
'''


def _install_plugin(root, name, module_src, ep_value):
    (root / f'{name}.py').write_text(module_src)
    di = root / f'{name}-0.1.dist-info'
    di.mkdir()
    (di / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n')
    (di / 'entry_points.txt').write_text(f'[ensemble_research.models]\n{name} = {ep_value}\n')


def test_entry_point_plugin_registers(tmp_path, monkeypatch):
    _install_plugin(tmp_path, 'er_plugin_demo', PLUGIN, 'er_plugin_demo')
    _install_plugin(tmp_path, 'er_plugin_broken', 'raise ImportError("needs libfoo")', 'er_plugin_broken')
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        ModelRegistry.discover(refresh=True)
        rows = {r['full_name']: r for r in ModelRegistry.list_models()}
        assert rows['thirdparty:uniform']['available']
        m = ModelRegistry.create('uniform', {'early_stopping': False}, 5, ['a'])
        m.fit(np.zeros((3, 1)), [0, 1, -1])
        assert np.allclose(m.predict_proba(np.zeros((2, 1))), 1 / 3)
        broken = rows['plugin:er_plugin_broken']
        assert not broken['available'] and 'needs libfoo' in broken['reason']
    finally:
        for k in [k for k in ModelRegistry._models if k.startswith('thirdparty:')]:
            ModelRegistry._models.pop(k)
            ModelRegistry._meta.pop(k)
        ModelRegistry._broken.clear()
        sys.modules.pop('er_plugin_demo', None)


def test_builtin_families_are_discovered_on_import():
    import subprocess

    r = subprocess.run(
        [sys.executable, '-c',
         'import ensemble_research.models as m; print(sorted(x["full_name"] for x in m.ModelRegistry._meta.values()))'],
        capture_output=True, text=True)
    assert 'boosting:xgboost' in r.stdout and 'boosting:catboost' in r.stdout, r.stderr
