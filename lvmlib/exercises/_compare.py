"""Comparing an answer with the reference: its type, dtype and device, then its values (largest difference shown)."""

from __future__ import annotations

import inspect
import math
from typing import Callable

import torch

from lvmlib.exercises._calls import _as_tuple
from lvmlib.exercises._types import NO_GRADIENT
from lvmlib.exercises._types import allclose, equal, isclose, isnan


def type_problem(got, want, *, grad: bool = False) -> str | None:
    """What is wrong with the type of ``got`` given the expected ``want`` (None if nothing).

    A tensor is expected wherever ``want`` is one: not a NumPy array, a Python number or a list;
    real, not complex; on ``want``'s device and of its dtype.  A complex number is refused
    wherever a number is expected.  With ``grad``, the messages say that training needs a tensor.
    """
    if isinstance(want, torch.Tensor) and isinstance(got, (list, tuple)):
        kind = f"a {type(got).__name__} of {len(got)} values"
        if grad:
            return f"you returned {kind}, not one tensor: {NO_GRADIENT} unless it is one tensor (torch.stack the pieces)"
        return f"you returned {kind}; the answer must be one torch tensor (torch.stack the pieces)"
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) != len(want_t):
        return None  # the count is :func:`same`'s to report
    for i, (g, w) in enumerate(zip(got_t, want_t)):
        label = f"value {i + 1}: " if len(want_t) > 1 else ""
        if isinstance(g, complex) or (isinstance(g, torch.Tensor) and g.is_complex()) or \
                (type(g).__module__ == "numpy" and getattr(getattr(g, "dtype", None), "kind", "") == "c"):
            return (f"{label}your answer is complex-valued; the answer is a real number (a complex value comes "
                    "from complex arithmetic, e.g. a square root or power of a negative number in NumPy or Python)")
        if not isinstance(w, torch.Tensor):
            continue
        if not isinstance(g, torch.Tensor):
            kind = type(g).__module__ + "." + type(g).__name__ if type(g).__module__ not in ("builtins",) else type(g).__name__
            if type(g).__module__ == "numpy":
                hint = ("a NumPy array" if type(g).__name__ == "ndarray" else f"a NumPy number ({kind})")
                fix = "Stay in torch throughout (torch.logsumexp, torch.exp, ...): the notebook uses the answer as a tensor"
            elif isinstance(g, (int, float)):
                hint, fix = f"a Python {type(g).__name__} (from .item() or float()?)", "Return the tensor itself"
            elif isinstance(g, (list, tuple)):
                hint, fix = f"a {type(g).__name__}", "Return one tensor (torch.stack the pieces)"
            else:
                hint, fix = f"a {kind}", "Return a torch tensor"
            if grad:
                return f"{label}you returned {hint}, not a tensor: {NO_GRADIENT}. {fix}"
            return f"{label}you returned {hint}; the answer must be a torch tensor. {fix}"
        if g.dtype != w.dtype:
            return (f"{label}your tensor has dtype {str(g.dtype).replace('torch.', '')}, expected "
                    f"{str(w.dtype).replace('torch.', '')} (the inputs' dtype): make any new tensor with "
                    "dtype=x.dtype (torch.zeros(..., dtype=x.dtype, device=x.device)), or torch.zeros_like(x)")
        if g.device != w.device:
            return (f"{label}your tensor is on {g.device}, expected {w.device} (the inputs' device): make any new "
                    "tensor with device=x.device")
    return None


def float64_reference(fn: Callable) -> Callable:
    """``fn`` computed in float64 and its tensors cast back to the inputs' dtype: the reference
    answer of a float32 case is then the exact answer rounded, not float32 arithmetic's."""
    def call(*args, **kwargs):
        dtypes = [a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
        up = tuple(a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
        out = fn(*up, **kwargs)
        if not dtypes:
            return out
        cast = lambda v: v.to(dtypes[0]) if isinstance(v, torch.Tensor) and v.is_floating_point() else v  # noqa: E731
        return tuple(cast(v) for v in out) if isinstance(out, tuple) else cast(out)
    call.__signature__ = _signature_of(fn)
    call.__wrapped__ = fn
    return call


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _index(flat: int, shape) -> str:
    if not shape:
        return ""
    idx = []
    for size in reversed(shape):
        idx.append(flat % size)
        flat //= size
    return f" at index {list(reversed(idx))}"


def _tensor_difference(g64: torch.Tensor, w64: torch.Tensor, label: str, dtype: torch.dtype | None = None) -> str:
    """Where and by how much two float64 CPU tensors of one shape differ, with a few values side by side.

    Where the two print alike at 6 digits they are shown with 10, and the answer's ``dtype`` is named
    (a float32 answer near -2000 differs from float64's in the 5th decimal)."""
    shape = tuple(w64.shape)
    gf, wf = g64.flatten(), w64.flatten()
    equal = (gf == wf)
    nan = torch.isnan(gf) & ~torch.isnan(wf)
    diff = torch.where(equal, torch.zeros_like(gf), (gf - wf).abs())
    diff = torch.where(torch.isnan(diff), torch.full_like(diff, math.inf), diff)
    if nan.any():
        k = int(nan.nonzero()[0])
        head = (f"{label}your answer contains NaN{_index(k, shape)} (expected {_fmt(float(wf[k]))}; "
                f"{int(nan.sum())} of {gf.numel()} entries are NaN)")
    else:
        k = int(diff.argmax())
        where = _index(k, shape)
        got_s, want_s = _fmt(float(gf[k])), _fmt(float(wf[k]))
        alike = ""
        if got_s == want_s:
            got_s, want_s = f"{float(gf[k]):.10g}", f"{float(wf[k]):.10g}"
            kind = str(dtype).replace("torch.", "") if dtype is not None else "your"
            alike = (f" (alike to 6 digits; your answer is {kind}" + (", whose rounding is about 1e-7 of the value"
                                                                      if dtype in (torch.float32, torch.float16,
                                                                                   torch.bfloat16) else "") + ")")
        head = f"{label}largest difference {_fmt(float(diff[k]))}{where}: got {got_s}, expected {want_s}{alike}"
    if gf.numel() == 1:
        return head
    off = int((diff > 0).sum() + 0)
    show = list(range(min(gf.numel(), 4)))
    if k not in show:
        show = show[:3] + [k]
    pairs = ", ".join(f"{_index(j, shape).replace(' at index ', '') or '[]'}: {_fmt(float(gf[j]))} vs "
                      f"{_fmt(float(wf[j]))}" for j in show)
    return f"{head}; {off} of {gf.numel()} entries differ (got vs expected: {pairs})"


_LOW_PRECISION = (torch.float32, torch.float16, torch.bfloat16)


def same(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """Whether ``got`` matches ``want`` (tensors, numbers, or tuples of them); if not, why not.

    Shapes must agree exactly; values within ``rtol``/``atol`` (in float64; for a float32 answer at
    least 3e-4 / 1e-4: float32's rounding of inputs near -2000 alone is 1e-4); equal infinities
    match, NaN never does.  A tensor is expected wherever ``want`` is one (a NumPy array or a
    float is refused; types are :func:`type_problem`'s).  A wrong tensor is described by its
    largest difference, where it is, and a few values side by side.
    """
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) != len(want_t):
        return False, f"returned {len(got_t)} value(s), expected {len(want_t)}"
    for i, (g, w) in enumerate(zip(got_t, want_t)):
        label = f"value {i + 1}: " if len(want_t) > 1 else ""
        if isinstance(w, torch.Tensor):
            if not isinstance(g, torch.Tensor):
                return False, f"{label}returned {type(g).__name__}, expected a tensor"
            if g.is_complex():
                return False, f"{label}returned a complex tensor, expected a real one"
            if tuple(g.shape) != tuple(w.shape):
                return False, f"{label}shape {list(g.shape)}, expected {list(w.shape)}"
            g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
            r, a = (max(rtol, 3e-4), max(atol, 1e-4)) if w.dtype in _LOW_PRECISION else (rtol, atol)
            if isnan(g64).any() or not allclose(g64, w64, rtol=r, atol=a):
                return False, _tensor_difference(g64, w64, label, g.dtype)
        else:
            if isinstance(g, complex):
                return False, f"{label}returned a complex number, expected a real one"
            try:
                gf, wf = float(g), float(w)
            except (TypeError, ValueError):
                if g != w:
                    return False, f"{label}got {g!r}, expected {w!r}"
                continue
            if math.isnan(gf) or not (gf == wf or isclose(gf, wf, rel_tol=rtol, abs_tol=atol)):
                return False, f"{label}got {gf:.6g}, expected {wf:.6g}"
    return True, ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def same_nan(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """:func:`same`, except that NaN matches NaN at the same places (to recognise a mistake that
    produces NaN, e.g. 0/0 after exponentiating; the reference answers are never NaN)."""
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) == len(want_t):
        pairs = []
        for g, w in zip(got_t, want_t):
            if isinstance(g, torch.Tensor) and isinstance(w, torch.Tensor) and g.shape == w.shape and not g.is_complex():
                g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
                gn, wn = torch.isnan(g64), torch.isnan(w64)
                if gn.any() and equal(gn, wn):
                    g64, w64 = g64.masked_fill(gn, 0.0), w64.masked_fill(wn, 0.0)
                keep = w.dtype if w.is_floating_point() else torch.float64  # (same's float32 tolerance)
                g, w = g64.to(keep), w64.to(keep)
            elif not isinstance(g, torch.Tensor) and not isinstance(w, torch.Tensor):
                try:
                    if math.isnan(float(g)) and math.isnan(float(w)):
                        g = w = 0.0
                except (TypeError, ValueError):
                    pass
            pairs.append((g, w))
        got, want = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
        if len(pairs) == 1:
            got, want = got[0], want[0]
    return same(got, want, rtol=rtol, atol=atol)


def _signature_of(fn: Callable):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return inspect.Signature()

