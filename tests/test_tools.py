"The project's own checks: tools/reflow.py gives nbdev's shape without changing the code, and the rules flag what not."
import ast, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tools'))
from reflow import problems, reflow  # noqa: E402
from check_project import hidden_numbers  # noqa: E402

EXPLODED = '''def f(s, c, L):
    raise ConfigError(
        f"the {s} split has no labeled samples for horizon {c.horizon} with sequence_length {L}: "
        "use a shorter sequence_length"
    )
    x = foo(
        a,
        b,
    )
    t = (
        1,
    )
    d = {
        k: v
        for k, v in pairs
    }
NAMES = [
    'numpy', 'pandas', 'pyarrow', 'scikit-learn', 'xgboost', 'lightgbm', 'catboost', 'torch', 'neuralforecast',
    'timesfm',
    'optuna',
]


def g(
    a,  # documented
    b=1,  # documented too
) -> int:
    return a
'''


def test_reflow_fills_exploded_blocks_and_keeps_the_code():
    out = reflow(EXPLODED)
    assert ast.dump(ast.parse(out)) == ast.dump(ast.parse(EXPLODED))
    lines = out.splitlines()
    assert max(map(len, lines)) <= 120, max(lines, key=len)
    assert '    x = foo(a, b)' in lines and '    t = (1,)' in lines and '    d = {k: v for k, v in pairs}' in lines
    assert lines[1:3] == ['    raise ConfigError(f"the {s} split has no labeled samples for horizon {c.horizon} '
                          'with sequence_length {L}: "', ' ' * 22 + '"use a shorter sequence_length")'], lines[1:3]
    assert lines[6:8] == ["NAMES = ['numpy', 'pandas', 'pyarrow', 'scikit-learn', 'xgboost', 'lightgbm', 'catboost', "
                          "'torch', 'neuralforecast',", ' ' * 9 + "'timesfm', 'optuna']"], lines[6:8]
    assert 'def g(\n    a,  # documented\n    b=1,  # documented too\n) -> int:' in out  # nbdev's docments kept
    assert problems(out) == [] and reflow(out) == out


def test_the_rules_flag_lone_brackets_lost_doc_comments_and_hidden_numbers():
    found = problems(EXPLODED)
    assert sum('one-item block' in p for p in found) == 3, found  # the raise, the 1-tuple and the comprehension
    lost = problems('def f(\n    a,\n    b=1,\n):  # what b is\n    return a\n')
    assert lost == ["line 4: a comment on a line holding only '):' (nbdev's docs lose it): "
                    "put it on its parameter's line"]
    calls = '\n'.join(['test_eq(a <= b, Tr' 'ue)',  # split: the checklist's grep must not read it as a test
                       'test_eq(x, True)', 'test_eq(not y, False)'])
    assert [p.split(':')[0] for p in hidden_numbers(calls)] \
        == ['line 1', 'line 3']
