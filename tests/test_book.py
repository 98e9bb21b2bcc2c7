"The trading book on real daily bars: always long is the equal-weight marked-to-market portfolio, no sqrt(H) drift."

import numpy as np, pytest
from ensemble_research.data.phase1 import load_splits
from ensemble_research.data.sample import build_sample
from ensemble_research.data.dataset import TimeSeriesDataset
from ensemble_research.training.evaluator import EvalConfig, book, evaluate
from ensemble_research.training.evaluator import split_bars


@pytest.fixture(scope='module')
def sample(tmp_path_factory):
    d = tmp_path_factory.mktemp('sample')
    build_sample(d, symbols=60)
    return load_splits(d)


@pytest.mark.parametrize('split,H', [('val', 5), ('test', 5), ('val', 20)])
def test_always_long_is_the_equal_weight_book_once_ramped_in(sample, split, H):
    f = sample[split]
    counts = f.groupby('symbol')[f'label_h{H}'].agg(['size', 'count'])
    common = counts[(counts == counts.mode().iloc[0]).all(axis=1)].index  # symbols with the panel's usual bars
    f = f[f['symbol'].isin(common)].reset_index(drop=True)
    ds, bars = TimeSeriesDataset(f, sample.features, H), split_bars(f)
    r, method, ppy = book(np.ones(len(ds), int), ds.fwd_returns, ds.metadata['datetime'].to_numpy(),
                          ds.metadata['symbol'].to_numpy(), H, EvalConfig(cost_bps=0), bars)
    assert method == 'marked to market per bar' and ppy == 252.0 and len(common) >= 40
    # each symbol's first H entries ramp in (1/H, 2/H ...); from then to the last labeled bar, when no outcome is known
    # any more and no new trade opens, exposure is full and the book is the equal-weight long portfolio itself
    dts = np.sort(ds.metadata['datetime'].unique())
    full = r.loc[dts[H - 1] : dts[-1]]
    ew = bars.dropna(subset=['ret']).groupby('datetime')['ret'].mean().loc[full.index]
    assert len(full) >= 4
    np.testing.assert_allclose(full.to_numpy(), ew.to_numpy(), rtol=0, atol=1e-12)


def test_report_states_its_bars_and_interval(sample):
    ds = TimeSeriesDataset.from_splits(sample, 'test', 5)
    P = np.tile([0.0, 0.0, 1.0], (len(ds), 1))
    t = evaluate(ds.y, P, None, ds.fwd_returns, ds.metadata['datetime'].to_numpy(), ds.metadata['symbol'].to_numpy(), 5,
                 EvalConfig(), split_bars(sample['test']))['trading']
    assert t['n_bars'] < 60 and 'only' in t['note']  # a one-year sample leaves about 23 bars per split
    assert t['sharpe_ci_low'] < t['sharpe'] < t['sharpe_ci_high'] and 0 <= t['psr'] <= 1
