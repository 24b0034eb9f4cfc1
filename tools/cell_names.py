"""The global names each statement of a notebook cell binds, reads, changes or passes on.

What :mod:`nbval_editions` needs to follow values from cell to cell: for each top-level statement
of a cell (a ``with`` block's statements one by one), a :class:`Step` with the names it binds,
resets (binds for sure), reads before binding them (its inputs), changes through a method call or
passes to a call.  Names local to a function, lambda or comprehension are not the notebook's and are
left out; a name read inside a function body counts as read (globals are read at call time).
IPython magic lines are ignored.  A cell that cannot be followed statically (it does not parse,
uses ``import *``, ``exec``, ``eval``, ``globals()``, ``locals()``, ``vars()`` or ``get_ipython``)
raises :class:`Opaque`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["Step", "CellNames", "Opaque", "cell_names"]

_OPAQUE_CALLS = frozenset({"exec", "eval", "globals", "locals", "vars", "get_ipython", "__import__"})


@dataclass(frozen=True)
class Step:
    """The global names of one top-level statement of a cell (a ``with`` block's statements count one by one).

    ``binds``: names it binds or changes in place (assignment, ``def``, import, ``x.a = ``,
    ``x[i] = ``, ``x += ``, ``del``);
    ``receivers``: ``x`` of method calls ``x.m(...)`` (which may change ``x``);
    ``passed``: names passed to a call ``f(x)`` (the callee may change them: a generator, a model);
    ``calls``: per call, ``(callee, names passed, receiver, names its arguments read)``, where
    ``callee`` is ``f`` of ``f(...)`` or ``x`` of ``x.m(...)``;
    ``resets``: names it binds unconditionally (the old value is gone);
    ``reads``: the names it loads that the cell has not bound before it (its inputs; inside function
    bodies too: globals are read at call time);
    ``imports``: names bound by an import (calling a module's functions does not change the name).
    """

    binds: frozenset
    receivers: frozenset
    passed: frozenset
    calls: frozenset
    resets: frozenset
    reads: frozenset
    imports: frozenset


@dataclass(frozen=True)
class CellNames:
    """A cell's steps, and their names together (``reads``: the cell's inputs)."""

    steps: tuple

    def _union(self, field: str) -> frozenset:
        return frozenset().union(*(getattr(st, field) for st in self.steps))

    binds = property(lambda self: self._union("binds"))
    receivers = property(lambda self: self._union("receivers"))
    passed = property(lambda self: self._union("passed"))
    resets = property(lambda self: self._union("resets"))
    reads = property(lambda self: self._union("reads"))
    imports = property(lambda self: self._union("imports"))


class Opaque(ValueError):
    """A cell whose names cannot be followed statically."""


def _strip_magics(source: str) -> str:
    """IPython magics and shell lines (``%...``, ``!...``) as ``pass`` (same line numbers)."""
    return "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in source.split("\n"))


def _target_names(node) -> set[str]:
    """Names a target binds or changes: ``a``, ``a, b``, ``*a``, and the base name of ``a.x`` / ``a[i]``."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List)):
        return set().union(*(_target_names(e) for e in node.elts)) if node.elts else set()
    if isinstance(node, ast.Starred):
        return _target_names(node.value)
    if isinstance(node, (ast.Attribute, ast.Subscript)):
        return _target_names(node.value)
    return set()


def _base_name(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
           ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def _local_names(scope) -> set[str]:
    """Names local to a function, lambda or comprehension (its parameters, comprehension targets and
    what its own body binds, less ``global`` declarations); a class body's names are not local to the
    functions inside it, so a class has none here (its reads are treated as global: conservative)."""
    if isinstance(scope, ast.ClassDef):
        return set()
    local: set[str] = set()
    declared: set[str] = set()
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = scope.args
        local |= {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
        local |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
        body = scope.body if isinstance(scope.body, list) else [scope.body]
    else:
        local |= set().union(*(_target_names(g.target) for g in scope.generators))
        body = [scope.elt] if hasattr(scope, "elt") else [scope.key, scope.value]
        body += [c for g in scope.generators for c in g.ifs]

    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Global):
                declared.update(child.names)
            elif isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
                local.add(child.id)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                local.add(child.name)  # its body is its own scope
                continue
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                local.update((a.asname or a.name).split(".")[0] for a in child.names)
            if not isinstance(child, _SCOPES):
                walk(child)

    for stmt in body:
        walk(ast.Module(body=[stmt], type_ignores=[]) if isinstance(stmt, ast.stmt) else ast.Expr(stmt))
    return local - declared


class _Walker(ast.NodeVisitor):
    """Collects the global names a cell binds, reads, changes through a method call or passes to a call.

    Names local to a function, lambda or comprehension are not global: they are left out."""

    def __init__(self):
        self.binds: set[str] = set()
        self.reads: set[str] = set()
        self.imports: set[str] = set()
        self.receivers: set[str] = set()  # x of x.m(...)
        self.passed: set[str] = set()  # x of f(x)
        self.calls: set[tuple] = set()
        self._locals: list[set[str]] = []  # one set per enclosing scope
        self._depth = 0  # > 0 inside a function, lambda, class body or comprehension

    def _global(self, name: str) -> bool:
        return not any(name in scope for scope in self._locals)

    def _bind(self, names):
        self.binds |= {n for n in names if self._global(n)} if self._depth else set(names)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            if node.id in _OPAQUE_CALLS:
                raise Opaque(f"uses {node.id}")
            if self._global(node.id):
                self.reads.add(node.id)
        elif self._depth == 0:
            self.binds.add(node.id)

    def visit_Global(self, node):
        self.binds |= set(node.names)  # a function that declares a global may rebind it when called

    def visit_Import(self, node):
        names = {(a.asname or a.name).split(".")[0] for a in node.names}
        if self._depth == 0:
            self.binds |= names
            self.imports |= names

    def visit_ImportFrom(self, node):
        if any(a.name == "*" for a in node.names):
            raise Opaque("import *")
        names = {a.asname or a.name for a in node.names}
        if self._depth == 0:
            self.binds |= names
            self.imports |= names

    def _scope(self, node, name=None):
        if name is not None and self._depth == 0:
            self.binds.add(name)
        for d in getattr(node, "decorator_list", []):
            self.visit(d)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                self.visit(default)  # evaluated where the function is defined
        self._locals.append(_local_names(node))
        self._depth += 1
        try:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                parts = node.body if isinstance(node.body, list) else [node.body]
                parts += list(getattr(node, "bases", [])) + [k.value for k in getattr(node, "keywords", [])]
            else:
                parts = [g.iter for g in node.generators] + [c for g in node.generators for c in g.ifs]
                parts += [node.elt] if hasattr(node, "elt") else [node.key, node.value]
            for part in parts:
                self.visit(part)
        finally:
            self._locals.pop()
            self._depth -= 1

    def visit_FunctionDef(self, node):
        self._scope(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._scope(node, node.name)

    def visit_Lambda(self, node):
        self._scope(node)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_Lambda

    def visit_NamedExpr(self, node):
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.binds.add(node.target.id)  # := binds in the enclosing scope, even in a comprehension

    def visit_Attribute(self, node):
        if not isinstance(node.ctx, ast.Load):
            self._bind(_target_names(node))
        self.generic_visit(node)

    def visit_Subscript(self, node):
        if not isinstance(node.ctx, ast.Load):
            self._bind(_target_names(node))
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        names = {n for n in _target_names(node.target) if self._global(n)}
        self._bind(names)
        self.reads |= names
        self.generic_visit(node)

    def visit_Delete(self, node):
        for t in node.targets:
            self._bind(_target_names(t))
        self.generic_visit(node)

    def visit_Call(self, node):
        receiver = None
        if isinstance(node.func, ast.Attribute):
            base = _base_name(node.func.value)
            if base is not None and self._global(base):
                receiver = base
                self.receivers.add(base)  # x.m(...) may change x
        callee = node.func.id if isinstance(node.func, ast.Name) else receiver
        args = list(node.args) + [k.value for k in node.keywords]
        passed = set()
        for a in args:
            a = a.value if isinstance(a, ast.Starred) else a
            if isinstance(a, ast.Name) and self._global(a.id):
                passed.add(a.id)  # f(x) may change x (a generator, a model, a list)
        arg_reads = {n.id for a in args for n in ast.walk(a)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and self._global(n.id)}
        self.passed |= passed
        self.calls.add((callee, frozenset(passed), receiver, frozenset(arg_reads)))
        self.generic_visit(node)


def cell_names(source: str) -> CellNames:
    """The global names of each top-level statement of a cell (:class:`Step`); :class:`Opaque` if unknown."""
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError as err:
        raise Opaque(f"does not parse ({err.msg})") from None
    steps, bound = [], set()
    for stmt in _statements(tree.body):
        w = _Walker()
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            w.visit(stmt.iter)
            inner = _Walker()
            for node in [stmt.target] + stmt.body + stmt.orelse:
                inner.visit(node)
            w.reads |= inner.reads - _target_names(stmt.target)  # the loop binds its target first
            for field in ("binds", "imports", "receivers", "passed", "calls"):
                getattr(w, field).update(getattr(inner, field))
        else:
            w.visit(stmt)
        resets = _resets(stmt)
        steps.append(Step(frozenset(w.binds), frozenset(w.receivers), frozenset(w.passed), frozenset(w.calls),
                          frozenset(resets), frozenset(w.reads - bound), frozenset(w.imports)))
        bound |= resets
    return CellNames(tuple(steps))


def _statements(body):
    """Top-level statements; a ``with`` block as its header (``_WithHeader``) and then its statements."""
    for stmt in body:
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield _WithHeader(stmt.items)
            yield from _statements(stmt.body)
        else:
            yield stmt


class _WithHeader(ast.stmt):
    _fields = ("items",)


def _resets(stmt) -> set[str]:
    """Names a top-level statement always binds (``a = ``, ``a, b = ``, ``def a``, ``import a``, ``with ... as a``)."""
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        out = set()
        for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]):
            if isinstance(t, ast.Name):
                out.add(t.id)
            elif isinstance(t, (ast.Tuple, ast.List)):
                out |= {e.id for e in t.elts if isinstance(e, ast.Name)}
        return out
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, _WithHeader):
        return {n for item in stmt.items if item.optional_vars is not None
                for n in _target_names(item.optional_vars) if isinstance(item.optional_vars, ast.Name)}
    return set()
