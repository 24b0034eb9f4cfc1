"""Real nbgrader end to end on notebook 05: today's test cells (A) against the hidden graded re-check (B).

Five submissions (right, wrong, a kernel cheat, an answer that calls lvmlib's own, a rebound `exercises`):
scores, the feedback's outcome blocks, and the wall and CPU time of `nbgrader autograde` for each variant;
`regrade` grades the B submissions again without any kernel (python -m lvmlib.exercises.grading).

    python -m benchmarks.grading_e2e_05 A B (GRADING_E2E_OUT=DIR); ... regrade
"""
import json, os, shutil, subprocess, sys, time
from pathlib import Path
import nbformat
WT = Path(__file__).resolve().parent.parent
from tools import nbbuild, nbgrader_course  # noqa: E402

NB = "05_importance_sampling"
OUT = Path(os.environ.get("GRADING_E2E_OUT", "/tmp/grading_e2e"))
BIN = str(Path(sys.executable).parent)
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(WT), OMP_NUM_THREADS="1")
RIGHT = {}
src_cells = nbbuild.read_cells((WT / "tools/notebook_src" / f"{NB}.py").read_text())
WRONG_5_2 = "def effective_sample_size(log_w):\n    return torch.exp(-torch.logsumexp(2 * log_w, dim=0))\n"
CHEAT = "\ntorch.allclose = lambda *a, **k: True\nexercises.Report.passed = property(lambda self: True)\n"
REBIND = ("\nimport types\nexercises = types.SimpleNamespace(autograde=lambda *a, **k: None, "
          "check_ess=lambda f: types.SimpleNamespace(passed=True, message='ok'), "
          "check_log_weights=lambda *f: types.SimpleNamespace(passed=True, message='ok'))\n")
LIB_5_1 = ("def log_weights(x, model, q, K, generator=None):\n    return est.log_weights(x, model, q, K, generator=generator)\n\n"
           "def log_p_hat(log_w):\n    return est.log_mean_exp(log_w, 0)\n")


CPU = {}


def run(args, cwd):
    import resource
    t = time.time()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["last"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return p, time.time() - t


def course(variant):
    out = OUT / variant
    shutil.rmtree(out, ignore_errors=True)
    nbgrader_course.write_course(out, [NB])
    path = out / "source" / NB / f"{NB}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if variant == "B" and gid.endswith("_check"):
            ex = gid[:-len("_check")]
            cell.source = cell.source.replace("assert report.passed, report.message\n", "")
            cell.source += (f'\n### BEGIN HIDDEN TESTS\nimport lvmlib.exercises\nlvmlib.exercises.autograde("{ex}", "{NB}.ipynb")\n'
                            "### END HIDDEN TESTS")
    nbformat.write(nb, path)
    p, _ = run(["nbgrader", "generate_assignment", NB, "--force"], out)
    assert p.returncode == 0, p.stdout + p.stderr
    rel = nbformat.read(out / "release" / NB / f"{NB}.ipynb", as_version=4)
    sol = {c.metadata["nbgrader"]["grade_id"]: c for c in nbformat.read(path, as_version=4).cells if "nbgrader" in c.metadata}
    students = {
        "right": {"ex5_1": nbbuild.edition_source(sol["ex5_1"].source, "solutions"),
                  "ex5_2": nbbuild.edition_source(sol["ex5_2"].source, "solutions")},
        "wrong": {"ex5_2": WRONG_5_2},
        "cheat": {"ex5_2": WRONG_5_2 + CHEAT},
        "library": {"ex5_1": LIB_5_1},
        "rebind": {"ex5_2": WRONG_5_2 + REBIND},
    }
    for who, answers in students.items():
        nb = nbformat.read(out / "release" / NB / f"{NB}.ipynb", as_version=4)
        for c in nb.cells:
            gid = c.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                c.source = answers[gid]
        sub = out / "submitted" / who / NB / f"{NB}.ipynb"
        sub.parent.mkdir(parents=True)
        nbformat.write(nb, sub)
    return out


def main():
    from nbgrader.api import Gradebook
    for variant in sys.argv[1:] or ["A", "B"]:
        out = course(variant)
        p, secs = run(["nbgrader", "autograde", NB, "--create", "--force"], out)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        print(f"variant {variant}: nbgrader autograde of 5 submissions took {secs:.1f} s wall, {CPU['last']:.1f} s CPU")
        with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
            for who in ["right", "wrong", "cheat", "library", "rebind"]:
                snb = gb.find_submission_notebook(NB, NB, who)
                print(f"  {who:8s}", {g.name: g.score for g in snb.grades if g.name.endswith('_check')})
        p, _ = run(["nbgrader", "generate_feedback", NB, "--force"], out)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        for who in ["wrong", "cheat", "library", "rebind"]:
            nb = nbformat.read(out / "autograded" / who / NB / f"{NB}.ipynb", as_version=4)
            for c in nb.cells:
                if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_check"):
                    for o in c.get("outputs", []):
                        if o.output_type == "stream" and "lvmlib-outcome" in o.text:
                            print(f"  --- {who} {c.metadata['nbgrader']['grade_id']} stream:\n" + o.text)
                        if o.output_type == "error":
                            print(f"  --- {who} error: {o.ename}: {o.evalue[:200]}")




def regrade():
    out = OUT / "B"
    for who in ["right", "wrong", "cheat", "library", "rebind"]:
        p, secs = run([sys.executable, "-m", "lvmlib.exercises.grading", str(out / "submitted" / who / NB / f"{NB}.ipynb")], out)
        print(f"regrade {who} ({secs:.1f} s wall, {CPU['last']:.1f} s CPU, exit {p.returncode}):")
        print("   " + "\n   ".join(l for l in p.stdout.splitlines() if l.startswith("lvmlib-")))


if __name__ == "__main__":
    if sys.argv[1:] == ["regrade"]:
        regrade()
    else:
        main()
