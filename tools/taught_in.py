"""Write (or check) the "Taught in notebook NN" line of every public lvmlib callable (issue 29 part 5).

The notebook that teaches a name is the first whose code uses it (the notebook source's code lines, its lesson
module lvmlib/lessons/nbNN.py or its exercise checks lvmlib/exercises/nbNN.py); later notebooks that use it are listed after. Run: python tools/taught_in.py [--check]
"""
from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("lvmlib.mixtures", "lvmlib.inference", "lvmlib.models", "lvmlib.vae", "lvmlib.data", "lvmlib.device")
#: names whose notebook is not the first that calls lvmlib's version: the student writes it there
TEACHES = {"importance_sampling": "05"}  # exercise 5.1 writes it; notebook 10 is the first to call lvmlib's
LINE = re.compile(r"^\s*Taught in notebook \d\d.*$")


def _names(text: str) -> set[str]:
    """The lvmlib names a piece of Python code uses: imported by name from lvmlib (``from lvmlib.vae import
    train``), read as an attribute (``vae.train``, ``inference.elbo``), or named in full in a comment or a
    markdown cell (``lvmlib.vae.MixturePrior``). A local variable that happens to share a name does not count."""
    names = set(re.findall(r"\blvmlib(?:\.\w+)*\.(\w+)", text))
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lvmlib"):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


def notebook_code() -> dict[str, tuple[str, set[str]]]:
    """NN -> (title, the lvmlib names that the notebook source, its lesson module and its checks use)."""
    out = {}
    for src in sorted((ROOT / "tools" / "notebook_src").glob("[0-9][0-9]_*.py")):
        nn = src.name[:2]
        text = src.read_text()
        title = re.search(r"^# # \d\d · ([^:\n]+)", text, re.M).group(1).strip()
        lesson = ROOT / "lvmlib" / "lessons"  # nbNN.py, or the package nbNN/
        for helper in (lesson / f"nb{nn}.py", *sorted((lesson / f"nb{nn}").glob("*.py")),
                       ROOT / "lvmlib" / "exercises" / f"nb{nn}.py"):
            text += "\n" + (helper.read_text() if helper.exists() else "")
        out[nn] = (title, _names(text))
    return out


def public_callables():
    """(name, object) for every public function and class that MODULES export."""
    seen = set()
    for modname in MODULES:
        m = importlib.import_module(modname)
        for n in getattr(m, "__all__", None) or [n for n in dir(m) if not n.startswith("_")]:
            obj = getattr(m, n)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__.startswith("lvmlib") and id(obj) not in seen:
                seen.add(id(obj))
                yield n, obj


def pointer(name: str, code: dict) -> str | None:
    """The line for ``name``: 'Taught in notebook 05 (importance sampling); also used in 06 and 07.'"""
    uses = [nn for nn, (_, names) in code.items() if name in names]
    if name in TEACHES:
        uses = [TEACHES[name]] + [nn for nn in uses if nn != TEACHES[name]]
    if not uses:
        return None
    first, rest = uses[0], uses[1:]
    line = f"Taught in notebook {first} ({code[first][0]})"
    if rest:
        line += "; also used in " + (", ".join(rest[:-1]) + " and " + rest[-1] if len(rest) > 1 else rest[0])
    return line + "."


def _docstring_node(tree, qualname):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == qualname:
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                return node, node.body[0]
    return None, None


def rewrite(obj, line: str | None) -> bool:
    """Put ``line`` as the last paragraph of ``obj``'s docstring in its source file; True if the file changed."""
    obj = inspect.unwrap(obj)  # torch.no_grad() and friends wrap a function
    path = Path(inspect.getsourcefile(obj))
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    node, doc = _docstring_node(ast.parse(text), obj.__name__)
    if doc is None:
        raise SystemExit(f"{obj.__module__}.{obj.__name__} ({path}): no docstring found")
    start, end = doc.lineno - 1, doc.end_lineno - 1
    block = lines[start:end + 1]
    indent = " " * (node.col_offset + 4)
    # drop an old pointer paragraph
    body = "".join(block)
    quote = '"""' if body.rstrip().endswith('"""') else "'''"
    inner = body.rstrip()[:-3]
    kept = [l for l in inner.splitlines() if not LINE.match(l)]
    while kept and not kept[-1].strip():
        kept.pop()
    new_inner = "\n".join(kept)
    if line is not None:
        one_line = len(kept) == 1
        new_inner += "\n\n" + indent + line + "\n" + indent
    else:
        new_inner += ("\n" + indent) if len(kept) > 1 else ""
    new = new_inner + quote + "\n"
    if new == body:
        return False
    lines[start:end + 1] = [new]
    path.write_text("".join(lines))
    return True


def main(argv=None) -> int:
    check = "--check" in (argv or sys.argv[1:])
    code = notebook_code()
    stale = []
    for name, obj in public_callables():
        line = pointer(name, code)
        doc = inspect.getdoc(obj) or ""
        have = [l.strip() for l in doc.splitlines() if LINE.match(l)]
        if have != ([line] if line else []):
            stale.append(f"{obj.__module__}.{name}: has {have or 'no pointer'}, should have {line!r}")
            if not check:
                rewrite(obj, line)
    if check and stale:
        print("\n".join(stale))
        return 1
    print(f"{len(stale)} docstrings {'stale' if check else 'rewritten'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
