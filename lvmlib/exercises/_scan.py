"""The scan of an answer cell: one that touches the grading machinery is flagged for a look.

Part of the graded re-check (:mod:`lvmlib.exercises.grading`, which re-exports :func:`scan`): nbgrader's
hidden test prints the flags as ``lvmlib-flags: <grade_id> ...``; no solution of the course is flagged
(tests/exercises/test_grading.py).
"""

from __future__ import annotations

import ast

def code_of(source: str) -> str:
    """A cell's source with IPython's magics and shell lines commented out (so ``ast`` can read it)."""
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


_INTROSPECTION = {"sys.modules", "builtins", "__builtins__", "__import__", "importlib", "gc", "__closure__",
                  "__globals__", "__code__", "_getframe", "currentframe", "f_locals", "f_globals", "__wrapped__"}
_DYNAMIC = {"exec", "eval", "compile", "globals", "vars"}  # (as names: ``model.eval()`` is fine)


def scan(answer_source: str, setup_source: str = "") -> tuple[str, ...]:
    """Flags for a look at an answer cell (sorted, empty for an honest answer):

    ``touches-exercises`` (names ``exercises`` or imports ``lvmlib.exercises``), ``touches-report``
    (``Report``), ``touches-passed`` (``.passed``), ``patches-module`` (assigns an attribute of an imported
    module, or calls ``setattr`` / ``delattr``), ``introspection`` (``sys.modules``, ``builtins``, ``gc``,
    frames, ``__closure__``, ``exec`` / ``eval`` / ``compile``, ...), ``tensor-subclass`` (a ``torch.Tensor`` subclass or ``__torch_function__``),
    ``unreadable`` (does not parse).
    """
    try:
        tree = ast.parse(code_of(answer_source))
    except SyntaxError:
        return ("unreadable",)
    modules = set()
    for node in ast.walk(ast.parse(code_of(setup_source)) if setup_source else ast.Module([], [])):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
    flags = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id == "exercises":
                flags.add("touches-exercises")
            if node.id == "Report":
                flags.add("touches-report")
            if node.id in ("setattr", "delattr"):
                flags.add("patches-module")
            if node.id in _INTROSPECTION or node.id in _DYNAMIC:
                flags.add("introspection")
        elif isinstance(node, ast.Attribute):
            if node.attr == "passed":
                flags.add("touches-passed")
            if node.attr in ("exercises", "grading"):
                flags.add("touches-exercises")
            if node.attr == "Report":
                flags.add("touches-report")
            if node.attr == "modules" and isinstance(node.value, ast.Name) and node.value.id == "sys":
                flags.add("introspection")
            if node.attr in _INTROSPECTION or node.attr in ("__torch_function__", "__torch_dispatch__"):
                flags.add("tensor-subclass" if node.attr.startswith("__torch") else "introspection")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any("exercises" in n for n in names):
                flags.add("touches-exercises")
            if any(n.split(".")[0] in ("builtins", "importlib", "gc", "inspect", "ctypes") for n in names):
                flags.add("introspection")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Attribute):
                        root = sub
                        while isinstance(root, ast.Attribute):
                            root = root.value
                        if isinstance(root, ast.Name) and root.id in modules:
                            flags.add("patches-module")
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in ("exercises", "Report"):
            flags.add("touches-exercises" if node.name == "exercises" else "touches-report")
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if "Tensor" in ast.unparse(base):
                    flags.add("tensor-subclass")
            if any(isinstance(b, ast.FunctionDef) and b.name.startswith("__torch_") for b in node.body):
                flags.add("tensor-subclass")
    return tuple(sorted(flags))
