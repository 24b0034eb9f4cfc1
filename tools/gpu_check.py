"""Run every stored notebook, both editions, on one device, plus the CUDA tests, and print a table.

``make gpu-check`` runs ``python tools/gpu_check.py --device cuda`` on a machine with an NVIDIA GPU:

- each notebook (``notebooks/NN_*.ipynb`` and ``notebooks/solutions/NN_*.ipynb``) runs top to bottom in a fresh
  kernel under ``LVMLIB_DEVICE=<device>``; the executed copies go to ``--out`` (a temporary folder by
  default), never over the stored notebooks;
- ``FULL_SCALE`` runs more: a notebook with papermill-style parameters (a code cell tagged ``parameters``)
  at the lecture's scale, e.g. notebook 07 on all 60,000 Fashion-MNIST images, where that data set is
  installed (Debian's ``dataset-fashion-mnist``); the overrides go into a cell after the parameters cell
  (tag ``injected-parameters``, papermill's convention), and a name the parameters cell does not assign is
  an error, not a silent no-op;
- with ``--device cuda``, ``pytest -m cuda tests`` runs too.

Then a table: notebook, edition, seconds, the seconds its cells took when the stored copy was executed
(on the CPU that built it: the execution times nbclient records in the notebook), errors (the first error's
name and message). ``--jobs`` kernels run at once (default 4 on CUDA: twenty notebooks took about nine
minutes one after another on a laptop CPU, and the budget is ten on one GPU). The exit status is 1 if
anything erred. Asking for ``cuda`` where PyTorch sees no CUDA device stops at once, saying so.

    python tools/gpu_check.py --device cuda                      # everything (make gpu-check)
    python tools/gpu_check.py --device cpu --notebooks 01 --editions student   # a quick look here
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
EDITIONS = {"student": ROOT / "notebooks", "solutions": ROOT / "notebooks" / "solutions"}
FASHION_MNIST = Path(os.environ.get("LVMLIB_FASHION_MNIST_DIR", "").strip() or "/usr/share/datasets/fashion-mnist")

#: the lecture's scale: notebook -> (what it needs on disk, the parameters to set). The parameter names
#: are those of the notebook's ``parameters`` cell (papermill's convention). 10 epochs, not the digits'
#: 50: 60,000 images make each epoch about 45 times longer, and the whole check has ten minutes.
FULL_SCALE = {
    "07_variational_autoencoder": (FASHION_MNIST / "train-images-idx3-ubyte.gz",
                                   {"dataset": "fashion-mnist", "n_images": None, "epochs": 10}),
}


@dataclass
class Row:
    notebook: str
    edition: str
    seconds: float
    errors: list[str]
    stored: float | None = None  # the cells' seconds in the stored copy (its CPU run), if recorded


def recorded_seconds(nb) -> float | None:
    """The sum of the cells' execution times nbclient recorded in a notebook (None if it recorded none)."""
    total, found = 0.0, False
    for cell in nb.cells:
        times = cell.get("metadata", {}).get("execution", {})
        start, end = times.get("iopub.execute_input"), times.get("shell.execute_reply")
        if start and end:
            total += (datetime.fromisoformat(end.replace("Z", "+00:00"))
                      - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            found = True
    return total if found else None


def inject_parameters(nb, parameters: dict) -> None:
    """Put ``parameters`` into ``nb`` after its cell tagged ``parameters``, as papermill does.

    Raises ValueError if there is no such cell, or if it assigns none of a name given (a misspelt or
    renamed parameter would otherwise change nothing and pass).
    """
    if not parameters:
        return
    where = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  and "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if where is None:
        raise ValueError("the notebook has no code cell tagged 'parameters' to override")
    assigned = {t.id for node in ast.walk(ast.parse(nb.cells[where].source)) if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    unknown = sorted(set(parameters) - assigned)
    if unknown:
        raise ValueError(f"the parameters cell does not assign {unknown}; it assigns {sorted(assigned)}")
    cell = nbformat.v4.new_code_cell("# Injected parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(where + 1, cell)


def run_notebook(path: Path, out: Path, device: str, parameters: dict | None = None, timeout: int = 900) -> Row:
    """Execute one notebook in a fresh kernel with ``LVMLIB_DEVICE=device``; write it to ``out``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    print(f"gpu-check: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
          + (f" with {parameters}" if parameters else "") + f" on {device}", file=sys.stderr, flush=True)
    nb = nbformat.read(path, as_version=4)
    stored = None if parameters else recorded_seconds(nb)
    edition = "solutions" if path.parent.name == "solutions" else "student"
    start, errors = time.perf_counter(), []
    try:
        inject_parameters(nb, parameters or {})
        os.environ["LVMLIB_DEVICE"] = device  # the kernel inherits this process's environment
        NotebookClient(nb, kernel_name="python3", timeout=timeout, allow_errors=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except (CellExecutionError, ValueError, RuntimeError, TimeoutError) as err:
        found = [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []) if o.output_type == "error"]
        errors = found or [f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"]
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / (f"{path.stem}.{edition}" + (".full" if parameters else "") + ".ipynb"))
    name = path.stem + (" " + ", ".join(f"{k}={v!r}" for k, v in parameters.items()) if parameters else "")
    return Row(name, edition, seconds, errors, stored)


def run_pytest(device: str) -> Row:
    """``pytest -m <device> tests``: the tests that need that device (CUDA's are marked ``cuda``)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", device, "-q", "-p", "no:randomly", "tests"],
                          cwd=ROOT, capture_output=True, text=True)
    tail = done.stdout.strip().splitlines()[-1:] or [done.stderr.strip()[-300:]]
    errors = [] if done.returncode == 0 else [f"pytest exit {done.returncode}: {tail[0]}"]
    print(done.stdout[-2000:], file=sys.stderr)
    return Row(f"pytest -m {device} tests ({tail[0]})", "-", time.perf_counter() - start, errors)


def table(rows: list[Row], wall: float | None = None) -> str:
    width = max([len("notebook")] + [len(r.notebook) for r in rows])
    lines = [f"{'notebook':<{width}}  {'edition':<9}  {'seconds':>7}  {'stored':>7}  errors",
             f"{'-' * width}  {'-' * 9}  {'-' * 7}  {'-' * 7}  ------"]
    for r in rows:
        stored = "-" if r.stored is None else f"{r.stored:.1f}"
        lines.append(f"{r.notebook:<{width}}  {r.edition:<9}  {r.seconds:7.1f}  {stored:>7}  "
                     + (f"{len(r.errors)}: {r.errors[0][:120]}" if r.errors else "0"))
    lines.append(f"{sum(r.seconds for r in rows):.0f} s in all" + (f", {wall:.0f} s wall clock" if wall else "")
                 + f"; {sum(bool(r.errors) for r in rows)} with errors. stored: the seconds its cells took "
                 "in the stored copy's run (the CPU that built it)")
    return "\n".join(lines)


def cuda_refusal() -> str | None:
    """Why ``--device cuda`` cannot run here, or None if it can."""
    import torch

    if torch.cuda.is_available():
        return None
    build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
    return (f"gpu-check: --device cuda, but PyTorch {torch.__version__} ({build}) sees no CUDA device. Run it on a "
            "machine with an NVIDIA GPU and a CUDA build of torch, or try the notebooks here with --device cpu.")


def select(numbers, editions) -> list[Path]:
    """The stored notebooks to run: ``NN_*.ipynb`` whose NN is in ``numbers`` (all if empty), per edition."""
    paths = []
    for edition in editions:
        for p in sorted(EDITIONS[edition].glob("[0-9][0-9]_*.ipynb")):
            if not numbers or p.stem[:2] in numbers:
                paths.append(p)
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N, cpu or mps: LVMLIB_DEVICE for every kernel")
    ap.add_argument("--notebooks", nargs="*", default=[], metavar="NN", help="only these notebooks, e.g. 01 07 (default all)")
    ap.add_argument("--editions", nargs="*", default=list(EDITIONS), choices=list(EDITIONS))
    ap.add_argument("--paths", nargs="*", type=Path, default=[], help="run these notebooks instead of the stored ones")
    ap.add_argument("--no-full-scale", action="store_true", help="leave out FULL_SCALE's runs")
    ap.add_argument("--no-pytest", action="store_true", help="leave out pytest -m cuda")
    ap.add_argument("--out", type=Path, help="where the executed notebooks go (default: a new temporary folder)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    ap.add_argument("--jobs", type=int, help="notebooks run at once (default: 4 on CUDA, 1 elsewhere)")
    args = ap.parse_args(argv)

    if args.device.split(":")[0] == "cuda" and (why := cuda_refusal()):
        print(why, file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    paths = args.paths or select(set(args.notebooks), args.editions)
    runs = [(p, None) for p in paths]
    if not args.no_full_scale and not args.paths:
        for stem, (needs, parameters) in FULL_SCALE.items():
            if args.notebooks and stem[:2] not in args.notebooks:
                continue
            if needs.exists():
                runs += [(p, parameters) for p in paths if p.stem == stem and p.parent == EDITIONS["solutions"]]
            else:
                print(f"gpu-check: {stem} at full scale left out: {needs} is missing "
                      "(apt-get install dataset-fashion-mnist)", file=sys.stderr)
    jobs = args.jobs or (4 if args.device.startswith("cuda") else 1)
    if jobs > 1:  # the kernels share the CPU cores
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    start = time.perf_counter()
    runs.sort(key=lambda run: run[1] is None)  # the full-scale runs (the longest) first
    calls = [(path, out, args.device, parameters, args.timeout) for path, parameters in runs]
    if jobs == 1:
        rows = [run_notebook(*call) for call in calls]
    else:  # separate processes: each sets LVMLIB_DEVICE for its own kernels
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = list(pool.map(run_notebook, *zip(*calls)))
    if args.device.startswith("cuda") and not args.no_pytest:
        rows.append(run_pytest("cuda"))
    print(table(rows, time.perf_counter() - start))
    print(f"executed notebooks: {out}")
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
