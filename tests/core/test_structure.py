"""The written rule (CONTRIBUTING.md), checked: the layers of the package (no cycles, no module
importing one above its layer, no private names across packages, no module over 500 lines), the
model protocol, and the exact quantities against closed forms."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from lvmlib.mixtures import em_bound
from lvmlib.vae import aggregate_moments
from lvmlib.models import (ExactModel, LatentVariableModel, LinearGaussian, MixtureOfGaussians, NonlinearLVM,
                           grid_kl, grid_posterior)
from lvmlib.vae import VAE

ROOT = Path(__file__).resolve().parents[2]
F64 = torch.float64


def test_the_models_satisfy_the_protocol():
    lin = LinearGaussian(torch.ones(2, 1, dtype=F64), None, 0.5)
    mix = MixtureOfGaussians(torch.tensor([0.5, 0.5]), torch.zeros(2, 1), torch.ones(2), "spherical")
    nl = NonlinearLVM(1, 2, generator=torch.Generator().manual_seed(0))
    vae = VAE(4, 2, (8,))
    for m in (lin, mix, nl, vae):
        assert isinstance(m, LatentVariableModel), type(m).__name__
    assert isinstance(lin, ExactModel) and isinstance(mix, ExactModel)
    assert not isinstance(vae, ExactModel)  # no exact log p(x) for a VAE
    assert not isinstance(object(), LatentVariableModel)  # the check can fail


#: the layers, lowest first: a module may import from its own layer's other modules or from below,
#: never from above.  A family is a subpackage; its ``__init__`` is its public API.
LAYERS = (
    {"_util"},  # the shared helpers: every module may use them, they import nothing of lvmlib
    {"device", "data", "nets", "plotting"},
    {"distributions"},
    {"models"},
    {"inference"},
    {"mixtures"},
    {"vae"},
    {"widgets"},
    {"lessons", "exercises"},
)
MAX_LINES = 500
PKG = ROOT / "lvmlib"


def _unit(module: str) -> str | None:
    """The layer unit of ``lvmlib.a.b``: ``a`` (a family or a top-level module); None for ``lvmlib`` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "lvmlib" else None


def _layer(unit: str) -> int:
    for n, units in enumerate(LAYERS):
        if unit in units:
            return n
    raise AssertionError(f"lvmlib.{unit} is in no layer: add it to LAYERS in tests/core/test_structure.py")


def _module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _lvmlib_imports(path: Path, root: Path = ROOT) -> list[tuple[str, list[str]]]:
    """Every ``lvmlib`` import in ``path`` (top level and inside functions): (module, names)."""
    me = _module_name(path, root)
    pkg = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            if mod == "lvmlib":  # from lvmlib import x: x is a module or a name of the package
                for a in node.names:
                    out.append((f"lvmlib.{a.name}" if (PKG / a.name).exists() or (PKG / f"{a.name}.py").exists()
                                else "lvmlib", [a.name]))
            elif mod.startswith("lvmlib."):
                out.append((mod, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("lvmlib.")]
    return out


LIB_FILES = sorted(PKG.rglob("*.py"))


def _layer_violations(path: Path, root: Path = ROOT) -> list[str]:
    me = _unit(_module_name(path, root))
    if me is None:
        return []  # lvmlib/__init__.py: the top-level convenience names
    out = []
    for mod, _ in _lvmlib_imports(path, root):
        other = _unit(mod)
        if other is not None and other != me and _layer(other) >= _layer(me):
            out.append(f"{path.relative_to(root)} ({me}, layer {_layer(me)}) imports {mod} (layer {_layer(other)})")
    return out


@pytest.mark.parametrize("path", LIB_FILES, ids=lambda p: p.relative_to(PKG).as_posix())
def test_every_name_in_all_exists(path):
    """``from lvmlib.x import *`` must not fail on a name that moved away (plotting once listed one)."""
    import importlib

    name = _module_name(path, ROOT)
    module = importlib.import_module(name)
    missing = [n for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names {missing}, which the module does not define"


@pytest.mark.parametrize("path", LIB_FILES, ids=lambda p: p.relative_to(PKG).as_posix())
def test_no_module_imports_one_above_its_layer(path):
    bad = _layer_violations(path)
    assert not bad, "; ".join(bad) + ": a module may only import from a lower layer (or its own package)"


def test_the_layer_check_can_fail(tmp_path):
    bad = tmp_path / "lvmlib" / "models" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    from lvmlib.vae import VAE\n")
    assert _layer_violations(bad, tmp_path)
    bad.write_text("from lvmlib.lessons import nb05\n")
    assert _layer_violations(bad, tmp_path)
    bad.write_text("from lvmlib.distributions import sample\nfrom lvmlib.models.linear import LinearGaussian\n")
    assert not _layer_violations(bad, tmp_path)


def test_no_import_cycles_between_modules():
    graph = {}
    names = {_module_name(p): p for p in LIB_FILES}
    for name, path in names.items():
        deps = set()
        for mod, imported in _lvmlib_imports(path):
            deps |= {f"{mod}.{n}" for n in imported if f"{mod}.{n}" in names}
            if mod in names:
                deps.add(mod)
        # a package's __init__ re-exports its modules: importing the package means importing them
        graph[name] = {d for d in deps if d != name and not name.startswith(d + ".")}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for d in graph.get(node, ()):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d, stack + [d])
        state[node] = 2

    for n in graph:
        if n not in state:
            visit(n, [n])


def test_no_private_name_is_imported_across_packages():
    for path in LIB_FILES:
        here = _module_name(path).rpartition(".")[0] if path.name != "__init__.py" else _module_name(path)
        for mod, imported in _lvmlib_imports(path):
            if mod == "lvmlib._util":
                continue  # the one private module meant to be shared
            there = mod.rpartition(".")[0] if (PKG / (mod.replace("lvmlib.", "", 1).replace(".", "/") + ".py")).exists() \
                else mod
            private = [n for n in imported if n.startswith("_")] + (
                [mod.rpartition(".")[2]] if mod.rpartition(".")[2].startswith("_") and mod != "lvmlib._util" else [])
            if private and there != here:
                raise AssertionError(f"{path.relative_to(ROOT)} imports private {private} from {mod} (another package)")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def _private_definitions(path: Path) -> set[str]:
    """The private names ``path`` defines: functions, classes, module names and ``self.``/``cls.`` attributes."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            out.add(node.attr)
    return {n for n in out if _is_private(n)}


def _private_attribute_uses(paths: list[Path], root: Path = ROOT) -> list[str]:
    """``obj._name`` in one module where ``_name`` is private to another module of ``paths`` (and not
    defined in this one): what one module needs from another must be public.  ``self.``/``cls.`` are
    the owner's own; a private name of a third-party object is not in ``paths`` (pyproject.toml pins those)."""
    defined = {p: _private_definitions(p) for p in paths}
    out = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)) or node.attr in defined[path]:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            owners = sorted(p.relative_to(root).as_posix() for p, names in defined.items() if node.attr in names)
            if owners:
                out.append(f"{path.relative_to(root)}:{node.lineno} uses .{node.attr}, private to {', '.join(owners)}")
    return out


def test_no_module_uses_another_modules_private_attributes():
    bad = _private_attribute_uses(LIB_FILES)
    assert not bad, "; ".join(bad) + ": make the name public (documented) or move the code to its owner"


def test_the_private_attribute_check_can_fail(tmp_path):
    owner, user = tmp_path / "owner.py", tmp_path / "user.py"
    owner.write_text("class A:\n    def __init__(self):\n        self._flag = 1\n\n    def _step(self):\n"
                     "        return self._flag\n")
    user.write_text("def f(a):\n    a._flag = 2\n    return a._step()\n")
    assert len(_private_attribute_uses([owner, user], tmp_path)) == 2
    user.write_text("def f(a):\n    return a.step(), a._own, a.__class__\n\n\nclass B:\n    _own = 0\n")
    assert not _private_attribute_uses([owner, user], tmp_path)


@pytest.mark.parametrize("path", LIB_FILES, ids=lambda p: p.relative_to(PKG).as_posix())
def test_no_module_is_over_the_size_limit(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines (limit {MAX_LINES}): split it by concept"


def test_no_lesson_module_imports_another_lessons_notebook():
    lessons = PKG / "lessons"
    notebooks = {f"lvmlib.lessons.{p.stem}" for p in lessons.glob("nb[0-9][0-9]*") if p.suffix in (".py", "")}
    for path in sorted(lessons.glob("nb*.py")) + sorted(lessons.glob("nb[0-9][0-9]/*.py")):
        mine = _module_name(path)
        others = {n for n in notebooks if mine != n and not mine.startswith(n + ".")}
        hit = {m for m, _ in _lvmlib_imports(path)
               if any(m == o or m.startswith(o + ".") for o in others)}
        assert not hit, f"{path.name} imports {hit}: a piece two lessons share goes to lessons/toy.py or a family"


def test_no_exercise_module_imports_another_notebooks_checks():
    exercises = PKG / "exercises"
    for path in sorted(exercises.glob("nb*.py")):
        others = {f"lvmlib.exercises.{p.stem}" for p in exercises.glob("nb*.py")} - {f"lvmlib.exercises.{path.stem}"}
        hit = {m for m, _ in _lvmlib_imports(path)} & others
        assert not hit, f"{path.name} imports {hit}: cases two notebooks share go to exercises/_cases.py"


def test_widgets_hold_only_the_slider_machinery():
    files = {p.name for p in (PKG / "widgets").glob("*.py")}
    assert files == {"__init__.py", "app.py", "_png.py", "record.py", "client.py"}, files


def test_the_registries_are_discovered():
    from lvmlib import exercises, lessons

    stems = sorted(p.stem for p in (PKG / "lessons").glob("nb[0-9][0-9]*") if p.suffix == ".py" or p.is_dir())
    assert list(lessons.NOTEBOOK_MODULES) == stems
    assert list(exercises.NOTEBOOK_MODULES) == sorted(p.stem for p in (PKG / "exercises").glob("nb[0-9][0-9].py"))
    sources = sorted(p.name[:2] for p in (ROOT / "tools" / "notebook_src").glob("[0-9][0-9]_*.py"))
    assert [s[2:] for s in stems] == sources, "every notebook source has its lesson module"


# ----------------------------------------------------------------------------------------
# the exact quantities, against closed forms
# ----------------------------------------------------------------------------------------


def _mixture():
    w = torch.tensor([0.3, 0.7], dtype=F64)
    mu = torch.tensor([[-1.0, 0.0], [2.0, 1.0]], dtype=F64)
    cov = torch.stack([torch.eye(2, dtype=F64) * 0.5, torch.tensor([[1.0, 0.3], [0.3, 0.8]], dtype=F64)])
    x = torch.tensor([[0.0, 0.0], [1.5, 1.0], [-2.0, 0.5], [3.0, 2.0]], dtype=F64)
    return MixtureOfGaussians(w, mu, cov, "full"), w, mu, cov, x


def test_em_bound_equals_the_log_likelihood_at_the_posterior_and_is_below_elsewhere():
    model, w, mu, cov, x = _mixture()
    post = model.posterior(x).probs  # [N, K]
    exact_ll = float(model.log_marginal(x).mean())
    assert em_bound(x, w, mu, cov, post) == pytest.approx(exact_ll, abs=1e-12)
    other = torch.full_like(post, 0.5)
    assert em_bound(x, w, mu, cov, other) < exact_ll - 1e-3
    # the gap is the mean KL(q_n || posterior_n) (Bishop, PRML eq. 9.70)
    kl = (other * (other.log() - post.log())).sum(1).mean()
    assert exact_ll - em_bound(x, w, mu, cov, other) == pytest.approx(float(kl), abs=1e-10)


def test_grid_kl_matches_the_closed_form_for_a_gaussian_posterior():
    model = LinearGaussian(torch.tensor([[1.2]], dtype=F64), None, 0.6)
    x = torch.tensor([[0.7]], dtype=F64)
    gp = grid_posterior(x, model, resolution=4001, bound=8.0)
    post = model.posterior(x)  # MultivariateNormal, event [1]
    p = Normal(post.loc[0, 0], post.covariance_matrix[0, 0, 0].sqrt())
    q = Normal(torch.tensor([0.0, 0.5], dtype=F64), torch.tensor([1.0, 0.3], dtype=F64))
    torch.testing.assert_close(grid_kl(q, gp), kl_divergence(q, p), atol=1e-8, rtol=1e-6)


class _FixedEncoder:
    """A stand-in for a VAE: encoder(x) = N(mu_n, diag sigma_n^2) from fixed tables."""

    def __init__(self, mu, sd):
        self.mu, self.sd = mu, sd

    def encoder(self, x):
        return torch.distributions.Independent(Normal(self.mu, self.sd), 1)


def test_aggregate_posterior_moments_match_sampling_the_mixture():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 2, generator=g, dtype=F64)
    sd = torch.rand(5, 2, generator=g, dtype=F64) + 0.2
    mean, cov = aggregate_moments(_FixedEncoder(mu, sd), torch.zeros(5, 3))
    n = 400_000
    comp = torch.randint(0, 5, (n,), generator=g)
    z = mu[comp] + sd[comp] * torch.randn(n, 2, generator=g, dtype=F64)
    np.testing.assert_allclose(mean, z.mean(0).numpy(), atol=0.01)
    np.testing.assert_allclose(cov, np.cov(z.numpy().T), atol=0.02)
    assert math.isclose(cov[0, 1], cov[1, 0])
