"""The one contract every registered model passes unchanged (like scikit-learn's check_estimator), ensembles included.

Each model trains on the tiny fixture with its own `quick_config`; nothing here knows any family."""

import numpy as np, pandas as pd, pytest
from ensemble_research.core import ModelError, shipped_config
from ensemble_research.data.dataset import TimeSeriesDataset
from ensemble_research.models import ModelRegistry, load_model
from ensemble_research.models.base import CLASSES

MODELS = [m['full_name']
          for m in ModelRegistry.list_models(available_only=True)
          if not m['requires_gpu'] and not m['requires_weights']]


def _data(splits, model):
    L = model.config.sequence_length
    return [TimeSeriesDataset.from_splits(splits, s, model.horizon, L) for s in ('train', 'val')]


def _model(name, splits, **kw):
    klass = ModelRegistry.get(name)
    return ModelRegistry.create(name, {**klass.quick_config, **kw}, 5, splits.features,
                                available_horizons=splits.horizons)


def test_registry_has_the_builtin_boosting_family():
    assert {'boosting:xgboost', 'boosting:lightgbm', 'boosting:catboost'} <= set(MODELS)


@pytest.mark.parametrize('name', MODELS)
def test_shipped_config_is_valid(name):
    klass = ModelRegistry.get(name)
    klass.config_class.from_yaml(shipped_config('models', klass.name))


@pytest.mark.parametrize('name', MODELS)
def test_contract(name, splits, tmp_path):
    m = _model(name, splits)
    tr, va = _data(splits, m)
    with pytest.raises(ModelError, match='not fitted'):
        m.predict(va.X)
    hist = m.fit(tr.X, tr.y, va.X, va.y, tr.metadata, va.metadata, sample_weight=tr.weights)
    assert isinstance(hist, dict) and m.is_fitted and m.training_history is hist
    out = m.predict(va.X, va.metadata)
    assert out.probabilities.shape == (len(va), 3) and np.allclose(out.probabilities.sum(1), 1, atol=1e-6)
    assert set(np.unique(out.predictions)) <= set(CLASSES)
    assert (out.symbols == va.metadata['symbol'].to_numpy()).all() and (out.horizons == 5).all()
    # save, then load without knowing the class: identical predictions
    again = load_model(m.save(tmp_path / 'model'))
    assert type(again) is type(m) and np.array_equal(again.predict_proba(va.X), out.probabilities)
    # the same seed gives the same model
    m2 = _model(name, splits)
    m2.fit(tr.X, tr.y, va.X, va.y, tr.metadata, va.metadata, sample_weight=tr.weights)
    assert np.array_equal(m2.predict_proba(va.X), out.probabilities)


@pytest.mark.parametrize('name', MODELS)
def test_wrong_feature_order_errors(name, splits):
    m = _model(name, splits)
    tr, va = _data(splits, m)
    m.fit(tr.X, tr.y, va.X, va.y, tr.metadata, va.metadata)
    with pytest.raises(ModelError, match='feature columns differ'):
        m.predict(va.X, feature_columns=splits.features[::-1])
    if m.config.sequence_length == 1:
        with pytest.raises(ModelError, match='feature columns differ'):
            m.predict(pd.DataFrame(va.X, columns=splits.features)[splits.features[::-1]])


@pytest.mark.parametrize('name', MODELS)
def test_single_class_train_errors(name, splits):
    m = _model(name, splits)
    tr, va = _data(splits, m)
    with pytest.raises(ModelError, match='single class'):
        m.fit(tr.X, np.ones_like(tr.y), va.X, va.y)
