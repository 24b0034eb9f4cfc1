"""Checks for notebook 08 (latent interpolation): `check_slerp`, and `slerp`, lvmlib's answer for `choose`."""

from __future__ import annotations

from typing import Callable

import torch

from lvmlib.exercises._core import Case, Mistake, Report, check_function, same_nan


#
# Exercise 8.1: slerp.


def _slerp_ref(z0, z1, t):
    from lvmlib.vae import slerp as _vae_slerp

    return _vae_slerp(z0, z1, torch.tensor([[float(t)]], dtype=z0.dtype, device=z0.device))[0]  # [Dz]


def slerp(z0, z1, t):
    """lvmlib's slerp (``lvmlib.vae.slerp``) with the exercise's signature: z0, z1 [d], t a number -> [d]."""
    return _slerp_ref(z0, z1, t)


def _slerp_naive(z0, z1, t):
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    return torch.sin((1 - t) * omega) / torch.sin(omega) * z0 + torch.sin(t * omega) / torch.sin(omega) * z1


def _slerp_cases() -> list[Case]:
    d = torch.float64
    e0, e1 = torch.tensor([1.0, 0.0], dtype=d), torch.tensor([0.0, 1.0], dtype=d)
    a, b = torch.tensor([3.0, 1.0, -2.0], dtype=d), torch.tensor([-1.0, 2.0, 0.5], dtype=d)
    g = torch.Generator().manual_seed(3)
    u, v = torch.randn(8, generator=g, dtype=d), torch.randn(8, generator=g, dtype=d)
    p = torch.tensor([1.0, 2.0, 2.0], dtype=d)
    w32 = torch.randn(8, generator=torch.Generator().manual_seed(0))  # float32: <w, 2w> / (|w| |2w|) > 1
    return [
        Case("orthogonal unit vectors, t = 0.5", (e0, e1, 0.5)),
        Case("orthogonal unit vectors, t = 0.25", (e0, e1, 0.25)),
        Case("different norms, t = 0 (must return z0)", (a, b, 0.0)),
        Case("different norms, t = 1 (must return z1)", (a, b, 1.0)),
        Case("8-D codes, t = 0.3", (u, v, 0.3)),
        Case("parallel endpoints z1 = 2 z0 (angle 0), t = 0.5", (p, 2 * p, 0.5)),
        Case("float32 parallel endpoints z1 = 2 z0, whose cosine rounds to 1.0000002 (clamp it), t = 0.3",
             (w32, 2 * w32, 0.3)),
        Case("float32, the same endpoint twice (z1 = z0), t = 0.6", (w32, w32.clone(), 0.6)),
        Case("opposite endpoints z1 = -2 z0 (angle pi: sin(omega) is 0 again), t = 0.3", (p, -2 * p, 0.3)),
        Case("float32 opposite endpoints z1 = -2 z0, t = 0.3", (w32, -2 * w32, 0.3)),
    ]


SLERP_MISTAKES = [
    Mistake("lerp", "That is the straight line (1 - t) z0 + t z1 (lerp), not slerp: use the angle omega between "
                    "z0 and z1 and the weights sin((1 - t) omega) / sin(omega), sin(t omega) / sin(omega).",
            lambda z0, z1, t: (1 - t) * z0 + t * z1),
    Mistake("swapped", "At t = 0 it returns z1 and at t = 1 z0: the weights are swapped. z0's weight is "
                       "sin((1 - t) omega) / sin(omega), which is 1 at t = 0.",
            lambda z0, z1, t: _slerp_ref(z0, z1, 1 - t)),
    Mistake("unit-only", "You interpolated the unit directions only: the path must start at z0 and end at z1, "
                         "norms included. Apply the slerp weights to z0 and z1 themselves.",
            lambda z0, z1, t: _slerp_ref(z0 / z0.norm(), z1 / z1.norm(), t)),
]
# the same two mistakes without the fallback for parallel endpoints (NaN there): a student often makes both
SLERP_MISTAKES += [
    Mistake(m.name + "-nan-parallel", m.explain + " (And for parallel endpoints your slerp returns NaN: fall back "
                                                  "to the straight line when sin(omega) is tiny.)", fn)
    for m, fn in [(SLERP_MISTAKES[1], lambda z0, z1, t: _slerp_naive(z0, z1, 1 - t)),
                  (SLERP_MISTAKES[2], lambda z0, z1, t: _slerp_naive(z0 / z0.norm(), z1 / z1.norm(), t))]
]
SLERP_MISTAKES += [
    Mistake("no-norms", "You took omega = arccos(<z0, z1>) without dividing by |z0| |z1|: the cosine of the "
                        "angle is <z0, z1> / (|z0| |z1|).",
            lambda z0, z1, t: (lambda om: torch.sin((1 - t) * om) / torch.sin(om) * z0
                               + torch.sin(t * om) / torch.sin(om) * z1)(torch.arccos(torch.dot(z0, z1)))),
    Mistake("nan-parallel", "For parallel endpoints the angle is 0 and sin(omega) = 0: your slerp divides 0 by 0 "
                            "and returns NaN. When sin(omega) is tiny, fall back to the straight line (slerp and "
                            "lerp agree there).", _slerp_naive),
    Mistake("antipodal", "For opposite endpoints (z1 = -c z0, angle pi) sin(omega) is 0 as well: there is no unique "
                         "great circle, and dividing by sin(omega) blows up. Fall back to the straight line whenever "
                         "sin(omega) is tiny, whatever the sign of the cosine (test sin(omega), not cos > 0).",
            lambda z0, z1, t: (lambda cos: (1 - t) * z0 + t * z1 if cos > 1 - 1e-6 else _slerp_naive(z0, z1, t))(
                torch.dot(z0, z1) / (z0.norm() * z1.norm()))),
]


def check_slerp(student: Callable) -> Report:
    """Exercise 8.1: ``student(z0 [d], z1 [d], t: float) -> [d]``, spherical linear interpolation."""
    return check_function("Exercise 8.1 (slerp)", student, _slerp_ref, _slerp_cases(), SLERP_MISTAKES,
                          compare=lambda g, w: same_nan(g, w, rtol=1e-6, atol=1e-8),
                          passed="It starts at z0, ends at z1, and survives parallel endpoints.")
