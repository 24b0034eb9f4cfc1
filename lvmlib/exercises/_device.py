"""The device contract of a student's function, checked on any machine with PyTorch's ``meta`` device.

A notebook may run on a GPU (``lvmlib.get_device()`` picks CUDA, then Apple's MPS): the tensors it hands
a student's function then live there, and a tensor the function makes on the CPU by default
(``torch.zeros(n)``, ``torch.randn(n, generator=g)`` left on the CPU generator's device) either meets a
GPU tensor (torch raises "Expected all tensors to be on the same device") or comes back on the wrong
device.  The contract: **the answer is on the inputs' device, and devices are never mixed.** Random
numbers are drawn with the notebook's generator on the generator's own device (the CPU: the same
numbers on every machine) and then moved: ``torch.randn(shape, generator=generator).to(x.device)``
(what :func:`lvmlib._util.noise` does).

Any machine can test this: a ``meta`` tensor has a shape, a dtype and a device but no values, and
mixing it with a CPU tensor raises the same error as mixing CUDA with the CPU.  :func:`device_problem`
moves a check's cases to ``meta`` (tensors, modules, distributions, small model objects; generators stay
where they are), runs the reference there (a case the reference cannot run on ``meta``, e.g. one whose
code branches on a value, is skipped: :func:`meta_cases` says which), then the student's function, and
says what is wrong.  Under the probe a random draw whose generator is on another device than the one
asked for raises, as CUDA does (``meta`` alone would accept it).  Values are checked on the CPU, by the
check itself.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from lvmlib.exercises._calls import _run_with_time_limit, _short, _TimeUp
from lvmlib.exercises._types import Case

#: the device that stands in for a GPU
PROBE_DEVICE = torch.device("meta")

#: mistake ids of the two ways to break the contract
MIXED, WRONG_DEVICE = "device-mix", "wrong-device"

#: what to change, said once for every exercise
DEVICE_FIX = ("The notebook may run on a GPU, so the inputs may live there: make new tensors on the inputs' "
              "device (torch.zeros(..., device=x.device, dtype=x.dtype), torch.zeros_like(x), x.new_zeros(...)), "
              "and draw random numbers with the generator on its own device, then move them: "
              "torch.randn(shape, generator=generator).to(x.device).")

_MIX = re.compile(r"same device|expected device|device type for generator|found at least two devices|"
                  r"on device \w+ is not|device mismatch|different devices", re.I)
_RANDOM = {torch.randn, torch.rand, torch.randint, torch.randperm, torch.normal, torch.bernoulli, torch.multinomial,
           torch.poisson, torch.randn_like, torch.rand_like, torch.randint_like}
_RANDOM_METHODS = {"normal_", "uniform_", "bernoulli_", "exponential_", "random_", "cauchy_", "log_normal_",
                   "geometric_"}


class _GeneratorDevice(TorchFunctionMode):
    """Refuses a random draw whose ``generator`` lives on another device than the draw, as CUDA does.

    On ``meta`` torch accepts ``torch.randn(n, generator=cpu_generator, device="meta")``; on a GPU the same
    call raises ``Expected a 'cuda' device type for generator``.  This mode makes the probe see what a GPU
    would.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        gen = kwargs.get("generator")
        if isinstance(gen, torch.Generator):
            target = None
            if func in _RANDOM:
                target = kwargs.get("device")
                if target is None:
                    like = next((a for a in args if isinstance(a, torch.Tensor)), None)
                    target = like.device if like is not None else torch.get_default_device()
            elif getattr(func, "__name__", "") in _RANDOM_METHODS and args and isinstance(args[0], torch.Tensor):
                target = args[0].device
            if target is not None and torch.device(target).type != gen.device.type:
                raise RuntimeError(f"Expected a '{torch.device(target).type}' device type for generator but found "
                                   f"'{gen.device.type}'")
        return func(*args, **kwargs)


def to_device(value: Any, device: torch.device | str = PROBE_DEVICE, _seen: dict | None = None) -> Any:
    """``value`` with every tensor moved to ``device``: tensors (``requires_grad`` kept), ``nn.Module`` s
    (copied), ``torch.distributions`` objects and plain objects holding tensors (copied, attributes moved),
    and tuples, lists and dicts of these.  Generators, functions and everything else are returned as
    they are."""
    seen = {} if _seen is None else _seen
    if id(value) in seen:
        return seen[id(value)]
    if isinstance(value, torch.Tensor):
        out = value.detach().to(device)
        if value.requires_grad:
            out.requires_grad_(True)
    elif isinstance(value, nn.Module):
        out = copy.deepcopy(value).to(device)
    elif isinstance(value, tuple):
        out = tuple(to_device(v, device, seen) for v in value)
    elif isinstance(value, list):
        out = [to_device(v, device, seen) for v in value]
    elif isinstance(value, dict):
        out = {k: to_device(v, device, seen) for k, v in value.items()}
    elif isinstance(value, torch.distributions.Distribution) or _holds_tensors(value):
        out = copy.copy(value)
        seen[id(value)] = out
        for name, attr in vars(value).items():
            vars(out)[name] = to_device(attr, device, seen)
    else:
        return value
    seen[id(value)] = out
    return out


def _holds_tensors(value: Any) -> bool:
    """A plain object (not a class, function or module) with a tensor among its attributes."""
    if isinstance(value, type) or callable(value) and not hasattr(value, "__dict__"):
        return False
    attrs = getattr(value, "__dict__", None)
    return isinstance(attrs, dict) and type(value).__module__.split(".")[0] in ("lvmlib", "torch") and \
        any(isinstance(a, (torch.Tensor, torch.distributions.Distribution)) for a in attrs.values())


def _tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


class _NoValidation:
    """torch.distributions' argument checks read values (``bool(...)``), which ``meta`` has not: off inside."""

    def __enter__(self):
        self.before = torch.distributions.Distribution._validate_args
        torch.distributions.Distribution.set_default_validate_args(False)

    def __exit__(self, *exc):
        torch.distributions.Distribution.set_default_validate_args(self.before)


def _run(fn: Callable, case: Case, device, time_limit: float | None):
    args, kwargs = to_device(case.args, device), to_device(case.kwargs, device)
    with _NoValidation(), _GeneratorDevice():
        return _run_with_time_limit(fn, args, kwargs, time_limit)


def meta_cases(reference: Callable, cases: Sequence[Case], device=PROBE_DEVICE) -> tuple[list[Case], list[str]]:
    """(the cases the reference answers on ``device``, with its answer on that device; the names of the
    others, with why): a reference that branches on a value cannot run on ``meta``."""
    usable, skipped = [], []
    for case in cases:
        try:
            out = _run(reference, case, device, None)
        except Exception as err:  # noqa: BLE001 - the reference cannot run here: the case is skipped
            skipped.append(f"{case.name}: {_short(err, 120)}")
            continue
        if all(t.device.type == torch.device(device).type for t in _tensors(out)):
            usable.append(case)
        else:
            skipped.append(f"{case.name}: the reference's own answer leaves the device")
    return usable, skipped


def device_problem(exercise: str, student: Callable, reference: Callable, cases: Sequence[Case], *,
                   device=PROBE_DEVICE, time_limit: float | None = None) -> tuple[str, str] | None:
    """None if ``student`` keeps to the device contract on every case the reference can run on
    ``device``; else ``(message, mistake id)``: a device mix (torch raised) or an answer on another device.

    Any other error of the student's function on ``device`` (e.g. ``.item()``, which ``meta`` cannot do
    but a GPU can) is not held against it: values are the value check's business.
    """
    kind = torch.device(device).type
    usable, _ = meta_cases(reference, cases, device)
    for case in usable:
        try:
            out = _run(student, case, device, time_limit)
        except _TimeUp:
            return None
        except Exception as err:  # noqa: BLE001 - the student's error is read, not raised
            if _MIX.search(str(err)):
                return (f"with its inputs on another device than the CPU (as on a GPU), your function mixes devices: "
                        f"{_short(err, 160)}. {DEVICE_FIX}\n  (on the case: {case.name}, inputs on '{kind}')", MIXED)
            if kind == "meta" and "copy out of meta" in str(err).lower():  # .cpu(), .to("cpu"), .numpy()
                return (f"with its inputs on '{kind}' (standing in for a GPU), your function moves a tensor to the "
                        f"CPU (.cpu(), .to('cpu') or .numpy()): the answer must stay on the inputs' device. "
                        f"{DEVICE_FIX}\n  (on the case: {case.name})", WRONG_DEVICE)
            continue
        away = sorted({str(t.device) for t in _tensors(out) if t.device.type != kind})
        if away:
            return (f"with its inputs on '{kind}' (standing in for a GPU), your function returned a tensor on "
                    f"{', '.join(away)}: something in it is made on the CPU by default. {DEVICE_FIX}"
                    f"\n  (on the case: {case.name})", WRONG_DEVICE)
    return None
