"""The commands as a newcomer meets them: `--help` at once with an example, the README's first run as written, and
runs that state their verdict (a planted signal beats both references; a model with nothing to learn says why not)."""

import json, shlex, subprocess, sys, time
from pathlib import Path
import pytest
from ensemble_research.cli import COMMANDS
from ensemble_research.data.synthetic import chronological_split, planted_panel, write_splits

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HELP_SECONDS = 1.5  # the bound; --help measures about 0.1 s here, so a loaded machine stays well inside it


def run(line: str, cwd, timeout: float = 600) -> subprocess.CompletedProcess:
    "Run one command line as a shell would split it, with this environment's console scripts."
    argv = shlex.split(line)
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize('line', [*COMMANDS, 'er_data check', 'er_data sample', 'er_data build', 'er_runs list',
                                  'er_runs trials', 'er_runs predict', 'er_runs explain'])
def test_help_answers_at_once_with_an_example(line, tmp_path):
    t0 = time.perf_counter()
    out = run(f'{line} --help', tmp_path)
    seconds = time.perf_counter() - t0
    assert out.returncode == 0 and 'example:' in out.stdout, (line, out.stdout[-500:], out.stderr[-500:])
    assert seconds <= HELP_SECONDS, (line, round(seconds, 2))


def test_debug_and_verbose_work_before_and_after_a_subcommand(tmp_path):
    for line in ('er_data --debug check missing', 'er_data check missing --debug'):
        out = run(line, tmp_path)
        assert out.returncode == 1 and 'Traceback' in out.stderr and 'missing' in out.stderr, (line, out.stderr[-800:])
    out = run('er_data check missing', tmp_path)
    assert out.returncode == 2 and 'er_data sample --symbols 60' in out.stderr, out.stderr


def _readme_block(section: str) -> list[str]:
    "The command lines of the first ```sh block of a README section, without their comments."
    text = (ROOT / 'README.md').read_text().split(f'\n## {section}\n', 1)[1].split('\n## ', 1)[0]
    block = text.split('```sh\n', 1)[1].split('```', 1)[0]
    return [line.split('  #')[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_first_run_works_as_written_on_the_demo_path(tmp_path):
    lines = _readme_block('First run')
    assert [line.split()[0] for line in lines] == ['er_data', 'er_data', 'er_train'], lines
    quick = next(l for l in (ROOT / 'Makefile').read_text().splitlines() if l.startswith('QUICK_DATA'))
    assert quick.split('?=')[1].strip() in lines[1], (quick, lines)  # make demo reads what the README builds
    outs = [run(line, tmp_path) for line in lines]
    for line, out in zip(lines, outs):
        assert out.returncode == 0, (line, out.stderr[-2000:])
    assert 'unlabeled' in outs[1].stdout and 'horizons: [5, 20]' in outs[1].stdout, outs[1].stdout
    report = next(l.split(': ', 1)[1] for l in outs[2].stdout.splitlines() if l.startswith('report: '))
    assert 'verdict (val): ' in outs[2].stdout and (tmp_path / report).is_file(), outs[2].stdout


def _verdict_run(tmp_path, **panel) -> tuple[str, dict]:
    "er_train's output and the verdict in metrics.json, for LightGBM on a planted panel."
    p = planted_panel(n_symbols=6, n_bars=700, n_features=6, horizons=(5,), seed=1, **panel)
    data = write_splits(chronological_split(p), tmp_path / 'data')
    out = run(f'er_train --model lightgbm --horizon 5 --data {data} --runs-dir {tmp_path / "runs"} '
              '--set n_estimators=60 --set n_jobs=1', tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    rd = next(l.split(': ', 1)[1] for l in out.stdout.splitlines() if l.startswith('run directory: '))
    return out.stdout, json.loads((tmp_path / rd / 'metrics' / 'metrics.json').read_text())['verdict']


def test_a_planted_signal_run_says_it_beats_both_references(tmp_path):
    out, v = _verdict_run(tmp_path, delta=1.0)
    assert 'verdict (val): beats both references' in out and v['beats_references'], (out, v)
    assert v['log_loss_diff_high'] < 0 and v['checks']['macro_f1']['beats'] and not v['degenerate'], v


def test_a_model_with_nothing_to_learn_says_it_does_not_beat_them_and_why(tmp_path):
    out, v = _verdict_run(tmp_path, signal=False)  # labels independent of every feature: the random-label canary
    assert not v['beats_references'] and v['line'] in out, (out, v)
    assert v['log_loss_diff_high'] >= 0 or v['degenerate'], v  # no better than the prior, or degenerate and named
    if v['degenerate']:
        assert 'verdict (val): degenerate (' in out and all(r in out for r in v['degenerate']), out
