"""Checks for notebook 01 (latent variable models): `check_sample_story`."""

from __future__ import annotations

from typing import Callable

import math

import torch
from torch import nn

from lvmlib.exercises._planted import planted
from lvmlib.exercises._core import Case, Mistake, Report, check_function, parts_of, type_problem
from lvmlib.exercises._compare import _capital
from lvmlib.exercises._device import device_problem


class _LinearTanhDecoder(nn.Module):
    """A small fixed decoder for the checks, an ``nn.Module`` like the notebook's GaussianDecoder
    (float32 parameters, so ``next(decoder.parameters()).device`` / ``.dtype`` work):
    p(x | z) = N(mu(z), diag sigma(z)^2), mu(z) = A z + b, sigma(z) = s * (1 + 0.5 tanh(c . z)).

    ``latent_dim``, ``data_dim`` as GaussianDecoder's; returns ``Independent(Normal(mu, sigma), 1)``.
    """

    def __init__(self, latent_dim: int, data_dim: int, scale: float, dtype: torch.dtype = torch.float32):
        super().__init__()
        g = torch.Generator().manual_seed(17 + latent_dim)
        self.latent_dim, self.data_dim, self.scale = latent_dim, data_dim, scale
        self.A = nn.Parameter(torch.randn(data_dim, latent_dim, generator=g, dtype=torch.float64).to(dtype))
        self.b = nn.Parameter(torch.randn(data_dim, generator=g, dtype=torch.float64).to(dtype))
        self.c = nn.Parameter(torch.randn(latent_dim, generator=g, dtype=torch.float64).to(dtype))

    @property
    def device(self) -> torch.device:
        """Where the parameters live (as GaussianDecoder's ``device``)."""
        return self.A.device

    @property
    def dtype(self) -> torch.dtype:
        return self.A.dtype

    def forward(self, z: torch.Tensor):
        from torch.distributions import Independent, Normal

        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z must be a torch tensor, got {type(z).__name__}")
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have last dimension {self.latent_dim} (decoder.latent_dim), got shape "
                             f"{tuple(z.shape)}")
        z = z.to(self.A.dtype)  # (the summary reports a z of another dtype; the decoder still answers)
        mu = z @ self.A.T + self.b  # [..., Dx]
        sigma = self.scale * (1 + 0.5 * torch.tanh(z @ self.c)).unsqueeze(-1).expand_as(mu)  # [..., Dx]
        return Independent(Normal(mu, sigma), 1)

    def __repr__(self) -> str:
        return f"a test decoder (latent_dim {self.latent_dim}, data_dim {self.data_dim}, noise about {self.scale})"


def _dtype(decoder) -> torch.dtype:
    return next(decoder.parameters()).dtype


def _story_reference(decoder, num_samples: int, generator: torch.Generator):
    """The recipe, device-safe: draws on the generator's device, then moves them to the decoder's."""
    z = _randn(decoder, num_samples, decoder.latent_dim, g=generator)  # [N, Dz]
    px = decoder(z)
    x = px.mean + px.stddev * _randn(decoder, *px.mean.shape, g=generator)  # [N, Dx]
    return z, x


#: z-scores beyond which a statistic of a correct sampler counts as wrong.  With 62 statistics
#: over the three large cases, a correct answer fails with probability below 1e-4 per check
#: (tests/exercises/test_wrong_answers.py runs the right answer on 200 seeds and finds no failure).
Z_LIMIT = 5.0

_STATS = ("z cov", "r cov", "z mean", "r mean", "z-r cov", "z lag", "r lag")


def _story_summary(fn: Callable) -> Callable:
    """Run a sampler ``fn(decoder, num_samples, generator)`` and summarise what it drew.

    The summary: what came back (tensors of the decoder's dtype and device), the shapes of z and
    x, and, for 200 or more samples, the joint structure of z and of the standardised residual
    r = (x - mu(z)) / sigma(z) (should both be N(0, I), independent of each other and from sample
    to sample): per-coordinate means, the full covariance matrices of z and r (noise shared across
    coordinates shows off the diagonal), the cross-covariance of z and r, and the lag-1
    covariance between consecutive samples.
    """
    def run(decoder, num_samples: int, seed: int):
        out = parts_of(fn, 2, "z, x")(decoder, num_samples, torch.Generator().manual_seed(seed))
        want = torch.empty(0, dtype=_dtype(decoder), device=next(decoder.parameters()).device)
        problem = type_problem(tuple(out), (want, want))
        summary = {"types": (problem or "").replace("value 1:", "z:").replace("value 2:", "x:")}
        if problem:
            return summary
        z, x = (v.detach() for v in out)
        summary.update({"z shape": list(z.shape), "x shape": list(x.shape)})
        if num_samples >= 200 and list(z.shape) == [num_samples, decoder.latent_dim] and \
                list(x.shape) == [num_samples, decoder.data_dim]:
            with torch.no_grad():
                px = decoder(z)
                z64 = z.to("cpu", torch.float64)
                r = ((x - px.mean) / px.stddev).to("cpu", torch.float64)
            summary.update(_moments(z64, r))
            summary.update({"z tails": _tails(z64), "r tails": _tails(r)})
        return summary
    return run


#: a standard normal is beyond 3 with probability 0.0027 (two-sided); a clamp "for stability" at 3 leaves none
TAIL, TAIL_P = 3.0, 0.0027


def _tails(v: torch.Tensor) -> dict:
    """How a clamp shows in the tails of what should be N(0, 1): values beyond :data:`TAIL`, and ties at the
    largest |value| (a continuous draw has none; a clamp that is reached has many)."""
    a = v.abs().flatten()
    return {"count": a.numel(), "beyond": int((a > TAIL).sum()), "ties": int((a == a.max()).sum())}


def _moments(z: torch.Tensor, r: torch.Tensor) -> dict:
    n = z.shape[0]
    zc, rc = z - z.mean(0), r - r.mean(0)
    return {"n": n, "z mean": z.mean(0), "z cov": zc.T @ zc / (n - 1), "r mean": r.mean(0), "r cov": rc.T @ rc / (n - 1),
            "z-r cov": zc.T @ rc / (n - 1), "z lag": (zc[1:] * zc[:-1]).mean(0), "r lag": (rc[1:] * rc[:-1]).mean(0)}


def _story_expected(decoder, num_samples: int, seed: int) -> dict:
    """What a right sampler's summary should be: no type problem, the shapes, and the exact moments."""
    dz, dx = decoder.latent_dim, decoder.data_dim
    want = {"types": "", "z shape": [num_samples, dz], "x shape": [num_samples, dx]}
    if num_samples >= 200:
        d = torch.float64
        want.update({"n": num_samples, "exact": True, "z mean": torch.zeros(dz, dtype=d), "z cov": torch.eye(dz, dtype=d),
                     "r mean": torch.zeros(dx, dtype=d), "r cov": torch.eye(dx, dtype=d),
                     "z-r cov": torch.zeros(dz, dx, dtype=d), "z lag": torch.zeros(dz, dtype=d),
                     "r lag": torch.zeros(dx, dtype=d)})
    return want


def _standard_errors(key: str, value: torch.Tensor, n: int) -> torch.Tensor:
    se = torch.full_like(value, 1.0 / math.sqrt(n))
    if key in ("z cov", "r cov"):
        se = se + torch.eye(value.shape[0], dtype=value.dtype) * (math.sqrt(2.0 / n) - 1.0 / math.sqrt(n))
    return se


def _say(key: str, idx: tuple, got: float, want: float) -> str:
    i = idx[0] if idx else 0
    if key == "z mean":
        return f"the mean of z[:, {i}] is {got:.3g}, expected 0 (z ~ N(0, I): torch.randn, not torch.rand)"
    if key == "r mean":
        return (f"the noise of x[:, {i}] has mean {got:.3g} (in units of sigma(z)), expected 0: x = mu(z) + "
                "sigma(z) * eps, eps ~ N(0, I), drawn at the z you return")
    if key in ("z cov", "r cov") and idx[0] == idx[1]:
        if key == "z cov":
            return f"the variance of z[:, {i}] is {got:.3g}, expected 1 (z ~ N(0, I), a fresh draw per sample)"
        if got < 0.05:
            return (f"the noise of x[:, {i}] does not vary from sample to sample (variance {got:.3g} in units of "
                    "sigma(z)^2, expected 1): no noise at all, or one eps shared by every sample; draw a fresh eps "
                    "per sample and coordinate, shape [num_samples, Dx]")
        return (f"the noise of x[:, {i}] has variance {got:.3g} in units of sigma(z)^2, expected 1: scale eps ~ N(0, I) "
                "by the standard deviation sigma(z) = decoder(z).stddev, and draw x at the z you return")
    if key == "z cov":
        return (f"the coordinates {idx[0]} and {idx[1]} of z are correlated (covariance {got:.3g}, expected 0): draw "
                "every coordinate independently, z = torch.randn(num_samples, decoder.latent_dim, ...)")
    if key == "r cov":
        return (f"the noise of x's coordinates {idx[0]} and {idx[1]} is correlated (covariance {got:.3g}, expected 0): "
                "draw a separate eps for every coordinate, of shape [num_samples, Dx] (decoder(z).mean.shape)")
    if key == "z-r cov":
        return (f"the noise in x is correlated with z (covariance of z[:, {idx[0]}] and the noise of x[:, {idx[1]}] is "
                f"{got:.3g}, expected 0): draw eps independently of z, with its own torch.randn")
    return (f"consecutive samples are correlated ({key.split()[0]}[n] and {key.split()[0]}[n + 1], coordinate {i}: "
            f"{got:.3g}, expected 0): draw each sample independently")


def _story_compare(got: dict, want: dict) -> tuple[bool, str]:
    if got.get("types"):
        return False, got["types"]
    for key in ("z shape", "x shape"):
        if got.get(key) != want.get(key):
            return False, f"{key} {got.get(key)}, expected {want.get(key)}"
    if "z mean" not in want:
        return True, ""
    if "z mean" not in got:
        return False, f"could not check the moments (shapes: z {got.get('z shape')}, x {got.get('x shape')})"
    n = want["n"]
    if want.get("exact"):
        for key, what in (("z", "z"), ("r", "the noise of x (in units of sigma(z))")):
            t = got[f"{key} tails"]
            # P(no value beyond 3 | N(0, 1)) = 0.9973^count < 2e-5 once 4000 values are drawn
            if t["ties"] >= 3 or (t["count"] >= 4000 and t["beyond"] == 0):
                return False, (f"{what} never goes beyond +-{TAIL:g} in {t['count']} draws (a standard normal does "
                               f"about {TAIL_P * t['count']:.0f} times), or sits exactly at its largest value "
                               f"{t['ties']} times: it looks clamped or truncated. Draw it from N(0, I) as it is: "
                               "the tails are part of the distribution (a clamp 'for stability' changes the model)")
    for key in _STATS:
        g, w = got[key], want[key]
        se = _standard_errors(key, w, n)
        if want.get("exact"):
            tol = Z_LIMIT * se
        else:  # comparing with a (sampled) known mistake: its statistics scatter too, often more
            tol = 2 * Z_LIMIT * se + 0.1 * w.abs().clamp_min(1.0)
        bad = ~((g - w).abs() <= tol)  # NaN counts as bad
        if bad.any():
            flat = int(((g - w).abs() / tol).nan_to_num(math.inf).flatten().argmax())
            idx = tuple(int(v) for v in torch.unravel_index(torch.tensor(flat), g.shape)) if g.dim() else ()
            if want.get("exact"):
                return False, _say(key, idx, float(g[idx]), float(w[idx]))
            return False, f"{key} differs"
    return True, ""


def _randn(dec, *shape, g):
    return torch.randn(*shape, generator=g, dtype=_dtype(dec)).to(dec.device)


def sample_story_draft(decoder, num_samples: int, generator: torch.Generator):
    """Exercise 1.1's draft, as the notebook shows it, with its two planted bugs: -> (z, x)."""
    z = torch.rand(num_samples, decoder.latent_dim, generator=generator).to(decoder.device)   # step 1: z ~ p(z)
    px_given_z = decoder(z)                                            # p(x | z), batch [num_samples]
    eps = torch.randn(num_samples, 1, generator=generator).to(decoder.device)
    x = px_given_z.mean + eps * px_given_z.stddev                      # step 2: x ~ p(x | z)
    return z, x


def _uniform_z(dec, n, g):
    z = torch.rand(n, dec.latent_dim, generator=g, dtype=_dtype(dec)).to(dec.device)
    return z, dec(z).mean + dec(z).stddev * _randn(dec, n, dec.data_dim, g=g)


def _shared_noise(dec, n, g):
    z = _randn(dec, n, dec.latent_dim, g=g)
    return z, dec(z).mean + dec(z).stddev * _randn(dec, n, 1, g=g)


_PLANTED = planted("sample_story_draft", sample_story_draft, [
    ("uniform-z", "in z alone: its coordinates have mean about 0.5 and never go below 0, which the prior "
                  "N(0, I) does half of the time.", _uniform_z),
    ("shared-noise", "in the noise of x alone: one noise value is shared by all of x's coordinates (in units of "
                     "sigma(z) they move up and down together), which p(x | z), a Gaussian with a diagonal "
                     "covariance, never does.", _shared_noise),
], detail=False)  # the statistical check's description of a difference names the fix

_STORY_MISTAKES = _PLANTED + [
    Mistake("no-noise", "X is the decoder's mean mu(z): step 2 must DRAW x ~ p(x | z), i.e. add the noise "
            "sigma(z) * eps with eps ~ N(0, I) (or use decoder(z).sample()).",
            lambda dec, n, g: (lambda z: (z, dec(z).mean))(_randn(dec, n, dec.latent_dim, g=g))),
    Mistake("unscaled-noise", "The noise is not scaled: x = mu(z) + eps has noise of size 1; use "
            "mu(z) + sigma(z) * eps (decoder(z).stddev is sigma(z)).",
            lambda dec, n, g: (lambda z: (z, dec(z).mean + _randn(dec, n, dec.data_dim, g=g)))(
                _randn(dec, n, dec.latent_dim, g=g))),
    Mistake("variance-as-scale", "The noise is scaled by the variance sigma(z)^2 (decoder(z).variance); "
            "multiply eps by the standard deviation sigma(z) (decoder(z).stddev).",
            lambda dec, n, g: (lambda z: (z, dec(z).mean + dec(z).variance * _randn(dec, n, dec.data_dim, g=g)))(
                _randn(dec, n, dec.latent_dim, g=g))),
    Mistake("other-z", "X was drawn at a different z than the one returned: draw z once, and draw x "
            "from decoder(z) at that same z (return that z with its x).",
            lambda dec, n, g: (_randn(dec, n, dec.latent_dim, g=g), _story_reference(dec, n, g)[1])),
    Mistake("one-z", "Every sample shares one z: draw a fresh z for each sample, shape "
            "[num_samples, decoder.latent_dim].",
            lambda dec, n, g: (lambda z: (z, dec(z).mean + dec(z).stddev * _randn(dec, n, dec.data_dim, g=g)))(
                _randn(dec, 1, dec.latent_dim, g=g).expand(n, -1))),
    Mistake("equal-coordinates", "All coordinates of z are equal (one draw per sample copied across the latent "
            "dimensions): z ~ N(0, I) has independent coordinates; draw torch.randn(num_samples, decoder.latent_dim).",
            lambda dec, n, g: (lambda z: (z, dec(z).mean + dec(z).stddev * _randn(dec, n, dec.data_dim, g=g)))(
                _randn(dec, n, 1, g=g).expand(n, dec.latent_dim))),
]


def check_sample_story(sample_story: Callable, *, seed: int = 0) -> Report:
    """Exercise 1.1: ``sample_story(decoder, num_samples, generator) -> (z, x)``, the fixed
    :func:`sample_story_draft` (a find-the-bugs exercise: its two planted bugs are the first listed mistakes).

    z ~ N(0, I) of shape [num_samples, decoder.latent_dim]; x ~ p(x | z) = decoder(z), shape
    [num_samples, decoder.data_dim], both tensors of the decoder's dtype and device.  Checked on
    decoders (``nn.Module`` s like the notebook's) with a 1-D and a 3-D latent, small and large
    noise, and a single sample: shapes, types, and the joint structure of z and of the residual
    (x - mu(z)) / sigma(z) (both N(0, I): means, full covariance matrices, their cross-covariance
    and the covariance of consecutive samples, each within :data:`Z_LIMIT` standard errors).
    ``seed`` moves the generators' seeds (the false-alarm test runs many).
    """
    dec1, dec3, dec_big = _LinearTanhDecoder(1, 2, 0.3), _LinearTanhDecoder(3, 2, 0.1), _LinearTanhDecoder(2, 3, 2.0)
    s = 4 * seed
    cases = [Case("latent size 1, 4000 samples", (dec1, 4000, s)),
             Case("latent size 3, 4000 samples", (dec3, 4000, s + 1)),
             Case("large noise (sigma about 2), 4000 samples", (dec_big, 4000, s + 2)),
             Case("a single sample", (dec3, 1, s + 3))]
    mistakes = [Mistake(m.name, m.explain, _story_summary(m.fn), m.detail) for m in _STORY_MISTAKES]
    name = "Exercise 1.1 (sampling from the generative story)"
    report = check_function(name, _story_summary(sample_story), _story_expected, cases, mistakes,
                            compare=_story_compare, types=False, device=False,
                            passed="z follows the prior and x | z follows the decoder's Gaussian.")
    if not report.passed:
        return report
    # the device contract, on the sampler itself: decoders on `meta` (a GPU's stand-in), the CPU generator
    device_cases = [Case("latent size 3, 5 samples, the decoder on another device", (dec3, 5, torch.Generator().manual_seed(s))),
                    Case("latent size 1, a single sample, the decoder on another device", (dec1, 1, torch.Generator()))]
    found = device_problem(name, sample_story, _story_reference, device_cases)
    if found:
        return Report(name, "wrong", f"{name}: not yet. {_capital(found[0])}", found[1])
    return report
