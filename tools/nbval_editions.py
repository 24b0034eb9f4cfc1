"""The solved edition under nbval: only the cells that differ from the student edition, and what they feed.

``notebooks/NN.ipynb`` (student) and ``notebooks/solutions/NN.ipynb`` (solved) are built from one
source and share every code cell but the exercises' solutions (``tools/nbbuild.py``).  nbval runs the
student edition in full.  In the solved edition this plugin runs, in a fresh kernel, only

- the **changed** cells: the k-th code cell whose source differs from the student edition's k-th
  code cell (a solution), or whose stored outputs differ as nbval compares them (sanitized, streams
  merged, images and widget ids left out: e.g. a check that passed, a ``choose`` that says whose
  function runs, numbers computed with the solution);
- the **fed** cells: every later cell with a statement that reads a name a changed or fed statement
  bound or may have changed: what it assigns, what it passes to a call that involves such a name
  (``fit_used(model, ...)`` and ``train(f_used, model)`` change ``model``), and the receiver of a
  method given such an argument (``results.append(f_used(x))``).  So the check reads the function,
  ``choose`` binds ``*_used``, and the cells that run ``*_used`` and use what it produced are fed;
- the cells those need: for each name a running cell reads, every earlier cell back to the name's
  last unconditional binding that bound it, passed it to a call or called its methods (a generator
  ``g`` is then in the state the full run left it in), and so on back;

and compares their outputs with the stored ones as nbval always does.  Every other cell is
reported as skipped: it has the same source, the same inputs and the same stored outputs as in the
student edition, where it ran.  What names cannot show (a function that changes an object reached
through an attribute, ``f(data.x)``, or module state) shows in the stored outputs, which nbbuild
writes by running both editions in full: a later cell whose stored output differs between the
editions counts as changed.  A solution that is wrong, or a changed or fed cell whose output
changes, still fails (``tests/notebooks/test_nbval_editions.py`` shows both on a deliberately broken copy).

Slider apps shown by executed cells of the solved edition display as one text line instead of
recording every state (their cells carry the tag ``nbval-ignore-output``; the student edition's run
records them, and ``tests/widgets/`` and ``tests/lessons/`` test the recorder and every app's states).

A notebook this analysis cannot follow (a cell that does not parse, ``import *``, ``exec``,
``globals()``, or editions with different code cell counts) runs in full.  ``LVMLIB_NBVAL_SOLVED=full``
runs every solved edition in full.  ``python tools/nbval_editions.py notebooks`` prints each plan.

Installed by the repository's root ``conftest.py`` (:func:`install`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
try:
    from tools.cell_names import Opaque, cell_names
    from tools.nbval_markers import ignores_output
except ModuleNotFoundError:  # run as a script (python tools/nbval_editions.py): its own folder is on sys.path
    from cell_names import Opaque, cell_names
    from nbval_markers import ignores_output

FULL_ENV = "LVMLIB_NBVAL_SOLVED"  # =full: run the solved edition in full
SOLUTIONS_DIR = "solutions"
# the cheap display of a slider app in the solved edition's kernel (IPython's public formatter API)
KERNEL_SETUP = '''
def _lvmlib_unrecorded_app(app, include=None, exclude=None):
    return {"text/plain": f"<slider app {getattr(app, 'name', '?')}: states not recorded in the solved "
                          "edition under test (tools/nbval_editions.py)>"}
get_ipython().display_formatter.mimebundle_formatter.for_type_by_name(
    "lvmlib.widgets.app", "SliderApp", _lvmlib_unrecorded_app)
del _lvmlib_unrecorded_app
'''


# --------------------------------------------------------------------------------------------
# the plan: which code cells of the solved edition run
# --------------------------------------------------------------------------------------------

@dataclass
class Plan:
    """Which code cells (0-based, counting code cells only) of the solved edition run, and why."""

    run: set[int]
    changed: set[int]
    fed: set[int]
    total: int
    full_reason: str = ""  # non-empty: the whole notebook runs, and why

    def reason(self, k: int) -> str:
        if self.full_reason:
            return self.full_reason
        if k in self.changed:
            return "changed"
        if k in self.fed:
            return "fed"
        return "needed" if k in self.run else "skipped"


def comparable_outputs(outputs, sanitize=lambda s: s) -> list:
    """A cell's stored outputs as nbval compares them: streams merged per name, text sanitized,
    images, metadata, execution counts and widget ids left out."""
    merged: dict = {}
    out = []
    for o in outputs:
        kind = o.get("output_type")
        if kind == "stream":
            name = o.get("name", "stdout")
            if name not in merged:
                merged[name] = len(out)
                out.append(["stream", name, ""])
            out[merged[name]][2] += o.get("text", "")
        elif kind in ("display_data", "execute_result"):
            data = {k: v for k, v in o.get("data", {}).items()
                    if not k.startswith("image/") and k != "application/vnd.jupyter.widget-view+json"}
            out.append([kind, {k: sanitize(v) if isinstance(v, str) else v for k, v in sorted(data.items())}])
        elif kind == "error":
            out.append(["error", o.get("ename"), o.get("evalue")])
    for item in out:
        if item[0] == "stream":
            item[2] = sanitize(item[2])
    return out


def plan(student_cells: list, solved_cells: list, sanitize=lambda s: s) -> Plan:
    """The plan for one pair of editions, from their code cells (``nbformat`` cells, in order)."""
    n = len(solved_cells)
    everything = Plan(set(range(n)), set(), set(), n)
    if len(student_cells) != n:
        everything.full_reason = f"the editions have {len(student_cells)} and {n} code cells: run in full"
        return everything
    try:
        names = [cell_names(c.source) for c in solved_cells]
    except Opaque as err:
        everything.full_reason = f"a cell {err}: run in full"
        return everything
    changed = set()
    for k, (a, b) in enumerate(zip(student_cells, solved_cells)):
        if a.source != b.source:
            changed.add(k)
        elif not ignores_output(b) and \
                comparable_outputs(a.get("outputs", []), sanitize) != comparable_outputs(b.get("outputs", []), sanitize):
            changed.add(k)
    imported = set().union(*(cn.imports for cn in names))  # a module's functions do not change the module
    # forward, statement by statement: a statement that reads a tainted name taints what it binds, what
    # it passes to a tainted function (``fit_used(model, ...)`` trains ``model``) and the receiver of a
    # method given a tainted argument (``results.append(f_used(x))``); one that reads none cleans
    # what it resets
    tainted: set[str] = set()
    fed = set()
    for k, cn in enumerate(names):
        hit = k in changed
        for st in cn.steps:
            if k in changed or st.reads & tainted:
                hit = True
                new = set(st.binds)
                for callee, passed, receiver, arg_reads in st.calls:
                    if callee in tainted or arg_reads & tainted or k in changed:
                        new |= passed
                    if receiver is not None and (arg_reads & tainted or k in changed):
                        new.add(receiver)
                tainted |= new - (imported - st.imports)
            else:
                tainted -= st.resets
        if hit and k not in changed:
            fed.add(k)
    # backward: every earlier cell that bound, changed or passed a name a running cell reads, back to
    # the name's last reset (so a generator is in the state the full run left it in)
    touches = [(cn.binds - (imported - cn.imports)) | ((cn.receivers | cn.passed) - imported) for cn in names]
    run = changed | fed
    todo = sorted(run)
    while todo:
        k = todo.pop()
        for name in names[k].reads:
            for j in range(k - 1, -1, -1):
                if name in touches[j] or name in names[j].resets:
                    if j not in run:
                        run.add(j)
                        todo.append(j)
                    if name in names[j].resets:
                        break
    return Plan(run, changed, fed, n)


def student_edition(path: Path) -> Path | None:
    """``notebooks/NN.ipynb`` for ``notebooks/solutions/NN.ipynb`` (None when ``path`` is not a solved edition)."""
    path = Path(path)
    if path.parent.name != SOLUTIONS_DIR:
        return None
    twin = path.parent.parent / path.name
    return twin if twin.exists() else None


def plan_files(student: Path, solved: Path, sanitize=lambda s: s) -> Plan:
    import nbformat

    def code(p):
        return [c for c in nbformat.read(str(p), as_version=4).cells if c.cell_type == "code"]

    return plan(code(student), code(solved), sanitize)


# --------------------------------------------------------------------------------------------
# the pytest side
# --------------------------------------------------------------------------------------------

def _sanitizer(config):
    """nbval's sanitize patterns (``--nbval-sanitize-with``) as one function."""
    from nbval.plugin import get_sanitize_patterns

    fname = getattr(config.option, "nbval_sanitize_with", None)
    patterns = get_sanitize_patterns(Path(fname).read_text()) if fname else []
    patterns = list(patterns.items()) if isinstance(patterns, dict) else list(patterns)

    def sanitize(s: str) -> str:
        for regex, replace in patterns:
            s = re.sub(regex, replace, s)
        return s

    return sanitize


def install(config) -> bool:
    """Register the plugin with pytest (``config.pluginmanager``); False without nbval."""
    try:
        import nbval.plugin  # noqa: F401
    except ImportError:
        return False
    if not config.pluginmanager.has_plugin("lvmlib-nbval-editions"):
        config.pluginmanager.register(_Plugin(), "lvmlib-nbval-editions")
    return True


class _Plugin:
    """Replaces nbval's collector of a solved edition by :func:`solved_edition_collector`'s."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_collect_file(self, file_path, parent):
        outcome = yield
        opt = parent.config.option
        if not (getattr(opt, "nbval", False) and file_path.suffix == ".ipynb"):
            return
        if os.environ.get(FULL_ENV, "").strip().lower() == "full" or student_edition(file_path) is None:
            return
        from nbval.plugin import IPyNbFile

        results = [r for r in (outcome.get_result() or []) if not isinstance(r, IPyNbFile)]
        results.append(solved_edition_collector().from_parent(parent, path=file_path))
        outcome.force_result(results)


_COLLECTOR = []


def solved_edition_collector():
    """The collector class (made on first use: it needs nbval and pytest)."""
    if _COLLECTOR:
        return _COLLECTOR[0]
    from nbval.plugin import IPyNbFile

    class SolvedEdition(IPyNbFile):
        """nbval's notebook collector, running only the cells of :func:`plan` (the others skipped)."""

        def collect(self):
            twin = student_edition(self.path)
            self.plan = plan_files(twin, self.path, _sanitizer(self.config))
            for item in super().collect():
                if item.cell_num not in self.plan.run:
                    item.add_marker(pytest.mark.skip(
                        reason=f"solved edition: same source, inputs and stored outputs as {twin.name} "
                               "in the student edition (tools/nbval_editions.py)"))
                yield item

        def setup(self):
            super().setup()
            msg_id = self.kernel.execute_cell_input(KERNEL_SETUP, allow_stdin=False)
            self.kernel.await_reply(msg_id, timeout=60)
            self.kernel.await_idle(msg_id, timeout=60)

    _COLLECTOR.append(SolvedEdition)
    return SolvedEdition


def main(argv=None) -> int:
    """Print the plan of every solved edition under a notebooks folder."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", default="notebooks")
    parser.add_argument("--sanitize-with", default="tests/nbval_sanitize.cfg", help="nbval's sanitize file")
    args = parser.parse_args(argv)
    from types import SimpleNamespace

    cfg = Path(args.sanitize_with)
    sanitize = _sanitizer(SimpleNamespace(option=SimpleNamespace(nbval_sanitize_with=str(cfg) if cfg.exists() else None)))
    for solved in sorted(Path(args.folder, SOLUTIONS_DIR).glob("*.ipynb")):
        twin = student_edition(solved)
        if twin is None:
            continue
        p = plan_files(twin, solved, sanitize)
        skipped = sorted(set(range(p.total)) - p.run)
        print(f"{solved.name}: runs {len(p.run)} of {p.total} code cells "
              f"(changed {sorted(p.changed)}, fed {sorted(p.fed)}, needed {sorted(p.run - p.changed - p.fed)}); "
              f"skipped {skipped}{'; ' + p.full_reason if p.full_reason else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
