"""The design document's usage code, run as written: Steps 3-5's "Test it" snippets and Step 6's end-to-end script.

The code is read from `../shared/seed/PHASE2_SUMMARY_AND_QUICKSTART.md` (never copied into the repo); only the import
paths are mapped (`src.models...` to `ensemble_research.models...`). Where a snippet cannot run unchanged for a reason
we keep on purpose, `DIVERGENCES` names the lines, the reason and the check that replaces them.
"""

import re, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest

DOC = Path(__file__).resolve().parents[2] / 'shared' / 'seed' / 'PHASE2_SUMMARY_AND_QUICKSTART.md'
IMPORTS = (('src.models.boosting.xgboost', 'ensemble_research.models.boosting'),
           ('src.models', 'ensemble_research.models'))
# (step, exact line in the document) -> (why it cannot run unchanged, the line run instead)
DIVERGENCES = {
    (5, "assert len(models) == 1"): (
        "importing the package registers every built-in family (6 models), "
        "not only the one the document has written so far",
        "assert len(models) >= 1",
    ),
    (5, "assert models[0]['name'] == 'xgboost'"): ("the same: xgboost is one of several registered models",
                                                   "assert 'xgboost' in [m['name'] for m in models]"),
}

pytestmark = pytest.mark.skipif(
    not DOC.is_file(),
    reason=f"the design document is not at {DOC} (CI and developer machines have ../shared beside the checkout)")


def _section(text, step):
    "The text of '## Step N:' up to the next step."
    start = text.index(f'## Step {step}:')
    nxt = text.find('## Step ', start + 5)
    return text[start : nxt if nxt > 0 else len(text)]


def _map(code, step):
    for a, b in IMPORTS:
        code = code.replace(a, b)
    for (s, line), (_, instead) in DIVERGENCES.items():
        if s == step:
            code = code.replace(line, instead)
    return code


def _snippets(step):
    "Each `python3 -c \"...\"` command of the step's 'Test it' block, shell quoting undone."
    sec = _section(DOC.read_text(), step)
    block = sec[sec.index('**Test it:**') :]
    block = block[block.index('```') :]
    block = block[: block.index('```', 3)]
    cmds = re.findall(r'python3 -c "\n(.*?)\n"', block, re.S)
    assert cmds, f"Step {step}'s 'Test it' block has no python3 -c command"
    cmds = [c.replace('\\"', '"') for c in cmds]
    for s, line in DIVERGENCES:
        assert s != step or any(line in c for c in cmds), f"{line!r} is no longer in Step {step}: update DIVERGENCES"
    return [_map(c, step) for c in cmds]


def _run(args, cwd):
    r = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.mark.parametrize('step', [3, 4, 5])
def test_step_snippets_run(step, tmp_path):
    for code in _snippets(step):
        out = _run(['-c', code], tmp_path)
        assert '✅' in out, out


def test_divergences_are_stated():
    "Every divergence names its reason, and no snippet of Steps 3-5 is skipped."
    for (step, line), (why, instead) in DIVERGENCES.items():
        assert why and instead and line != instead
    assert sum(len(_snippets(s)) for s in (3, 4, 5)) == 4


@pytest.fixture(scope='module')
def sample_dir(tmp_path_factory):
    from ensemble_research.data.sample import build_sample

    root = tmp_path_factory.mktemp('seed')
    build_sample(root / 'data' / 'splits' / 'scaled')
    return root


def test_end_to_end_script_runs_unchanged_without_leak(sample_dir):
    sec = _section(DOC.read_text(), 6)
    start = sec.index('```python') + len('```python\n')
    code = _map(sec[start : sec.index('```', start)], 6)
    (sample_dir / 'test_xgboost_e2e.py').write_text(code)
    out = _run(['test_xgboost_e2e.py'], sample_dir)
    assert 'END-TO-END TEST PASSED' in out and 'Save/load roundtrip successful' in out
    acc = float(re.search(r'Validation Accuracy: ([0-9.]+)', out).group(1))
    n_feat = int(re.search(r'Features: (\d+)', out).group(1))
    val = pd.read_parquet(sample_dir / 'data' / 'splits' / 'scaled' / 'val_scaled.parquet')
    y = val['label_h5'].dropna()
    majority = y.value_counts(normalize=True).max()
    # The document expects 0.45-0.55, "baseline accuracy": the majority-class rate of its data. Ours is the same
    # baseline on this sample (about 0.42); the leak the document's feature rule used to allow scored 0.956.
    assert acc <= 0.55, f"validation accuracy {acc} is above the document's baseline range: a leak?"
    assert abs(acc - majority) <= 0.03, f"accuracy {acc} is not at the baseline (majority rate {majority:.3f})"
    feats = [c for c in val.columns if c not in ('datetime', 'symbol', 'split') and not c.startswith('label_')]
    assert n_feat == len(feats) and not any('fwd' in c or 'month' == c for c in feats)
    assert np.isclose(len(y), int(re.search(r'Val: \((\d+),', out).group(1)))
