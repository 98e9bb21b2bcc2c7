"""Project checks run by `make test`: notebooks and package in sync, project rules, README, docs.

Usage: python tools/check_project.py sync|rules|readme [--write]|docs
Each check exits non-zero with a message naming the files at fault.
"""
import hashlib, re, subprocess, sys, tempfile
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
    if problems: sys.exit("project rules broken:\n  " + "\n  ".join(problems))
    print(f"rules: {len(list(PKG.rglob('*.py')))} modules within {MAX_LINES} lines, no unsafe persistence")

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
    elif cmd in ('sync', 'rules', 'docs'): globals()[cmd]()
    else: sys.exit(__doc__)
