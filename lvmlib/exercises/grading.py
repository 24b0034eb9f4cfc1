"""The graded re-check: a code exercise graded in a fresh Python process, not in the student's kernel.

A check cell runs in the student's kernel, where every name can be rebound: ``check_*`` replaced,
``Report.passed`` forced, ``torch.allclose`` patched, the name ``exercises`` rebound.  The grade
therefore never uses the kernel.  :func:`grade` re-runs the exercise's answer cell (after the
notebook's import lines) in a new process started with ``sys.executable``, where

- lvmlib's own answer to that exercise (:attr:`Exercise.library`: e.g. ``lvmlib.inference.log_weights``
  for 5.1) is replaced by a gate that refuses to run while the student's code runs: an answer that only
  calls it is not a pass (outcome ``library-call``);
- the check is the one lvmlib's module defines, taken before the answer cell runs, and its report is
  read there; a change the answer makes to torch's, lvmlib's or the builtins' functions (``torch.allclose
  = ...``, ``setattr(exercises, ...)``) is detected and the outcome is ``tampered``;
- the whole process is killed at ``time_limit`` seconds (a loop that swallows every exception
  included: outcome ``timeout``).

:func:`autograde` is nbgrader's hidden test of one exercise: it reads the submitted notebook from disk,
finds the answer cell by its nbgrader ``grade_id``, takes the notebook's import statements as setup, calls
:func:`grade`, prints ``lvmlib-outcome: <grade_id> <outcome>`` and a short wrapped diagnosis, and raises a
short ``AssertionError`` unless it passed.  :func:`scan` flags an answer cell for a look (it touches
``lvmlib.exercises``, ``Report``, ``.passed``, patches a module, ...).  ``python -m lvmlib.exercises.grading
NOTEBOOK`` grades every code exercise of a notebook file without any kernel.

Outcomes: ``passed``; a check's named mistake (``no-logK``, ``changed-input``, ...); ``wrong`` (no mistake
named); ``not-done`` (the stub's NotImplementedError, or the names not defined); ``error``; ``timeout``;
``library-call``; ``tampered``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from lvmlib.exercises._scan import code_of as _code, scan

__all__ = ["Exercise", "EXERCISES", "Outcome", "grade", "autograde", "scan", "answer_and_setup", "regrade",
           "wrap", "TIME_LIMIT", "FIXED_OUTCOMES"]

#: seconds a graded re-check may take in all (the process is killed then: outcome ``timeout``)
TIME_LIMIT = 180.0
#: outcomes that are not a check's named mistake
FIXED_OUTCOMES = ("passed", "wrong", "not-done", "error", "timeout", "library-call", "tampered")
WIDTH = 100


@dataclass(frozen=True)
class Exercise:
    """One code exercise as the course grades it.

    grade_id: nbgrader's id of the answer cell, ``exN_M``.  notebook: the source's stem.
    check: ``"lvmlib.exercises.nbNN:check_x"``, called with the answer's functions ``names`` in order.
    library: lvmlib's own answers to the exercise, ``"module:attr"`` or ``"module:Class.attr"``: not
    callable while the student's code runs in the graded process.
    """

    grade_id: str
    notebook: str
    check: str
    names: tuple
    library: tuple


def _ex(gid, nb, check, names, *library):
    return Exercise(gid, nb, check, tuple(names.split()), tuple(library))


_EST = "lvmlib.inference.estimators"
_X = "lvmlib.exercises"
EXERCISES = {e.grade_id: e for e in [
    _ex("ex1_1", "01_latent_variable_models", f"{_X}.nb01:check_sample_story", "sample_story",
        "lvmlib.lessons.nb01:story_recipe", f"{_X}.nb01:_story_reference"),
    _ex("ex2_1", "02_mixture_of_gaussians_em", f"{_X}.nb02:check_e_step", "e_step",
        "lvmlib.mixtures.reference:e_step", f"{_X}.nb02:_e_step_reference"),
    _ex("ex2_2", "02_mixture_of_gaussians_em", f"{_X}.nb02:check_m_step", "m_step",
        "lvmlib.mixtures.reference:m_step", f"{_X}.nb02:_m_step_reference"),
    _ex("ex2_3", "02_mixture_of_gaussians_em", f"{_X}.nb02:check_em_loop", "em_loop",
        "lvmlib.mixtures.reference:em_loop", f"{_X}.nb02:_em_reference"),
    _ex("ex3_1", "03_marginalization", f"{_X}.nb03:check_mixture_log_px", "mixture_log_px",
        "lvmlib.lessons.nb03:mixture_log_px", f"{_X}.nb03:_mixture_log_px_reference"),
    _ex("ex4_1", "04_naive_monte_carlo", f"{_X}.nb04:check_naive_mc", "naive_mc",
        "lvmlib.lessons.nb04:naive_mc", f"{_X}.nb04:_naive_mc", f"{_EST}:log_mean_exp"),
    _ex("ex5_1", "05_importance_sampling", f"{_X}.nb05:check_log_weights", "log_weights log_p_hat",
        f"{_EST}:log_weights", f"{_EST}:log_mean_exp", f"{_EST}:importance_sampling", f"{_EST}:iwae_bound",
        f"{_X}.nb05:_lw_ref", f"{_X}.nb05:log_mean_exp"),
    _ex("ex5_2", "05_importance_sampling", f"{_X}.nb05:check_ess", "effective_sample_size",
        f"{_EST}:effective_sample_size", f"{_X}.nb05:_ess"),
    _ex("ex6_1", "06_elbo_and_its_gap", f"{_X}.nb06:check_objective", "objective",
        f"{_X}.nb06:objective", f"{_EST}:elbo", f"{_EST}:iwae_bound", f"{_EST}:importance_sampling"),
    _ex("ex7_1", "07_variational_autoencoder", f"{_X}.nb07:check_reparameterized_sample", "reparameterized_sample",
        f"{_X}.nb07:reparameterized_sample", f"{_X}.nb07:_reparam_ref"),
    _ex("ex7_3", "07_variational_autoencoder", f"{_X}.nb07:check_negative_elbo", "negative_elbo",
        f"{_X}.nb07:negative_elbo", f"{_X}.nb07:_neg_elbo_ref"),
    _ex("ex7_4", "07_variational_autoencoder", f"{_X}.nb07:check_training_loop", "fit",
        f"{_X}.nb07:fit", "lvmlib.vae.training:train"),
    _ex("ex7_6", "07_variational_autoencoder", f"{_X}.nb06:check_objective", "objective",
        f"{_X}.nb06:objective", f"{_EST}:elbo", f"{_EST}:iwae_bound", f"{_EST}:importance_sampling"),
    _ex("ex8_1", "08_latent_interpolation", f"{_X}.nb08:check_slerp", "slerp",
        f"{_X}.nb08:slerp", f"{_X}.nb08:_slerp_ref", "lvmlib.vae.model:slerp"),
    _ex("ex9_1", "09_learning_with_the_elbo", f"{_X}.nb09:check_score_function_terms", "score_function_terms",
        f"{_X}.nb09:score_function_terms", f"{_X}.nb09:_score_terms_reference", "lvmlib.inference.gradients:gradient_terms"),
    _ex("ex10_1", "10_priors_and_labels", f"{_X}.nb10:check_mixture_log_prob", "mixture_log_prob",
        f"{_X}.nb10:mixture_log_prob", f"{_X}.nb10:_mixture_reference", "lvmlib.vae.priors:MixturePrior.log_prob"),
    _ex("ex10_2", "10_priors_and_labels", f"{_X}.nb10:check_prior_term", "prior_term",
        f"{_X}.nb10:prior_term", f"{_X}.nb10:_prior_term_reference"),
    _ex("ex10_4", "10_priors_and_labels", f"{_X}.nb10:check_m2_unlabelled", "unlabelled_bound",
        f"{_X}.nb10:unlabelled_bound", f"{_X}.nb10:_m2_reference"),
]}


@dataclass(frozen=True)
class Outcome:
    """What the graded re-check found: ``outcome`` is one id (see the module's docstring), ``message``
    the diagnosis wrapped at :data:`WIDTH` columns, ``flags`` what :func:`scan` found in the answer."""

    grade_id: str
    passed: bool
    outcome: str
    message: str
    flags: tuple = ()

    def block(self) -> str:
        """The lines nbgrader's feedback shows: the machine-readable line, then the diagnosis."""
        head = f"lvmlib-outcome: {self.grade_id} {self.outcome}"
        flags = f"\nlvmlib-flags: {self.grade_id} {' '.join(self.flags)}" if self.flags else ""
        return f"{head}{flags}\n{self.message}"


def wrap(text: str, width: int = WIDTH, max_lines: int = 12) -> str:
    """``text`` wrapped at ``width`` columns, each line's indent kept, at most ``max_lines`` lines."""
    lines = []
    for line in text.strip("\n").splitlines():
        indent = line[:len(line) - len(line.lstrip())]
        lines += textwrap.wrap(line.strip(), width, initial_indent=indent, subsequent_indent=indent + "  ",
                               break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + ["  ..."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The notebook: the answer cell and the import lines
# ---------------------------------------------------------------------------------------------

def imports_of(source: str) -> list[str]:
    """The top-level import statements of a cell's source, as source lines (empty when it does not parse)."""
    try:
        tree = ast.parse(_code(source))
    except SyntaxError:
        return []
    return [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]


def answer_and_setup(notebook, grade_id: str) -> tuple[str, str]:
    """(the answer cell's source, the import lines of the code cells above it) of a notebook (a path or a
    ``nbformat`` node): the answer cell is the code cell whose nbgrader ``grade_id`` is ``grade_id``."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, (str, Path)) else notebook
    setup = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return cell.source, "\n".join(dict.fromkeys(setup))
        setup += imports_of(cell.source)
    raise LookupError(f"no code cell with nbgrader grade_id {grade_id!r} in {getattr(notebook, 'name', notebook)}")


# ---------------------------------------------------------------------------------------------
# grade: the fresh process
# ---------------------------------------------------------------------------------------------

def grade(grade_id: str, answer_source: str, setup_source: str = "", *, time_limit: float = TIME_LIMIT,
          cwd=None) -> Outcome:
    """Grade one code exercise: ``answer_source`` (the answer cell) after ``setup_source`` (the notebook's
    import lines) in a fresh Python process, killed after ``time_limit`` seconds."""
    if grade_id not in EXERCISES:
        raise KeyError(f"unknown exercise {grade_id!r}; the code exercises are {', '.join(EXERCISES)}")
    flags = scan(answer_source, setup_source)
    import lvmlib

    root = str(Path(lvmlib.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("OMP_NUM_THREADS", "1")
    env["LVMLIB_CHECK_ISOLATION"] = "off"
    env.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory(prefix="lvmlib-grade-") as tmp:
        spec, result = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec.write_text(json.dumps({"grade_id": grade_id, "answer": answer_source, "setup": setup_source,
                                    "result": str(result)}))
        proc = subprocess.Popen([sys.executable, "-c", "from lvmlib.exercises.grading import _child; _child()",
                                 str(spec)], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=time_limit)
        except subprocess.TimeoutExpired:
            _kill(proc)
            return Outcome(grade_id, False, "timeout", wrap(
                f"{grade_id}: stopped after {time_limit:g} s. Look for a loop that never ends (an `except:` that "
                "catches everything keeps a loop running)."), flags)
        if not result.exists():
            tail = output.decode(errors="replace").strip().splitlines()[-3:]
            return Outcome(grade_id, False, "error", wrap(f"{grade_id}: the graded process ended without a result "
                                                          f"(exit code {proc.returncode}). " + " ".join(tail)), flags)
        data = json.loads(result.read_text())
    return Outcome(grade_id, data["outcome"] == "passed", data["outcome"], wrap(data["message"]), flags)


def _kill(proc) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        proc.kill()
    proc.wait()


class LibraryUnavailable(BaseException):
    """Raised by a gate when the student's code calls lvmlib's own answer to the exercise being graded
    (a BaseException: ``except Exception`` does not hide it; a bare ``except:`` does, but the call is
    recorded and the outcome is ``library-call`` all the same)."""


def _gate(impl, label: str, grade_id: str):
    from lvmlib.exercises._calls import STUDENT

    def gate(*args, **kwargs):
        if STUDENT.depth != 0:
            STUDENT.refused.append(label)
            raise LibraryUnavailable(f"{label} is lvmlib's own answer to {grade_id}: it cannot be called while "
                                     "your answer is graded; write the computation yourself")
        return impl(*args, **kwargs)
    gate.__name__ = getattr(impl, "__name__", "gate")
    gate.__qualname__ = getattr(impl, "__qualname__", "gate")
    gate.__doc__ = getattr(impl, "__doc__", None)
    gate.__module__ = getattr(impl, "__module__", None)
    return gate


def _install_gates(exercise: Exercise) -> None:
    """Replace lvmlib's answers to ``exercise`` by gates, wherever a loaded lvmlib module binds them."""
    import importlib

    for spec in exercise.library:
        module_name, _, attr = spec.partition(":")
        module = importlib.import_module(module_name)
        if "." in attr:  # a method: Class.name
            cls_name, meth = attr.split(".")
            cls = getattr(module, cls_name)
            setattr(cls, meth, _gate(getattr(cls, meth), f"{module_name}.{attr}", exercise.grade_id))
            continue
        impl = getattr(module, attr)
        gate = _gate(impl, f"{module_name}.{attr}", exercise.grade_id)
        for name, mod in list(sys.modules.items()):
            if (name == "lvmlib" or name.startswith("lvmlib.")) and mod is not None:
                for key, value in list(vars(mod).items()):
                    if value is impl:
                        setattr(mod, key, gate)


def _watched():
    """(label, namespace) of everything whose functions a graded check relies on."""
    import builtins
    import math

    import torch

    from lvmlib.exercises import _types

    out = [("builtins", builtins), ("math", math), ("torch", torch), ("torch.Tensor", torch.Tensor),
           ("torch.nn.functional", torch.nn.functional), ("torch.distributions", torch.distributions),
           ("Report", _types.Report), ("Case", _types.Case), ("Mistake", _types.Mistake)]
    out += [(name, mod) for name, mod in sorted(sys.modules.items())
            if mod is not None and (name == "lvmlib.exercises" or name.startswith("lvmlib.exercises."))]
    return out


def _snapshot():
    return {label: (obj, dict(vars(obj))) for label, obj in _watched()}


def _torch_wrapper_of(new, old) -> bool:
    """Whether ``new`` is torch's own wrapper of ``old`` (torch wraps some functions when a submodule loads,
    e.g. ``torch.manual_seed`` when ``torch._dynamo`` is imported by the optimizer)."""
    import torch

    code = getattr(new, "__code__", None)
    home = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
    return (getattr(new, "__wrapped__", None) is old and code is not None
            and os.path.abspath(code.co_filename).startswith(home))


def _tampered(before) -> list[str]:
    changed = []
    for label, (obj, attrs) in before.items():
        now = vars(obj)
        for key, value in attrs.items():
            if key in ("_", "__", "___") or key.startswith("_i"):
                continue
            new = now.get(key, _tampered)
            if new is not value and not _torch_wrapper_of(new, value):
                changed.append(f"{label}.{key}")
    return changed


def _child() -> None:
    """The graded process (started by :func:`grade`): setup, the answer under the student's mark, the check."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    result_path = Path(spec["result"])

    def finish(outcome: str, message: str) -> None:
        result_path.write_text(json.dumps({"outcome": outcome, "message": message}))
        sys.stdout.flush()
        os._exit(0)

    gid = spec["grade_id"]
    exercise = EXERCISES[gid]
    import importlib

    import lvmlib.exercises  # noqa: F401 - every check module, loaded before the student's code
    from lvmlib.exercises import _calls
    from lvmlib.exercises._types import Report

    _calls.ISOLATION = "off"
    module_name, _, check_name = exercise.check.partition(":")
    check = getattr(importlib.import_module(module_name), check_name)
    run_check, student = _calls.run_check, _calls.STUDENT
    _install_gates(exercise)
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(spec["setup"], "<the notebook's imports>", "exec"), namespace)
    except BaseException as err:  # noqa: BLE001
        finish("error", f"{gid}: the notebook's import lines failed in the graded process: "
                        f"{type(err).__name__}: {err}")
    before = _snapshot()
    student.depth += 1
    try:
        exec(compile(spec["answer"], "<answer cell>", "exec"), namespace)
    except BaseException as err:  # noqa: BLE001
        student.depth -= 1
        if student.refused:
            finish("library-call", _library_message(gid, student.refused))
        finish("error", f"{gid}: the answer cell raised {type(err).__name__}: {str(err)[:300]}")
    student.depth -= 1
    missing = [n for n in exercise.names if not callable(namespace.get(n))]
    if missing:
        finish("not-done", f"{gid}: the answer cell does not define {', '.join(f'`{n}`' for n in missing)} "
                           "(keep the function names of the exercise).")
    try:
        report = run_check(check, tuple(namespace[n] for n in exercise.names), {}, check_name)
    except BaseException as err:  # noqa: BLE001 - e.g. LibraryUnavailable raised outside a student call
        report = Report(check_name, "error", f"{gid}: the check stopped with {type(err).__name__}: {str(err)[:300]}")
    changed = _tampered(before)
    if changed:
        finish("tampered", f"{gid}: the answer changed functions the grade relies on ({', '.join(changed[:4])}"
                           f"{', ...' if len(changed) > 4 else ''}); a grade cannot trust that. Remove those lines.")
    if student.refused:
        finish("library-call", _library_message(gid, student.refused))
    if type(report) is not Report:
        finish("tampered", f"{gid}: the check did not return lvmlib's Report.")
    status, message, mistake = (object.__getattribute__(report, k) for k in ("status", "message", "mistake"))
    outcome = "passed" if status == "passed" else (mistake or {"todo": "not-done", "wrong": "wrong"}.get(status, "error"))
    finish(outcome, message)


def _library_message(gid: str, refused) -> str:
    names = ", ".join(dict.fromkeys(refused))
    return (f"{gid}: not graded as a pass. Your answer calls {names}, lvmlib's own answer to this exercise, "
            "which is not available while your answer is graded. Write the computation yourself.")


# ---------------------------------------------------------------------------------------------
# autograde: nbgrader's hidden test
# ---------------------------------------------------------------------------------------------

def autograde(grade_id: str, notebook, *, time_limit: float = TIME_LIMIT) -> Outcome:
    """nbgrader's hidden test of the code exercise ``grade_id``, e.g. in the assignment's test cell::

        ### BEGIN HIDDEN TESTS
        exercises.autograde("ex5_1", "05_importance_sampling.ipynb")
        ### END HIDDEN TESTS

    Reads ``notebook`` from disk (nbgrader runs a notebook with its folder as the working directory), grades
    its answer cell with :func:`grade` (the notebook's import lines as setup), prints the outcome line and
    the diagnosis, and raises ``AssertionError`` (a short message) unless it passed.  Returns the Outcome.
    """
    __tracebackhide__ = True  # noqa: F841 - IPython and pytest leave this frame out of tracebacks
    path = Path(notebook)
    if not path.exists():
        raise FileNotFoundError(f"autograde: no notebook {notebook!r} in {Path.cwd()} (give the submitted "
                                "notebook's file name; nbgrader runs it in its own folder)")
    answer, setup = answer_and_setup(path, grade_id)
    outcome = grade(grade_id, answer, setup, time_limit=time_limit, cwd=path.parent.resolve())
    print(outcome.block(), flush=True)
    if not outcome.passed:
        raise AssertionError(f"{grade_id}: {outcome.outcome} (the diagnosis is printed above)")
    return outcome


def regrade(notebook, grade_ids=None, *, time_limit: float = TIME_LIMIT) -> list[Outcome]:
    """Every code exercise of a notebook file (or those in ``grade_ids``) graded without its kernel."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    present = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
               if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in EXERCISES]
    outcomes = []
    for gid in grade_ids or present:
        answer, setup = answer_and_setup(nb, gid)
        outcomes.append(grade(gid, answer, setup, time_limit=time_limit, cwd=Path(notebook).parent.resolve()))
    return outcomes


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Grade a notebook's code exercises in fresh processes, no kernel.")
    ap.add_argument("notebook")
    ap.add_argument("grade_ids", nargs="*")
    ap.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    args = ap.parse_args(argv)
    failed = 0
    for outcome in regrade(args.notebook, args.grade_ids or None, time_limit=args.time_limit):
        print(outcome.block())
        failed += not outcome.passed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
