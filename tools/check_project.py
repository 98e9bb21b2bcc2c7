"""Project checks run by `make test`: notebooks and package in sync, project rules, README, docs.

Usage: python tools/check_project.py sync|rules|lint|readme [--write]|docs
Each check exits non-zero with a message naming the files at fault.
"""
import hashlib, json, re, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG, NBS = ROOT/'ensemble_research', ROOT/'nbs'
MAX_LINES = 650
UNSAFE = re.compile(r"^\s*(import|from)\s+(pickle|dill|cloudpickle|joblib)\b|torch\.load\((?![^)]*weights_only\s*=\s*True)", re.M)

def _snapshot():
    "Hash of every file nbdev_clean or nbdev_export may touch."
    files = [p for d in (PKG, NBS) for p in d.rglob('*') if p.is_file() and '__pycache__' not in p.parts and '.ipynb_checkpoints' not in p.parts]
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

def sync():
    before = _snapshot()
    bin_dir = Path(sys.executable).parent
    for cmd in ('nbdev_clean', 'nbdev_export'): subprocess.run([str(bin_dir/cmd)], cwd=ROOT, check=True)
    after = _snapshot()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        sys.exit("out of sync: nbdev_clean/nbdev_export changed " + ', '.join(changed)
                 + "\nEdit the notebooks (never the exported .py), run `nbdev_export && nbdev_clean`, and commit the result.")
    print(f"sync: notebooks clean and package in sync ({len(after)} files)")

def rules():
    problems = []
    for p in sorted(PKG.rglob('*.py')):
        text, rel = p.read_text(), p.relative_to(ROOT)
        if (n := text.count('\n')) > MAX_LINES: problems.append(f"{rel} has {n} lines (limit {MAX_LINES}): split its notebook")
        for m in UNSAFE.finditer(text):
            problems.append(f"{rel}:{text[:m.start()].count(chr(10)) + 1}: unsafe persistence {m.group(0).strip()!r} "
                            "(use native formats, safetensors, JSON/YAML, torch.load(..., weights_only=True))")
    problems += layer_problems()
    if problems: sys.exit("project rules broken:\n  " + "\n  ".join(problems))
    print(f"rules: {len(list(PKG.rglob('*.py')))} modules within {MAX_LINES} lines, no unsafe persistence, "
          "notebooks and layers import only what lies below them")

# Layers, bottom up: a module may import only its own layer or those listed for it.
LAYERS = {'core': set(), 'data': {'core'}, 'models': {'core', 'data'}, 'training': {'core', 'data', 'models'},
          'tuning': {'core', 'data', 'models', 'training'}, 'ensembles': {'core', 'data', 'models', 'training'}}
UPPER, UPPER_USERS = {'tuning', 'ensembles'}, {'training.cli', 'training.experiment'}  # their CLIs, the runner
IMPORT = re.compile(r"^\s*(?:from|import)\s+ensemble_research\.([\w.]+)", re.M)

def _code(nb):
    "The source of a notebook's code cells."
    return '\n'.join(''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code')

def layer_problems():
    "Notebooks import only lower-numbered notebooks, and layers import only the layers below them."
    nbs = {p.stem.split('_', 1)[1]: p for p in NBS.glob('[0-9]*.ipynb')}
    num = {m: int(p.stem.split('_', 1)[0]) for m, p in nbs.items()}
    def owner(mod):  # the notebook defining module `mod` (models -> models.__init__)
        parts = mod.split('.')
        for i in range(len(parts), 0, -1):
            m = '.'.join(parts[:i])
            if m in num: return m
            if m + '.__init__' in num: return m + '.__init__'
        return None
    out = []
    for m, p in sorted(nbs.items(), key=lambda kv: num[kv[0]]):
        layer = m.split('.')[0]
        for imp in IMPORT.findall(_code(p)):
            o = owner(imp)
            if o is None: continue
            if num[o] >= num[m]:
                out.append(f"nbs/{p.name} imports ensemble_research.{imp} from nbs/{nbs[o].name}: "
                           "a notebook imports only lower-numbered ones")
            top = o.split('.')[0]
            if top != layer and top not in LAYERS.get(layer, set()) and not (top in UPPER and m in UPPER_USERS):
                out.append(f"nbs/{p.name} ({layer} layer) imports ensemble_research.{imp} ({top} layer): "
                           f"the {layer} layer may import only {sorted(LAYERS.get(layer, set()))}")
    return out

def lint():
    "ruff over the notebooks and the exported package, 120 characters a line (ruff.toml)."
    ruff = str(Path(sys.executable).parent/'ruff')
    r = subprocess.run([ruff, 'check', '--output-format', 'json', 'nbs', 'ensemble_research'], cwd=ROOT,
                       capture_output=True, text=True)
    found = json.loads(r.stdout or '[]')
    def generated(d):  # nbdev wraps `__all__` at 120 and then prefixes `__all__ = `: its first line is nbdev's, not ours
        if d['code'] != 'E501' or not d['filename'].endswith('.py'): return False
        lines = Path(d['filename']).read_text().splitlines()
        return lines[d['location']['row'] - 1].startswith('__all__ = [')
    bad = [d for d in found if not generated(d)]
    if bad:
        sys.exit("ruff:\n  " + "\n  ".join(f"{Path(d['filename']).relative_to(ROOT)}:{d['location']['row']}: "
                                           f"{d['code']} {d['message']}" for d in bad[:40]))
    if r.returncode not in (0, 1): sys.exit(f"ruff failed: {r.stderr}")
    print(f"lint: ruff clean on nbs/ and the package ({len(found) - len(bad)} generated __all__ lines of nbdev's left)")

def _readme_text():
    out = subprocess.run([sys.executable, '-m', 'nbconvert', '--to', 'markdown', '--stdout', '--log-level', 'ERROR', str(NBS/'index.ipynb')],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return "<!-- generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file -->\n\n" + out.strip() + "\n"

def readme(write=False):
    text, path = _readme_text(), ROOT/'README.md'
    if write: path.write_text(text); return print("readme: README.md written from nbs/index.ipynb")
    if not path.exists() or path.read_text() != text:
        sys.exit("README.md differs from nbs/index.ipynb: run `make readme` and commit README.md")
    print("readme: README.md matches nbs/index.ipynb")

def docs():
    "nbdev's docs preprocessing (Quarto itself is absent here), then each processed notebook rendered to HTML."
    from nbdev import quarto
    import shutil
    if shutil.which('quarto') is None: quarto._ensure_quarto = lambda: None  # do not let nbdev try to install Quarto
    quarto.nbdev_proc_nbs.__wrapped__(path=str(NBS))
    proc = ROOT/'_proc'
    nbs = sorted(p for p in proc.rglob('*.ipynb') if not any(q.startswith(('.', '_')) for q in p.relative_to(proc).parts))
    with tempfile.TemporaryDirectory() as out:
        for nb in nbs:
            r = subprocess.run([sys.executable, '-m', 'nbconvert', '--to', 'html', '--log-level', 'ERROR', '--output-dir', out, str(nb)],
                               capture_output=True, text=True)
            if r.returncode: sys.exit(f"docs: rendering {nb.relative_to(ROOT)} failed:\n{r.stderr[-2000:]}")
    print(f"docs: {len(nbs)} processed notebooks rendered to HTML")

if __name__ == '__main__':
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'readme': readme('--write' in sys.argv)
    elif cmd in ('sync', 'rules', 'docs', 'lint'): globals()[cmd]()
    else: sys.exit(__doc__)
