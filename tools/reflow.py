"""Notebook code in nbdev's shape: a bracketed block that a formatter exploded one item a line is filled back.

`python tools/reflow.py [NOTEBOOK ...]` rewrites the code cells of the notebooks (default: every one under nbs/):
a block whose opening bracket ends a line and whose closing bracket starts one is joined onto one line when it fits in
120 characters, else its items are filled into lines aligned after the opening bracket (or indented under it), the
closing bracket on the last item's line. Blocks holding comments (nbdev's documented parameters) are left alone. Each
cell's syntax tree is checked unchanged. `problems(source)` is what `tools/check_project.py rules` enforces.
"""
import ast, io, json, sys, tokenize
from pathlib import Path

WIDTH = 120
PAIRS = {'(': ')', '[': ']', '{': '}'}
SKIP = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)


def _tokens(src: str) -> list:
    return list(tokenize.generate_tokens(io.StringIO(src).readline))


def _blocks(toks) -> list[tuple[int, int, int]]:
    "(open index, close index, depth) of every bracket pair whose opener ends a line and whose closer starts one."
    stack, out = [], []
    sig = [i for i, t in enumerate(toks) if t.type not in SKIP]
    pos = {i: k for k, i in enumerate(sig)}
    for i in sig:
        t = toks[i]
        if t.type == tokenize.OP and t.string in PAIRS: stack.append(i)
        elif t.type == tokenize.OP and t.string in PAIRS.values():
            o = stack.pop()
            nxt, prv = sig[pos[o] + 1], sig[pos[i] - 1]
            if toks[nxt].start[0] > toks[o].start[0] and toks[prv].end[0] < t.start[0]: out.append((o, i, len(stack)))
    return out


def _items(toks, o: int, c: int):
    "The block's top-level items (lists of tokens) and whether a trailing comma ends it; None when it holds a comment."
    items, cur, depth, trailing = [], [], 0, False
    comp = any(t.type == tokenize.NAME and t.string == 'for' and _depth(toks, o, t) == 0 for t in toks[o + 1:c])
    for t in toks[o + 1:c]:
        if t.type in SKIP: continue
        if t.type == tokenize.COMMENT: return None, False
        if depth == 0 and t.string == ',' and not comp:  # in a comprehension `for k, v` is one item
            items.append(cur); cur = []; trailing = True
            continue
        trailing = False
        if t.string in PAIRS: depth += 1
        elif t.string in PAIRS.values(): depth -= 1
        cur.append(t)
    if cur: items.append(cur)
    return items, trailing


def _depth(toks, o, tok) -> int:
    "Bracket depth of `tok` inside the block opened at `o`."
    d = 0
    for t in toks[o + 1:]:
        if t is tok: return d
        if t.string in PAIRS: d += 1
        elif t.string in PAIRS.values(): d -= 1
    return d


def _piece(it, lines, col: int, flat: bool) -> list[str]:
    "An item as lines of text: one line (adjacent string literals apart, so they can wrap), or its own lines shifted."
    if flat or it[0].start[0] == it[-1].end[0]:
        if len(it) > 1 and all(t.type == tokenize.STRING for t in it): return [t.string for t in it]
        return [_join(it)]
    (r0, c0), (r1, c1) = it[0].start, it[-1].end
    src = [lines[r0 - 1][c0:]] + lines[r0:r1 - 1] + [lines[r1 - 1][:c1]] if r1 > r0 else [lines[r0 - 1][c0:c1]]
    out = [src[0]]
    for line in src[1:]:
        body = line.lstrip()
        out.append(' ' * max(0, col + len(line) - len(body) - c0) + body)
    return ['\n'.join(out)]


def _join(toks) -> str:
    "Tokens back to text on one line: original spacing within a line, one space (or none after openers) across lines."
    out = toks[0].string
    for a, b in zip(toks, toks[1:]):
        if a.end[0] == b.start[0]: gap = ' ' * (b.start[1] - a.end[1])
        else: gap = '' if a.string in PAIRS or b.string in PAIRS.values() or b.string in ',:' else ' '
        out += gap + b.string
    return out


def _is_call(toks, o) -> bool:
    k = o - 1
    while k >= 0 and toks[k].type in SKIP: k -= 1
    p = toks[k] if k >= 0 else None
    return p is not None and (p.type == tokenize.NAME and p.string not in ('in', 'return', 'and', 'or', 'not', 'if',
                                                                            'else', 'yield', 'await', 'assert')
                              or p.string in (')', ']', '}') or p.type == tokenize.STRING)


def _layout(head: str, items: list, lines: list, tail: str, close: str, indent: str, comma: bool, aligned: bool):
    "Fill the items after `head`: on one line, else aligned after the opener (else indented under the line); or None."
    for col, first_on_head in [(len(head), True)] if aligned else [(len(indent) + 4, False)]:
        for flat in (True, False):
            pieces = []
            for k, it in enumerate(items):
                atoms = _piece(it, lines, col, flat or len(_join(it)) <= WIDTH - col)
                for j, a in enumerate(atoms):
                    end = k == len(items) - 1 and j == len(atoms) - 1
                    sep = (',' if comma else '') if end else ', ' if j == len(atoms) - 1 else ' '
                    pieces.append((a, sep))
            one = head + ''.join(a + s for a, s in pieces) + close + tail
            if '\n' not in one and len(one) <= WIDTH: return [one]
            out, cur, fresh = ([], head, True) if first_on_head else ([head.rstrip()], ' ' * col, True)
            for a, sep in pieces:
                first = a.split('\n')[0]
                if not fresh and len(cur) + len(first) + len(sep.rstrip()) > WIDTH:
                    out.append(cur.rstrip()); cur = ' ' * col
                parts = a.split('\n')
                for p in parts[:-1]: out.append(cur + p); cur = ''
                cur += parts[-1] + sep; fresh = False
            out.append(cur.rstrip() + close + tail)
            if all(len(x) <= WIDTH for x in out): return out
    return None


def reflow(src: str) -> str:
    "`src` with its exploded blocks filled, innermost first; unchanged where a block holds comments or cannot fit."
    done = set()
    while True:
        toks = _tokens(src)
        lines = src.split('\n')
        cand = [b for b in _blocks(toks) if (toks[b[0]].start, toks[b[1]].start) not in done]
        if not cand: return src
        o, c, _ = max(cand, key=lambda b: (b[2], -b[0]))
        done_key = (toks[o].start, toks[c].start)
        items, trailing = _items(toks, o, c)
        orow, ocol = toks[o].start; crow, ccol = toks[c].start
        head, tail = lines[orow - 1][:ocol + 1], lines[crow - 1][ccol + 1:]
        indent = head[:len(head) - len(head.lstrip())]
        new = None
        multiline_token = items and any('\n' in t.string for it in items for t in it)
        if items and not multiline_token:
            keep_comma = trailing and len(items) == 1 and toks[o].string == '(' and not _is_call(toks, o)
            args = (head, items, lines, tail, toks[c].string, indent, keep_comma)
            cm = [t for t in toks[c:] if t.type == tokenize.COMMENT and t.start[0] == crow]
            code = tail[:cm[0].start[1] - ccol - 1].rstrip() if cm else tail
            above = [indent + cm[0].string] if cm else []  # a long comment goes above rather than break the code
            for aligned in (True, False):
                new = _layout(*args, aligned) or (above and (x := _layout(*args[:3], code, *args[4:], aligned))
                                                  and above + x) or None
                if new: break
        if new is None:
            done.add(done_key)
            continue
        src2 = '\n'.join(lines[:orow - 1] + new + lines[crow:])
        if ast.dump(ast.parse(src2)) != ast.dump(ast.parse(src)):
            raise AssertionError(f"reflow changed the code near line {orow}:\n" + '\n'.join(new))
        src = src2
        done = {k for k in done if k[0][0] < orow}  # positions after the edit shift: those are tried again


def problems(src: str) -> list[str]:
    "Lines that break the shape: a lone closing bracket after a one-item block; a doc comment on a lone `)`/`):`."
    try: toks = _tokens(src); ast.parse(src)
    except (SyntaxError, tokenize.TokenError): return []
    lines, out = src.split('\n'), []
    for o, c, _ in _blocks(toks):
        items, _t = _items(toks, o, c)
        if items is not None and len(items) == 1:
            out.append(f"line {toks[c].start[0]}: a lone {toks[c].string!r} closes a one-item block: join it")
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if '#' in s and s.split('#', 1)[0].strip() in ('):', ')', ') ->', '),'):
            out.append(f"line {i}: a comment on a line holding only {s.split('#', 1)[0].strip()!r} "
                       "(nbdev's docs lose it): put it on its parameter's line")
    return out


def _cells(nb):
    return [c for c in nb['cells'] if c['cell_type'] == 'code']


def reflow_notebook(path: Path) -> int:
    "Rewrite a notebook's code cells in place; the number of cells changed."
    nb, n = json.loads(path.read_text()), 0
    for c in _cells(nb):
        src = ''.join(c['source'])
        try: ast.parse(src)
        except SyntaxError: continue  # cells with IPython magics
        new = reflow(src)
        if new != src:
            c['source'] = new.splitlines(keepends=True); n += 1
    if n: path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return n


if __name__ == '__main__':
    root = Path(__file__).resolve().parent.parent
    paths = [Path(p) for p in sys.argv[1:]] or sorted((root/'nbs').rglob('*.ipynb'))
    for p in paths:
        if '.ipynb_checkpoints' in p.parts: continue
        if n := reflow_notebook(p): print(f"{p}: {n} cells reflowed")
