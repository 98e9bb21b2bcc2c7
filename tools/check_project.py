"""Project checks run by `make test`: notebooks and package in sync, project rules, README, docs.

Usage: python tools/check_project.py sync|rules|lint|readme [--write]|docs
Each check exits non-zero with a message naming the files at fault.
"""
import ast, hashlib, json, os, re, shutil, subprocess, sys, tempfile
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
        generated = p.name == '_modidx.py'  # nbdev's symbol index, not a module anyone edits
        if not generated and (n := text.count('\n')) > MAX_LINES:
            problems.append(f"{rel} has {n} lines (limit {MAX_LINES}): split its notebook")
        for m in UNSAFE.finditer(text):
            problems.append(f"{rel}:{text[:m.start()].count(chr(10)) + 1}: unsafe persistence {m.group(0).strip()!r} "
                            "(use native formats, safetensors, JSON/YAML, torch.load(..., weights_only=True))")
    problems += layer_problems() + shape_problems()
    if problems: sys.exit("project rules broken:\n  " + "\n  ".join(problems))
    print(f"rules: {len(list(PKG.rglob('*.py')))} modules within {MAX_LINES} lines, no unsafe persistence, "
          "notebooks and layers import only what lies below them, notebook code in nbdev's shape")

# Layers, bottom up: a module may import only its own layer or those listed for it.
# `cli` (the parsers, standard library only) sits beside core: any layer may import it, and it imports only core.
LAYERS = {'core': set(), 'cli': {'core'}, 'data': {'core', 'cli'}, 'models': {'core', 'cli', 'data'},
          'training': {'core', 'cli', 'data', 'models'}, 'tuning': {'core', 'cli', 'data', 'models', 'training'},
          'ensembles': {'core', 'cli', 'data', 'models', 'training'}}
IMPORT = re.compile(r"^\s*(?:from|import)\s+ensemble_research\.([\w.]+)", re.M)

def _code(nb):
    "The source of a notebook's code cells."
    return '\n'.join(''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code')

def _order(nb: Path) -> tuple:
    "A notebook's place in import order: `20_` is (20, ''), a later insertion `20a_` is (20, 'a')."
    m = re.fullmatch(r'(\d+)([a-z]?)', nb.stem.split('_', 1)[0])
    return int(m[1]), m[2]

def layer_problems():
    "Notebooks import only lower-numbered notebooks, and layers import only the layers below them."
    nbs = {p.stem.split('_', 1)[1]: p for p in NBS.glob('[0-9]*.ipynb')}
    num = {m: _order(p) for m, p in nbs.items()}
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
            if top != layer and top not in LAYERS.get(layer, set()):
                out.append(f"nbs/{p.name} ({layer} layer) imports ensemble_research.{imp} ({top} layer): "
                           f"the {layer} layer may import only {sorted(LAYERS.get(layer, set()))}")
    return out

def hidden_numbers(src: str) -> list[str]:
    "`test_eq(<comparison>, True/False)` calls: when they fail they print `False != True`, not the numbers."
    try: tree = ast.parse(src)
    except SyntaxError: return []
    return [f"line {n.lineno}: test_eq(<comparison>, {n.args[1].value}) hides its numbers: "
            "assert a <= b, (a, b) or test_eq on the values" for n in ast.walk(tree)
            if isinstance(n, ast.Call) and getattr(n.func, 'id', None) == 'test_eq' and len(n.args) == 2
            and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, bool)
            and isinstance(n.args[0], (ast.Compare, ast.BoolOp, ast.UnaryOp))]

def shape_problems():
    "Notebook code in nbdev's shape (tools/reflow.py), and tests in notebooks and tests/ that show their numbers."
    sys.path.insert(0, str(ROOT/'tools'))
    from reflow import problems
    out = [f"{t.relative_to(ROOT)}: {p}" for t in sorted((ROOT/'tests').glob('*.py')) for p in hidden_numbers(t.read_text())]
    for nb in sorted(NBS.rglob('*.ipynb')):
        if '.ipynb_checkpoints' in nb.parts: continue
        for i, c in enumerate(json.loads(nb.read_text())['cells']):
            if c['cell_type'] != 'code': continue
            src = ''.join(c['source'])
            out += [f"{nb.relative_to(ROOT)} cell {i}: {p} (`python tools/reflow.py` fills exploded blocks)"
                    for p in problems(src)] + [f"{nb.relative_to(ROOT)} cell {i}: {p}" for p in hidden_numbers(src)]
            if nb.parent == NBS and _mixes_imports(src):
                out.append(f"{nb.relative_to(ROOT)} cell {i}: imports and other code in one cell: nbdev's docs build "
                           "re-runs every cell with an import, so give the imports a cell of their own")
    return out

def _mixes_imports(src: str) -> bool:
    "A cell nbdev's `exec_show_docs` would run (it imports) that also does work beyond its imports and definitions."
    if re.search(r'^#\|\s*(export|exports|exporti|exec_doc|eval:\s*false)\b', src, re.M): return False
    body = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!'))))
    imports = (ast.Import, ast.ImportFrom)
    return any(isinstance(n, imports) for n in ast.walk(body)) and any(not isinstance(n, imports) for n in body.body)

def lint():
    "ruff over the notebooks, the exported package and tests/, 120 characters a line (ruff.toml)."
    ruff = str(Path(sys.executable).parent/'ruff')
    r = subprocess.run([ruff, 'check', '--output-format', 'json', 'nbs', 'ensemble_research', 'tests',
                        'tools/reflow.py'], cwd=ROOT,
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
    print(f"lint: ruff clean on nbs/, tests/ and the package ({len(found) - len(bad)} generated __all__ lines of nbdev's left)")

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

SITE_CSS = """
body { margin: 0; }
.er-nav { position: fixed; top: 0; left: 0; bottom: 0; width: 250px; overflow-y: auto; padding: 16px 14px;
          background: #f6f8fa; border-right: 1px solid #d0d7de; font: 14px/1.5 system-ui, sans-serif; }
.er-nav h2 { font-size: 16px; margin: 0 0 12px; } .er-nav h3 { font-size: 12px; text-transform: uppercase;
          color: #57606a; margin: 16px 0 4px; } .er-nav a { display: block; color: #0969da; text-decoration: none;
          padding: 1px 0; } .er-nav a.current { font-weight: 600; color: #1f2328; }
.er-page { margin-left: 280px; max-width: 1100px; }
.jp-InputPrompt, .jp-OutputPrompt { display: none; }
.jp-RenderedMarkdown pre, .jp-RenderedHTMLCommon pre { background: #f6f8fa; border: 1px solid #d0d7de;
          border-radius: 6px; padding: 8px 12px; overflow-x: auto; }
.jp-RenderedHTMLCommon :not(pre) > code { background: #eff1f3; border-radius: 4px; padding: 0 3px; }
.er-nav code { font-size: 13px; } #er-q { width: 100%; box-sizing: border-box; margin: 0 0 8px; padding: 4px; }
#er-results a { font-size: 13px; } #er-results small { display: block; color: #57606a; margin-bottom: 6px; }
"""

# Client-side search: every page's text in search.js (a script, so it loads from file:// too) and a box in the nav
# that lists the pages holding every word typed; `page.html?q=purge` opens with the results shown.
SEARCH_JS = """
function erSearch(q) {
  const out = document.getElementById('er-results'); out.innerHTML = '';
  const words = q.toLowerCase().split(/\\s+/).filter(w => w.length > 1);
  if (!words.length) return;
  const hits = (window.ER_PAGES || []).filter(p => words.every(w => p.text.includes(w)));
  for (const p of hits.slice(0, 30)) {
    const i = p.text.indexOf(words[0]), a = document.createElement('a'), s = document.createElement('small');
    a.href = p.url + '?q=' + encodeURIComponent(q); a.textContent = p.title; a.className = 'er-hit';
    s.textContent = '...' + p.text.slice(Math.max(0, i - 40), i + 60) + '...';
    out.append(a, s);
  }
  if (!hits.length) out.textContent = 'no page holds every word';
}
window.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('er-q'), q = new URLSearchParams(location.search).get('q');
  box.addEventListener('input', () => erSearch(box.value));
  if (q) { box.value = q; erSearch(q); }
});
"""

def _inline(text: str) -> str:
    "A title as HTML: escaped, with `code` spans as <code> (never literal backticks)."
    import html
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(text))

def _teaches(c) -> bool:
    "False for a code cell that only asserts (test_eq, assert ...) and shows nothing: the docs drop it."
    if c.cell_type != 'code' or c.get('outputs'): return True
    lines = [l for l in c.source.splitlines() if l.strip() and not l.lstrip().startswith('#')]
    return not lines or not all(l.startswith(('test_', 'assert ', ' ', ')', ']', '}')) for l in lines)

def _title(nb: dict, stem: str) -> tuple[str, str]:
    "Title and description from the frontmatter nbdev_proc_nbs writes (a raw cell of YAML)."
    import yaml
    for c in nb['cells']:
        s = ''.join(c['source'])
        if c['cell_type'] == 'raw' and s.startswith('---'):
            fm = yaml.safe_load(s.strip().strip('-')) or {}
            return str(fm.get('title', stem)), str(fm.get('description', ''))
    return stem, ''

def _section(rel: Path) -> str:
    if rel.parts[0] == 'tutorials': return 'Tutorials'
    if rel.stem == 'index': return 'Start'
    n = int(re.match(r'\d+', rel.stem)[0])
    return 'Reference: core and data' if n < 10 else 'Reference: models' if n < 20 else 'Reference: training'

def build_site(out: Path) -> list[Path]:
    "nbdev's docs preprocessing (Quarto itself is absent here), then every page rendered to HTML with a navigation bar."
    from nbdev import quarto
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    if shutil.which('quarto') is None: quarto._ensure_quarto = lambda: None  # do not let nbdev try to install Quarto
    import warnings  # nbdev's heuristic for its own show_doc cells; tutorials import where they use things
    warnings.filterwarnings('ignore', message='Found cells containing imports and other code')
    os.environ['PYTHONWARNINGS'] = 'ignore:Found cells containing imports'  # nbdev runs notebooks in workers
    proc = ROOT/'_proc'
    shutil.rmtree(proc, ignore_errors=True)  # pages of renamed or deleted notebooks must not linger
    quarto.nbdev_proc_nbs.__wrapped__(path=str(NBS))
    nbs = sorted(p for p in proc.rglob('*.ipynb') if not any(q.startswith(('.', '_')) for q in p.relative_to(proc).parts))
    pages = []
    for p in nbs:
        rel = p.relative_to(proc)
        nb = nbformat.read(p, as_version=4)
        title, desc = _title(nb, rel.stem)
        for c in nb.cells:  # honour nbdev's `#| echo: false`; drop the directive lines everywhere else
            if c.cell_type != 'code': continue
            if re.search(r'^#\|\s*echo:\s*false', c.source, re.M): c.metadata.setdefault('tags', []).append('hide-input')
            c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|')).strip('\n')
        nb.cells = [c for c in nb.cells if not (c.cell_type == 'raw' and c.source.startswith('---')) and _teaches(c)]
        for c in nb.cells:  # show_doc writes Quarto's markdown: drop its attribute blocks and the placeholder source link
            for o in c.get('outputs', []):
                md = o.get('data', {}).get('text/markdown')
                if md:
                    md = re.sub(r'\[source\]\([^)]*\)\{[^}]*\}\s*', '', ''.join(md))
                    o['data']['text/markdown'] = re.sub(r'^---\s*', '', md)
        name = 'index.html' if rel.stem == 'index' else f'{rel.stem}.html'
        pages.append((rel, name, title, desc, nb))
    index = [{'url': n, 'title': re.sub('`', '', t), 'text': re.sub(r'\s+', ' ', ' '.join(
        [t, d] + [c.source for c in nb.cells if c.cell_type in ('markdown', 'code')])).lower()}
        for _, n, t, d, nb in pages]
    exp = HTMLExporter(template_name='lab')
    exp.register_preprocessor(TagRemovePreprocessor(remove_input_tags={'hide-input'}), enabled=True)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob('*.html'): stale.unlink()
    (out/'search.js').write_text('window.ER_PAGES = ' + json.dumps(index) + ';\n' + SEARCH_JS)
    order = ['Start', 'Tutorials', 'Reference: core and data', 'Reference: models', 'Reference: training']
    written = []
    for rel, name, title, desc, nb in pages:
        links = ''
        for sec in order:
            items = [(n, t) for r, n, t, _, _ in pages if _section(r) == sec]
            links += f'<h3>{sec}</h3>' + ''.join(f'<a href="{n}"{" class=current" if n == name else ""}>{_inline(t)}</a>'
                                                for n, t in items)
        body, _ = exp.from_notebook_node(nb, resources={'metadata': {'name': title}})
        head = f'<h1>{_inline(title)}</h1>' + (f'<p class="er-desc"><em>{_inline(desc)}</em></p>' if desc else '')
        search = '<input id="er-q" type="search" placeholder="Search the docs"><div id="er-results"></div>'
        body = re.sub(r'(<body[^>]*>)', lambda m: m.group(1) + f'<nav class="er-nav"><h2><a href="index.html">'
                      f'ensemble_research</a></h2>{search}{links}</nav><div class="er-page">{head}', body, count=1)
        body = body.replace('</body>', '</div></body>').replace(
            '</head>', f'<style>{SITE_CSS}</style><script src="search.js"></script></head>')
        (out/name).write_text(body)
        written.append(out/name)
    return written

PAGE_NEEDS = {'index.html': ('table',), '01_quick_start.html': ('table', 'plot'), '02_reading_runs.html': ('plot',),
              '03_custom_model.html': ('table',), '04_reliability.html': ('table',), '05_selection.html': ()}

def browse(site: Path, shots: Path, pages=PAGE_NEEDS) -> None:
    "Open pages in headless Chromium: each must render what it needs and no error output; screenshots are kept."
    browser = find_browser()
    if browser is None: sys.exit("docs: no Chromium found (Debian: apt-get install chromium)")
    shots.mkdir(parents=True, exist_ok=True)
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--disable-dev-shm-usage']
    marks = {'table': '<table', 'plot': '<img', 'navigation': 'class="er-nav"'}
    for page, needs in pages.items():
        url = (site/page).resolve().as_uri()
        dom = subprocess.run([browser, *flags, '--virtual-time-budget=3000', '--dump-dom', url],
                             capture_output=True, text=True, timeout=120).stdout
        problems = [f'no {k}' for k in (*needs, 'navigation') if marks[k] not in dom]
        nav = dom.split('class="er-nav"', 1)[-1].split('class="er-page"', 1)[0]
        if '`' in nav or '`' in dom.split('<h1', 1)[-1].split('</h1>', 1)[0]: problems.append('literal backticks')
        if 'data-mime-type="application/vnd.jupyter.stderr"' in dom: problems.append('error or warning output')
        if problems: sys.exit(f"docs: {page} in Chromium: {', '.join(problems)}")
        png = shots/page.replace('.html', '.png')
        subprocess.run([browser, *flags, f'--screenshot={png}', '--window-size=1280,1600', url],
                       capture_output=True, text=True, timeout=120)
        if not png.is_file() or png.stat().st_size < 10_000: sys.exit(f"docs: no screenshot of {page} ({png})")
    hits = search_hits(browser, flags, site, 'purge')
    if len(hits) < 2: sys.exit(f"docs: the search box finds 'purge' on {hits or 'no page'}: fewer than two pages")
    print(f"docs: {', '.join(pages)} opened in Chromium (tables, plots, navigation, no errors, no backticks); "
          f"search finds 'purge' on {len(hits)} pages; screenshots in {shots}")

def search_hits(browser, flags, site: Path, q: str) -> list[str]:
    "The pages the docs' search box lists for `q`, as Chromium renders index.html?q=..."
    url = (site/'index.html').resolve().as_uri() + f'?q={q}'
    dom = subprocess.run([browser, *flags, '--virtual-time-budget=3000', '--dump-dom', url],
                         capture_output=True, text=True, timeout=120).stdout
    return re.findall(r'<a href="([^"?]+)\?q=[^"]*" class="er-hit"', dom)

def find_browser():
    "Chromium (Debian's package) or Chrome, where installed; None otherwise."
    return shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')

def docs(out=None, check_browser=False):
    "Build the site into `out` (default _docs/); with `check_browser`, open pages in Chromium and keep screenshots."
    out = Path(out) if out else ROOT/'_docs'
    pages = build_site(out)
    print(f"docs: {len(pages)} pages rendered to {out}")
    if check_browser: browse(out, out/'screenshots')

if __name__ == '__main__':
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'readme': readme('--write' in sys.argv)
    elif cmd == 'docs': docs(check_browser='--browse' in sys.argv)
    elif cmd in ('sync', 'rules', 'lint'): globals()[cmd]()
    else: sys.exit(__doc__)
