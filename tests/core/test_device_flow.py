"""The device flows: every notebook helper that makes tensors takes ``device`` and puts them there.

No GPU here, so two device doubles stand in for one:

- a ``TorchFunctionMode`` that records every tensor *factory* call (``torch.zeros``,
  ``torch.tensor``, ``torch.randn``, ...) made from a widget module's own lines and fails
  when one of them does not say ``device=`` (such a tensor would land on the CPU whatever
  device the notebook asked for);
- the ``meta`` device, for the helpers whose models can be built there (no data-dependent
  checks in their constructors), where every returned tensor must sit on ``meta``.

The CUDA tests at the end run the same helpers on a GPU and skip without one.  The last
tests show that ``LVMLIB_DEVICE=bogus`` stops a training notebook at its set-up cell.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Distribution
from torch.overrides import TorchFunctionMode

from lvmlib.lessons import nb01
from lvmlib.distributions import gaussian_mvn, gaussian_proposals
from lvmlib.inference import block_estimates, repeated_estimates
from lvmlib.models import BinaryLatentModel, best_gaussian, binomial_mixture, weight_moments
from lvmlib.models.toy import toy_problem
from lvmlib.mixtures import em_bound
from lvmlib.vae import train_vaes
from lvmlib.lessons import nb02
from lvmlib.lessons import nb03
from lvmlib.lessons import nb04
from lvmlib.lessons import nb05
from lvmlib.lessons import nb06
from lvmlib.lessons import nb08

ROOT = Path(__file__).resolve().parents[2]
#: the lesson modules, and the library modules their notebook math moved to
WIDGETS = tuple(str(ROOT / "lvmlib" / p) for p in ("lessons", "models/binary.py", "models/quadrature.py",
                                                   "inference/repeated.py"))
FACTORIES = {torch.tensor, torch.as_tensor, torch.zeros, torch.ones, torch.full, torch.empty, torch.arange,
             torch.linspace, torch.logspace, torch.eye, torch.randn, torch.rand, torch.randint}


class FactoryRecorder(TorchFunctionMode):
    """Records (file:line, function) of factory calls made from widget code without ``device=``."""

    def __init__(self):
        super().__init__()
        self.missing: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES and "device" not in kwargs:
            frame = sys._getframe(1)
            while frame is not None and (f"{os.sep}torch{os.sep}" in frame.f_code.co_filename
                                         or frame.f_code.co_filename == __file__):
                frame = frame.f_back
            if frame is not None and frame.f_code.co_filename.startswith(WIDGETS):
                where = f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"
                self.missing.append(f"{where} {func.__name__}")
        return func(*args, **kwargs)


def tensors_in(obj, depth: int = 0):
    """Every tensor inside a helper's result: tensors, dicts, sequences, dataclasses,
    distributions (their parameters) and modules (parameters and buffers)."""
    if depth > 6:
        return
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, torch.nn.Module):
        yield from obj.parameters()
        yield from obj.buffers()
    elif isinstance(obj, Distribution):
        for name in type(obj).arg_constraints:
            if name in obj.__dict__:
                yield from tensors_in(obj.__dict__[name], depth + 1)
        base = getattr(obj, "base_dist", None)
        if base is not None:
            yield from tensors_in(base, depth + 1)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from tensors_in(v, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from tensors_in(v, depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from tensors_in(getattr(obj, f.name), depth + 1)


def _small_cases(device):
    """(name, thunk) for every notebook helper that makes tensors, at small sizes, on ``device``."""
    g = torch.Generator().manual_seed(0)
    model04 = nb04.demo_model(device=device)
    x04 = torch.tensor([[1.0]], dtype=torch.float64, device=device)
    model05, x05 = toy_problem(device=device)
    decoders = nb01.story_decoders(sizes=(1, 2), device=device)
    nl_model, xn = nb06.nonlinear_problem(device=device)
    mixtures = nb03.mixture_family(3, device=device)
    x_blobs = nb02.blobs_data(device=device)[0][:50]
    gm = nb02.fit_em_start(x_blobs.cpu(), 0, max_iter=3, tol=1e3)  # a few EM steps are enough here
    return [
        ("nb01.story_decoders", lambda: decoders),
        ("nb01.sample_story", lambda: nb01.sample_story(decoders, 20, generator=g, device=device)),
        ("nb02.blobs_data", lambda: nb02.blobs_data(device=device)),
        ("em_bound", lambda: em_bound(x_blobs, gm.weights_, gm.means_, gm.covariances_,
                                                gm.predict_proba(x_blobs.cpu()), device=device)),
        ("nb03.mixture_family", lambda: mixtures),
        ("nb03.mixture_precompute", lambda: nb03.mixture_precompute(mixtures, x_values=np.linspace(-1, 1, 5),
                                                                    x_curve=np.linspace(-1, 1, 7))),
        ("nb03.integral_model", lambda: nb03.integral_model(device=device)),
        ("nb03.integral_precompute", lambda: nb03.integral_precompute(
            nb03.integral_model(device=device), x_values=np.linspace(-1, 1, 3), resolutions=(3, 4),
            reference_resolution=101, z_plot=np.linspace(-1, 1, 5), x_curve=np.linspace(-1, 1, 5))),
        ("BinaryLatentModel.equal_effect", lambda: BinaryLatentModel.equal_effect(3, [0.8, -0.5], [-2.0, 1.0],
                                                                                  device=device)),
        ("binomial_mixture", lambda: binomial_mixture(3, [0.8, -0.5], [-2.0, 1.0], device=device)),
        ("BinaryLatentModel.as_mixture", lambda: BinaryLatentModel.equal_effect(
            3, [0.8, -0.5], [-2.0, 1.0], device=device).as_mixture()),
        ("nb04.demo_model", lambda: model04),
        ("weight_moments", lambda: weight_moments(x04, model04, resolution=101)),
        ("repeated_estimates", lambda: repeated_estimates(x04, model04, (10, 30), 4, generator=g)),
        ("nb04.peaked_model", lambda: nb04.peaked_model(3, 0.1, device=device)),
        ("nb04.peaked_precompute", lambda: nb04.peaked_precompute(sigmas=(0.1,), dims=(1, 8), num_samples=10,
                                                                  repetitions=4, generator=g, device=device)),
        ("toy_problem", lambda: (model05, x05)),
        ("gaussian_proposals", lambda: gaussian_proposals([0.0, 1.0], [1.0, 0.5], device=device)),
        ("block_estimates", lambda: block_estimates(x05, model05, gaussian_proposals(
            [0.0, 1.0], [1.0, 0.5], device=device), (1, 3), 30, log_p=0.0, keep=3, generator=g)),
        ("nb05.precompute", lambda: nb05.precompute(model05, x05, means=(0.0, 1.5), log2_scales=(-2.0, 0.0),
                                                    counts=(1, 3), total=30, generator=g)),
        ("gaussian_mvn", lambda: gaussian_mvn([0.0, 1.0], [1.0, 0.5], device=device)),
        ("nb06.precompute", lambda: nb06.precompute(model05, x05, means=(0.0, 1.5), log2_scales=(-2.0, 0.0),
                                                    ks=(1, 2), total=20, surface_samples=5, generator=g)),
        ("nb06.nonlinear_problem", lambda: (nl_model, xn)),
        ("best_gaussian", lambda: best_gaussian(nl_model.grid_posterior(xn, resolution=51), [0.0, 0.5], [0.5, 1.0])),
        ("nb08.gaussian_norms", lambda: nb08.gaussian_norms((2, 3), 5, generator=g, device=device)),
    ]


def test_every_widget_factory_call_names_its_device():
    """Runs every helper above; any tensor a widget module makes without ``device=`` fails."""
    with FactoryRecorder() as rec:
        for _, thunk in _small_cases("cpu"):
            thunk()
    assert rec.missing == [], f"tensors made without device=: {sorted(set(rec.missing))}"


def test_the_recorder_catches_a_helper_that_forgets_the_device(tmp_path, monkeypatch):
    """The device double is not vacuous: a helper in a widget module that calls torch.zeros
    without a device is caught (it would put its tensor on the CPU under CUDA)."""
    import lvmlib.lessons.nb04 as mod

    def forgetful(n):
        return torch.zeros(n, dtype=torch.float64)  # no device=

    forgetful.__code__ = forgetful.__code__.replace(co_filename=mod.__file__)
    with FactoryRecorder() as rec:
        forgetful(3)
        torch.zeros(3)  # from the test itself: not widget code, not recorded
    assert rec.missing and rec.missing[0].startswith("nb04.py") and len(rec.missing) == 1


def test_every_returned_tensor_is_on_the_device_given():
    for name, thunk in _small_cases(torch.device("cpu")):
        for t in tensors_in(thunk()):
            assert t.device.type == "cpu", name


@pytest.mark.parametrize("make", [
    lambda: nb01.story_decoders(sizes=(1, 3), device="meta"),
    lambda: nb03.integral_model(device="meta"),
    lambda: BinaryLatentModel.equal_effect(3, [0.8, -0.5], [-2.0, 1.0], device="meta"),
    lambda: nb06.nonlinear_problem(device="meta"),
], ids=["nb01.story_decoders", "nb03.integral_model", "BinaryLatentModel.equal_effect", "nb06.nonlinear_problem"])
def test_models_built_on_the_meta_device_live_there(make):
    found = list(tensors_in(make()))
    assert found and all(t.device.type == "meta" for t in found)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_notebook_helpers_run_on_cuda():
    for name, thunk in _small_cases(torch.device("cuda")):
        for t in tensors_in(thunk()):
            assert t.device.type == "cuda", name


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_vaes_train_and_score_on_cuda():
    from lvmlib.data import load_dataset
    from lvmlib.vae import score_vaes

    data = load_dataset("digits", binarize=True)
    g = torch.Generator().manual_seed(0)
    models, _ = train_vaes(data.x_train[:200], (2,), 1, generator=g, progress=False, device="cuda")
    assert next(models[2].parameters()).device.type == "cuda"
    scores = score_vaes(models, data.x_test[:20], num_samples=10, elbo_samples=2, generator=g)
    assert np.isfinite(scores[2].log_p)


# ----------------------------------------------------------------------------------------
# LVMLIB_DEVICE=bogus stops a training notebook at its set-up cell
# ----------------------------------------------------------------------------------------


def _setup_cells(source: Path) -> str:
    """The notebook source up to and including its ``device = lvmlib.get_device()`` line."""
    lines = source.read_text().splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("device = lvmlib.get_device()"))
    return "\n".join(lines[: end + 1]) + "\nprint('device:', device)\n"


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "tools" / "notebook_src").glob("0[1-8]_*.py")))
def test_every_notebook_takes_its_device_near_the_top(name):
    lines = (ROOT / "tools" / "notebook_src" / name).read_text().splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("device = lvmlib.get_device()")]
    assert len(at) == 1 and at[0] < 75, f"{name}: one `device = lvmlib.get_device()` near the top"  # 60 + the parameters cell


@pytest.mark.parametrize("name", ["07_variational_autoencoder.py"])
def test_a_bad_lvmlib_device_stops_a_training_notebook_with_a_clear_error(name, tmp_path):
    code = _setup_cells(ROOT / "tools" / "notebook_src" / name)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LVMLIB_DEVICE": "bogus", "MPLBACKEND": "Agg"}
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert bad.returncode != 0
    assert "ValueError" in bad.stderr and "LVMLIB_DEVICE='bogus'" in bad.stderr, bad.stderr[-2000:]
    env["LVMLIB_DEVICE"] = "cpu"  # the same cells run with a good value: the failure is the variable's
    good = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert good.returncode == 0 and "device: cpu" in good.stdout, good.stderr[-2000:]
