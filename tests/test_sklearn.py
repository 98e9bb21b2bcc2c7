"scikit-learn's own estimator checks on a model of each family that takes a flat (X, y): boosting, neural, time series."

import ensemble_research.models  # noqa: F401  (registers the families)
from sklearn.utils.estimator_checks import parametrize_with_checks
from ensemble_research.models.sklearn_api import as_sklearn, expected_failed_checks

ESTIMATORS = [
    as_sklearn('boosting:lightgbm', n_estimators=20, learning_rate=0.3, n_jobs=1), as_sklearn(
        'neural:gru', max_epochs=10, hidden_size=16, batch_size=32, learning_rate=0.01, device='cpu', n_threads=1)]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
