"Cross-cutting data tests: causal features (property test) and the `er_data sample` -> `er_data check` round trip."

import json, subprocess, sys
import numpy as np, pandas as pd, pytest
from ensemble_research.core import DataError
from hypothesis import given, settings, strategies as st, HealthCheck
from ensemble_research.data.sample import make_features


def _bars(n_symbols, n_bars, seed):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range('2021-01-01', periods=n_bars)
    rows = []
    for s in range(n_symbols):
        start = int(rng.integers(0, n_bars // 3))  # symbols start at different dates
        keep = np.sort(
            rng.choice(np.arange(start, n_bars), size=n_bars - start - int(rng.integers(0, 4)), replace=False))  # holes
        c = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, len(keep))))
        o = c * np.exp(rng.normal(0, 0.01, len(keep)))
        h = np.maximum(o, c) * (1 + rng.uniform(0, 0.02, len(keep)))
        l = np.minimum(o, c) * (1 - rng.uniform(0, 0.02, len(keep)))
        rows.append(pd.DataFrame({'datetime': days[keep], 'symbol': f'S{s}', 'open': o, 'high': h, 'low': l, 'close': c,
                                  'volume': rng.integers(1_000, 100_000, len(keep)).astype(float)}))
    return pd.concat(rows, ignore_index=True).sort_values(['symbol', 'datetime']).reset_index(drop=True)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_symbols=st.integers(1, 3), n_bars=st.integers(50, 90), seed=st.integers(0, 10_000), cut=st.floats(0.3, 0.9),
       factor=st.floats(0.5, 2.0))
def test_features_are_causal(n_symbols, n_bars, seed, cut, factor):
    "Changing every bar after date T (prices, volume) leaves every feature of every symbol at dates <= T unchanged."
    bars = _bars(n_symbols, n_bars, seed)
    t = bars['datetime'].sort_values().iloc[int(cut * (len(bars) - 1))]
    later = bars['datetime'] > t
    mod = bars.copy()
    mod.loc[later, ['open', 'high', 'low', 'close', 'volume']] *= factor
    mod.loc[later, 'close'] = mod.loc[later, 'close'] * (1 + 0.01 * np.sin(np.arange(later.sum())))
    mod.loc[later, 'high'] = mod.loc[later, ['open', 'high', 'close']].max(axis=1)
    mod.loc[later, 'low'] = mod.loc[later, ['open', 'low', 'close']].min(axis=1)
    a, b = make_features(bars), make_features(mod)
    pd.testing.assert_frame_equal(a[~later], b[~later], check_exact=True)


def test_features_are_symbol_isolated():
    "A symbol's own (not cross-sectional) features do not change when another symbol's bars change."
    bars = _bars(3, 80, 7)
    mod = bars.copy()
    other = mod['symbol'] == 'S1'
    mod.loc[other, ['open', 'high', 'low', 'close']] *= 1.9
    a, b = make_features(bars), make_features(mod)
    own = [c for c in a.columns if not c.startswith(('xs_', 'mkt_', 'beta_', 'resid_'))]
    pd.testing.assert_frame_equal(a.loc[~other, own], b.loc[~other, own], check_exact=True)


def test_sample_then_check_round_trip(tmp_path):
    out = tmp_path / 'splits'
    r = subprocess.run(
        [sys.executable, '-c', 'from ensemble_research.data.cli import main; main()', 'sample', '--out', str(out),
         '--symbols', '25', '--seed', '3'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / 'data_card.json').is_file() and (out / 'DATA_CARD.md').is_file() and (out / 'scaler.json').is_file()
    r = subprocess.run([sys.executable, '-c', 'from ensemble_research.data.cli import main; main()', 'check', str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'valid' in r.stdout and 'horizons: [5, 20]' in r.stdout and 'train->val' in r.stdout


def test_check_error_is_one_paragraph(tmp_path):
    r = subprocess.run(
        [sys.executable, '-c', 'from ensemble_research.data.cli import main; main()', 'check', str(tmp_path / 'none')],
        capture_output=True, text=True)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and 'does not exist' in r.stderr


def test_sample_is_deterministic_for_a_seed(tmp_path):
    from ensemble_research.data.sample import build_sample
    from ensemble_research.data.phase1 import split_file

    a, b = build_sample(tmp_path / 'a', symbols=12, seed=5), build_sample(tmp_path / 'b', symbols=12, seed=5)
    assert a['symbols'] == b['symbols']
    for s in ('train', 'val', 'test'):
        pd.testing.assert_frame_equal(pd.read_parquet(split_file(tmp_path / 'a', s)),
                                      pd.read_parquet(split_file(tmp_path / 'b', s)))


def _er_data(*args):
    return subprocess.run([sys.executable, '-c', 'from ensemble_research.data.cli import main; main()', *args],
                          capture_output=True, text=True)


def test_build_from_your_bars_then_check(tmp_path):
    "`er_data build --bars` on a parquet file with other column names and tz-aware times, then `er_data check`."
    from ensemble_research.data.sample import read_bars

    bars, _ = read_bars()
    mine = bars[bars['symbol'].isin(['AAPL', 'IBM', 'KO', 'XOM'])].rename(
        columns={'datetime': 'Date', 'close': 'Close'})
    mine['Date'] = mine['Date'].dt.tz_localize('America/New_York')
    mine.to_parquet(tmp_path / 'mine.parquet', index=False)
    out = tmp_path / 'splits'
    r = _er_data('build', '--bars', str(tmp_path / 'mine.parquet'), '--out', str(out), '--columns',
                 'datetime=Date,close=Close', '--calendar', 'XNYS')
    assert r.returncode == 0, r.stderr
    assert 'of 4 symbols' in r.stdout
    card = json.loads((out / 'data_card.json').read_text())
    assert card['source']['columns'] == {'datetime': 'Date', 'close': 'Close'} and card['calendar'] == 'XNYS'
    r = _er_data('check', str(out))
    assert r.returncode == 0, r.stderr
    assert 'valid' in r.stdout and 'counted in XNYS' in r.stdout
    # bad bars: one paragraph, exit 2, nothing written
    mine.iloc[[*range(20), 21, 20, *range(22, len(mine))]].to_parquet(tmp_path / 'unsorted.parquet', index=False)
    r = _er_data('build', '--bars', str(tmp_path / 'unsorted.parquet'), '--out', str(tmp_path / 'never'), '--columns',
                 'datetime=Date,close=Close')
    assert r.returncode == 2 and 'Traceback' not in r.stderr and 'sort the file' in r.stderr, r.stderr
    assert not (tmp_path / 'never').exists() and sorted(p.name for p in tmp_path.iterdir()) == ['mine.parquet',
                                                                                                'splits',
                                                                                                'unsorted.parquet']


def _five_minute_panel(tmp_path, gap):
    "3 symbols x 500 continuous 5-minute bars (about 42 hours), `gap` bars purged between consecutive splits."
    from ensemble_research.data.synthetic import chronological_split, planted_panel, write_splits
    p = planted_panel(n_symbols=3, n_bars=500, horizons=(5, 20), seed=0)
    p['datetime'] = pd.date_range('2021-01-04', periods=500, freq='5min')[p.groupby('symbol').cumcount()]
    return write_splits(chronological_split(p, gap=gap), tmp_path / f'gap{gap}')


def test_a_short_intraday_history_is_counted_in_its_own_bar_spacing(tmp_path):
    from ensemble_research.data.phase1 import load_splits
    sp = load_splits(_five_minute_panel(tmp_path, 22))  # less than a week: no session template to learn
    assert sp.summary['gaps_bars'] == {'train->val': 22, 'val->test': 22}, sp.summary['gaps_bars']
    assert sp.summary['gaps_counted_in'].startswith("the data's own bar spacing (0 days 00:05:00)")
    with pytest.raises(DataError, match=r"3 bar\(s\) between .* \(counted in the data's own bar spacing"):
        load_splits(_five_minute_panel(tmp_path, 3))
