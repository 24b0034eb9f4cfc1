"""A synthetic class for an nbgrader course: submissions with known outcomes, graded by real nbgrader.

Made from the sources, for tests and benchmarks of the grading path (``tests/exercises/test_nbgrader.py``,
``benchmarks/nbgrader_autograde.py``): every student of the class answers each code exercise of
notebooks 03 and 05 with one of

- the right answer (the source's solution, ``passed``),
- a known named mistake (written out below; the outcome is the mistake id lvmlib's check gives it),
- an answer that raises (``error``), or
- nothing (the release's stub, ``not-done``),

in a fixed rotation, so the class's counts per exercise and outcome are known beforehand
(:func:`expected_counts`). nbgrader runs in a subprocess with the Python's ``bin`` first on ``PATH``
(nbgrader calls ``alembic``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat

try:
    from tools import nbbuild, nbgrader_course
except ModuleNotFoundError:  # run as a script (python tools/nbgrader_class.py): its own folder is on sys.path
    import nbbuild
    import nbgrader_course

LOG_WEIGHTS = ("def log_weights(x, model, q, K, generator=None):\n"
               '    """log w_k = log p(z_k) + log p(x | z_k) - log q(z_k), z_k ~ q: x [B, Dx] -> log_w [K, B]."""\n'
               "    q = q.expand(torch.Size([x.shape[0]]))\n"
               "    z = sample(q, (K,), generator)\n"
               "    return model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z)\n\n\n")
ESS = "def effective_sample_size(log_w):\n"
MIX = "from torch.distributions import Normal\n\n\ndef mixture_log_px(x, weights, means, stds):\n"  # as the cell

#: {assignment: {exercise: {outcome: answer cell}}}; "passed" and "not-done" come from the source
WRONG = {
    "03_marginalization": {"ex3_1": {
        "no-log-weights": MIX + "    return torch.logsumexp(Normal(means, stds).log_prob(x[:, None]), dim=1)",
        "max-term": MIX + "    return (torch.log(weights) + Normal(means, stds).log_prob(x[:, None])).max(1).values",
        "minus-logK": MIX + ("    terms = torch.log(weights) + Normal(means, stds).log_prob(x[:, None])\n"
                             "    return torch.logsumexp(terms, dim=1) - math.log(len(weights))"),
        "error": MIX + "    return log_terms.sum()",
    }},
    "05_importance_sampling": {
        "ex5_1": {
            "mean": LOG_WEIGHTS + "def log_p_hat(log_w):\n    return log_w.mean(0)",
            "no-logK": LOG_WEIGHTS + "def log_p_hat(log_w):\n    return torch.logsumexp(log_w, dim=0)",
        },
        "ex5_2": {
            "not-normalised": ESS + "    return torch.exp(-torch.logsumexp(2 * log_w, dim=0))",
            "no-square": ESS + ("    log_w_bar = log_w - torch.logsumexp(log_w, dim=0, keepdim=True)\n"
                                "    return torch.exp(-torch.logsumexp(log_w_bar, dim=0))"),
            "fraction": ESS + ("    log_w_bar = log_w - torch.logsumexp(log_w, dim=0, keepdim=True)\n"
                               "    return torch.exp(-torch.logsumexp(2 * log_w_bar, dim=0)) / log_w.shape[0]"),
            "planted-bugs": ESS + ("    w = torch.exp(log_w)\n    w_bar = w / w.sum(dim=1, keepdim=True)\n"
                                   "    return 1 / (w_bar ** 2).sum(dim=0)"),  # the draft, copied unchanged
        },
    },
}
ASSIGNMENTS = tuple(WRONG)


def outcomes(assignment: str, exercise: str) -> list[str]:
    """The rotation of outcomes of one exercise: right, a named mistake, blank, right, the other mistakes
    (so that any three students already show a right answer, a named mistake and a blank)."""
    first, *others = WRONG[assignment][exercise]
    return ["passed", first, "not-done", "passed", *others]


def planned(assignment: str, exercise: str, student: int) -> str:
    """The outcome student number ``student`` (from 0) gets on an exercise."""
    rotation = outcomes(assignment, exercise)
    return rotation[student % len(rotation)]


def expected_counts(n_students: int, assignments=ASSIGNMENTS) -> Counter:
    """``Counter({(assignment, exercise, outcome): students})`` of a class of ``n_students``."""
    return Counter((a, e, planned(a, e, s)) for a in assignments for e in WRONG[a] for s in range(n_students))


def student_id(n: int) -> str:
    return f"s{n:03d}"


def run_nbgrader(course: Path, *args: str, timeout: int = 3600) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in the course folder, with this Python's ``bin`` first on PATH; raises on failure."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def make_class(course: Path, n_students: int, assignments=ASSIGNMENTS, *, grading: str = "fresh") -> Counter:
    """Build the course for ``assignments``, release them (``nbgrader generate_assignment``) and write
    ``n_students`` submissions each under ``course/submitted/``; returns :func:`expected_counts`."""
    course = Path(course)
    srcs = [nbgrader_course.SOURCES / f"{a}.py" for a in assignments]
    nbgrader_course.write_course(course, sources=srcs, grading=grading, force=True)
    for a in assignments:
        run_nbgrader(course, "generate_assignment", a, "--force")
        release = nbformat.read(course / "release" / a / f"{a}.ipynb", as_version=4)
        right = {gid: nbbuild.edition_source(src, "solutions") for gid, src in _answers(
            nbformat.read(course / "source" / a / f"{a}.ipynb", as_version=4)).items()}
        for s in range(n_students):
            nb = nbformat.reads(nbformat.writes(release), as_version=4)
            for cell in nb.cells:
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                if gid in WRONG[a] and cell.metadata["nbgrader"]["solution"]:
                    outcome = planned(a, gid, s)
                    if outcome == "passed":
                        cell.source = right[gid]
                    elif outcome != "not-done":
                        cell.source = WRONG[a][gid][outcome]
            path = course / "submitted" / student_id(s) / a / f"{a}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
    return expected_counts(n_students, assignments)


def _answers(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def autograde(course: Path, assignments=ASSIGNMENTS) -> None:
    """``nbgrader autograde A --create --force`` for each assignment (every submitted student)."""
    for a in assignments:
        run_nbgrader(course, "autograde", a, "--create", "--force")


def submit_solutions(course: Path, assignment: str, student: str = "solved", *, grading: str = "fresh") -> None:
    """Build and release one assignment and submit it with every code exercise answered by the source's
    solution (for timing autograde of a whole notebook)."""
    course = Path(course)
    nbgrader_course.write_course(course, sources=[nbgrader_course.SOURCES / f"{assignment}.py"],
                                 grading=grading, force=True)
    run_nbgrader(course, "generate_assignment", assignment, "--force")
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    right = {gid: nbbuild.edition_source(src, "solutions") for gid, src in _answers(source).items()}
    nb = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in right and cell.cell_type == "code":
            cell.source = right[gid]
    path = course / "submitted" / student / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
