"Property tests of TimeSeriesDataset windowing (hypothesis) and the leakage canary."

import numpy as np, pandas as pd
from hypothesis import given, settings, strategies as st
from ensemble_research.data.dataset import TimeSeriesDataset


@st.composite
def panels(draw):
    n_sym = draw(st.integers(1, 4))
    lengths = [draw(st.integers(0, 25)) for _ in range(n_sym)]
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    rows = []
    for s, n in enumerate(lengths):
        lab = rng.integers(-1, 2, n).astype(float)
        lab[rng.random(n) < 0.2] = np.nan
        rows.append(pd.DataFrame({'datetime': pd.bdate_range('2020-01-01', periods=n), 'symbol': f'S{s}',
                                  'row': np.arange(n, dtype=float), 'x': rng.normal(size=n), 'label_h3': lab}))
    df = pd.concat(rows, ignore_index=True)
    df['rowid'] = np.arange(len(df), dtype=float)  # a feature that names its row
    return df, draw(st.integers(1, 6))


@settings(max_examples=150, deadline=None)
@given(panels())
def test_windows_are_own_symbol_past_only_and_aligned(p):
    df, L = p
    ds = TimeSeriesDataset(df, ['rowid', 'row', 'x'], horizon=3, sequence_length=L)
    pos = df.groupby('symbol').cumcount()
    assert len(ds) == int(((pos >= L - 1) & df['label_h3'].notna()).sum())  # closed-form count
    if len(ds) == 0:
        return
    X = np.asarray(ds.X).reshape(len(ds), L, 3)
    end = ds.ends
    for k in range(len(ds)):
        ids = X[k, :, 0].astype(int)
        assert (ids == np.arange(end[k] - L + 1, end[k] + 1)).all()  # consecutive rows ending at the sample's row
        assert (df['symbol'].to_numpy()[ids] == df['symbol'].iat[end[k]]).all()  # never another symbol
    assert (ds.y == df['label_h3'].to_numpy()[end]).all()
    assert (ds.metadata['symbol'].to_numpy() == df['symbol'].to_numpy()[end]).all()
    assert (ds.metadata['datetime'].to_numpy() == df['datetime'].to_numpy()[end]).all()


@settings(max_examples=60, deadline=None)
@given(panels())
def test_leakage_canary(p):
    "A feature at row i+1 equals the label at row i: no sample may see its own label through it."
    df, L = p
    df['leak'] = df.groupby('symbol')['label_h3'].shift(1).fillna(9.0)  # row i+1 carries label i
    df['leak_of'] = df.groupby('symbol')['rowid'].shift(1).fillna(-1.0)  # ... and which row's label that is
    ds = TimeSeriesDataset(df, ['leak', 'leak_of'], horizon=3, sequence_length=L)
    if len(ds) == 0:
        return
    X = np.asarray(ds.X).reshape(len(ds), L, 2)
    assert (X[:, :, 1] < ds.ends[:, None]).all()  # every leaked label in a window belongs to an earlier row


def test_context_from_previous_never_uses_previous_labels():
    df = pd.DataFrame(
        {'datetime': pd.bdate_range('2020-01-01', periods=10), 'symbol': 'A', 'x': np.arange(10.0), 'label_h3': 1.0})
    prev, cur = df.iloc[:6], df.iloc[6:].reset_index(drop=True)
    ds = TimeSeriesDataset(cur, ['x'], 3, sequence_length=3, context=prev)
    assert len(ds) == 4 and ds.metadata['datetime'].min() == cur['datetime'].min()
    assert (np.asarray(ds.X)[0, :, 0] == [4, 5, 6]).all()
