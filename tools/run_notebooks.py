"""Execute the notebooks as `nbdev_test` does and save their outputs, so that the docs show results.

Usage: python tools/run_notebooks.py [NOTEBOOK ...]   (default: every notebook under nbs/ that nbdev_test runs)
Cells flagged `slow` or `gpu` and cells with `#| eval: false` are skipped, as in `nbdev_test`; their outputs are cleared.
Outputs naming a temporary or machine path are refused: a notebook's outputs must read the same on every machine.
"""
import json, os, re, subprocess, sys
from pathlib import Path
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.process import NBProcessor
from nbdev.frontmatter import FrontmatterProc

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
SKIP_FLAGS = {'slow', 'gpu'}
MACHINE_PATH = re.compile(r"/tmp/|/var/folders/|" + re.escape(str(ROOT)))

def _no_eval(cell):
    if cell.cell_type != 'code' or 'nbdev_export' + '(' in cell.source: return True
    direc = getattr(cell, 'directives_', {}) or {}
    if direc.get('eval:', [''])[0].lower() == 'false': return True
    return bool(SKIP_FLAGS & direc.keys())

def run(fn: Path) -> int:
    "Run notebook `fn` and write its outputs back into it; returns the number of cells with output."
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    for c in nb.cells:  # a cell that now prints nothing must not keep what it printed before
        if c.cell_type == 'code': c['outputs'] = []
    shell = CaptureShell(fn)
    with working_directory(fn.parent):
        shell.run_all(nb, exc_stop=True, preproc=_no_eval)
    outs = {c.id: c.get('outputs', []) for c in nb.cells if c.cell_type == 'code'}
    raw = json.loads(fn.read_text())
    for c in raw['cells']:
        if c['cell_type'] != 'code': continue
        c['outputs'] = [dict(o) for o in outs.get(c.get('id'), [])]
        for o in c['outputs']:
            if o.get('output_type') != 'execute_result':
                o.pop('execution_count', None)
        text = json.dumps(c['outputs'])
        if m := MACHINE_PATH.search(text):
            sys.exit(f"{fn.relative_to(ROOT)} cell {c.get('id')}: its output names a machine path ({m.group(0)!r}: "
                     f"{text[max(0, m.start() - 150):m.end() + 100]}); "
                     "show relative paths or names instead")
    fn.write_text(json.dumps(raw, indent=1, ensure_ascii=False) + '\n')
    return sum(bool(c.get('outputs')) for c in raw['cells'] if c['cell_type'] == 'code')

def notebooks():
    "Every notebook nbdev_test would run: not hidden, not under a folder with a .notest file."
    out = []
    for p in sorted(NBS.rglob('*.ipynb')):
        rel = p.relative_to(NBS)
        if any(part.startswith(('.', '_')) for part in rel.parts): continue
        if any((NBS/Path(*rel.parts[:i])/'.notest').exists() for i in range(len(rel.parts))): continue
        out.append(p)
    return out

if __name__ == '__main__':
    os.environ['TQDM_DISABLE'] = '1'  # progress bars are not content, and their timings change on every run
    import pandas as pd  # tables in the docs show every column, never a '...' in place of some
    pd.set_option('display.max_columns', 60)
    pd.set_option('display.width', 250)
    pd.set_option('display.max_colwidth', 200)
    fns = [Path(a).resolve() for a in sys.argv[1:]] or notebooks()
    for fn in fns:
        print(f"{fn.relative_to(ROOT)}: {run(fn)} cells with output", flush=True)
    subprocess.run([str(Path(sys.executable).parent/'nbdev_clean')], cwd=ROOT, check=True)
