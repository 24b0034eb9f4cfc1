"""Checks for the notebooks' code exercises: run a student's function on known cases, name the mistake.

Each ``check_*`` function takes the student's function, runs it on cases with known answers
(including the hard ones: log-weights around -2000, one sample, one data point), and returns a
:class:`Report` that a notebook shows as its cell's output:

- ``passed``: every case agrees with the reference;
- ``todo``: the function still raises ``NotImplementedError`` (the student edition's stub);
  nothing is raised, so Run All stays clean;
- ``wrong``: a case disagrees; when the answer matches one of the exercise's listed
  :class:`Mistake` s (averaging log-weights where a logsumexp is needed, a missing ``- log K``,
  exponentiating before averaging, ...) the report names it and says what to change;
- ``error``: the function raised something else; the report names the case and the error.

The reference answers are lvmlib's own functions or closed forms; the mistakes are small wrong
implementations, so the tests (``tests/test_exercises.py``) can feed each one in and assert that
its diagnosis comes out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

__all__ = ["Case", "Mistake", "Report", "check_function"]


@dataclass(frozen=True)
class Case:
    """One call of the student's function: ``fn(*args, **kwargs)``, described for the report."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def call(self, fn: Callable) -> Any:
        return fn(*_clone(self.args), **_clone(self.kwargs))


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``fn`` computes it; ``explain`` says what went wrong and what to change."""

    name: str
    explain: str
    fn: Callable


@dataclass
class Report:
    """What a check found.  Shown as the cell's output (its text is :attr:`message`)."""

    exercise: str
    status: str  # "passed" | "todo" | "wrong" | "error"
    message: str
    mistake: str | None = None  # the name of the diagnosed Mistake, if one matched

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__


def _clone(value):
    """Fresh copies of tensor arguments, so a function that writes into its input harms no other case."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 6:
            return f"tensor {[round(v, 4) for v in value.detach().double().flatten().tolist()]} (shape {list(value.shape)})"
        return f"a tensor of shape {list(value.shape)}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def same(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """Whether ``got`` matches ``want`` (tensors, numbers, or tuples of them); if not, why not.

    Shapes must agree exactly; values within ``rtol``/``atol`` (in float64); equal infinities
    match, NaN never does.
    """
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) != len(want_t):
        return False, f"returned {len(got_t)} value(s), expected {len(want_t)}"
    for i, (g, w) in enumerate(zip(got_t, want_t)):
        label = f"value {i + 1}: " if len(want_t) > 1 else ""
        if isinstance(w, torch.Tensor):
            if not isinstance(g, torch.Tensor):
                try:
                    g = torch.as_tensor(g, dtype=w.dtype)
                except (TypeError, ValueError, RuntimeError):
                    return False, f"{label}returned {type(g).__name__}, expected a tensor"
            if tuple(g.shape) != tuple(w.shape):
                return False, f"{label}shape {list(g.shape)}, expected {list(w.shape)}"
            g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
            if torch.isnan(g64).any():
                return False, f"{label}contains NaN"
            if not torch.allclose(g64, w64, rtol=rtol, atol=atol):
                return False, f"{label}got {_describe(g)}, expected {_describe(w)}"
        else:
            try:
                gf, wf = float(g), float(w)
            except (TypeError, ValueError):
                if g != w:
                    return False, f"{label}got {g!r}, expected {w!r}"
                continue
            if math.isnan(gf) or not (gf == wf or math.isclose(gf, wf, rel_tol=rtol, abs_tol=atol)):
                return False, f"{label}got {gf:.6g}, expected {wf:.6g}"
    return True, ""


def check_function(
    exercise: str,
    student: Callable,
    reference: Callable,
    cases: Sequence[Case],
    mistakes: Sequence[Mistake] = (),
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    passed: str = "",
    compare: Callable | None = None,
) -> Report:
    """Run ``student`` on every case against ``reference``; diagnose a wrong answer by ``mistakes``.

    Args:
        exercise: its title, e.g. ``"Exercise 6.1 (the IWAE bound)"``.
        student, reference: the two functions, called alike on each case.
        cases: the known cases, hard ones included.
        mistakes: known wrong implementations; the first that reproduces the student's answer on
            every case where it differs from the reference is the diagnosis.
        passed: what a pass means, appended to the pass line.
        compare: ``compare(got, want) -> (ok, why)``; default :func:`same` with ``rtol``/``atol``.

    Returns:
        a :class:`Report` (shown as the cell's output).
    """
    compare = compare or (lambda g, w: same(g, w, rtol=rtol, atol=atol))
    wants = [case.call(reference) for case in cases]
    gots = []
    for case in cases:
        try:
            gots.append(case.call(student))
        except NotImplementedError:
            return Report(exercise, "todo", f"{exercise}: not done yet. Fill in the function above "
                                            "(replace the `raise NotImplementedError`), run its cell, then run this check again.")
        except Exception as err:  # noqa: BLE001 - any error of the student's code is reported, not raised
            return Report(exercise, "error", f"{exercise}: your function raised {type(err).__name__}: {err}\n"
                                             f"  on the case: {case.name}")
    failures = [(case, why) for case, got, want in zip(cases, gots, wants) for ok, why in [compare(got, want)] if not ok]
    if not failures:
        extra = f" {passed}" if passed else ""
        return Report(exercise, "passed", f"{exercise}: passed on all {len(cases)} cases.{extra}")
    for mistake in mistakes:
        hits, differs = True, False
        for case, got, want in zip(cases, gots, wants):
            try:
                wrong = case.call(mistake.fn)
            except Exception:  # noqa: BLE001 - a mistake that cannot run on this case does not explain it
                hits = False
                break
            if not compare(wrong, want)[0]:
                differs = True
                if not compare(got, wrong)[0]:
                    hits = False
                    break
            elif not compare(got, want)[0]:
                hits = False  # the mistake is right here but the student is not: something else
                break
        if hits and differs:
            case, why = failures[0]
            return Report(exercise, "wrong", f"{exercise}: not yet. {mistake.explain}\n"
                                             f"  (first case that shows it: {case.name}: {why})", mistake.name)
    case, why = failures[0]
    more = f" (and {len(failures) - 1} more case(s))" if len(failures) > 1 else ""
    return Report(exercise, "wrong", f"{exercise}: not yet. On the case {case.name}: {why}{more}.")


# ---------------------------------------------------------------------------------------------
# The checks, one section per notebook (each section keeps its own cases and mistakes).
# ---------------------------------------------------------------------------------------------

# == 01 latent variable models ==

def _parts(fn: Callable, count: int, names: str) -> Callable:
    """``fn`` whose answer must be a tuple of ``count`` values (else a clear error)."""
    def call(*args, **kwargs):
        out = fn(*args, **kwargs)
        if not isinstance(out, (tuple, list)) or len(out) != count:
            got = f"{len(out)} values" if isinstance(out, (tuple, list)) else f"one {type(out).__name__}"
            raise ValueError(f"return {count} values ({names}), got {got}")
        return tuple(out)
    return call


def _same_nan_ok(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """:func:`same`, except that NaN matches NaN at the same place (to recognise a mistake's NaN)."""
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) == len(want_t):
        g2, w2 = [], []
        for g, w in zip(got_t, want_t):
            if isinstance(g, torch.Tensor) and isinstance(w, torch.Tensor) and g.shape == w.shape:
                g, w = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
                both = torch.isnan(g) & torch.isnan(w)
                g, w = g.masked_fill(both, 0.0), w.masked_fill(both, 0.0)
            g2.append(g)
            w2.append(w)
        got, want = tuple(g2), tuple(w2)
    return same(got, want, rtol=rtol, atol=atol)


def _check_parts(exercise: str, student: Callable, reference: Callable, cases: Sequence[Case],
                 parts: Sequence[tuple[str, Sequence[Mistake]]], *, passed: str = "", **kw) -> Report:
    """Check a function that returns several values, each value against its own listed mistakes.

    ``parts`` lists (label, mistakes) per returned value, in order; each Mistake's ``fn`` returns
    the whole tuple.  The report is the first wrong value's (it names the value), or a pass.
    """
    names = ", ".join(label for label, _ in parts)
    student = _parts(student, len(parts), names)
    reports = []
    for i, (label, mistakes) in enumerate(parts):
        pick = (lambda f, i=i: (lambda *a, **k: f(*a, **k)[i]))
        own = [Mistake(m.name, m.explain, pick(m.fn)) for m in mistakes]
        report = check_function(f"{exercise} [{label}]", pick(student), pick(reference), cases, own,
                                compare=lambda g, w: _same_nan_ok(g, w, **kw))
        if report.status in ("todo", "error"):
            return Report(exercise, report.status, report.message.replace(f" [{label}]", ""), None)
        reports.append(report)
    wrong = [r for r in reports if r.status == "wrong"]
    if not wrong:
        extra = f" {passed}" if passed else ""
        return Report(exercise, "passed", f"{exercise}: passed on all {len(cases)} cases ({names}).{extra}")
    first = wrong[0]
    also = [label for (label, _), r in zip(parts, reports) if r.status == "wrong" and r is not first]
    more = f"\n  (also not yet right: {', '.join(also)})" if also else ""
    return Report(exercise, "wrong", first.message + more, first.mistake)


class _LinearTanhDecoder:
    """A small fixed decoder for the checks: p(x | z) = N(mu(z), diag sigma(z)^2), float64.

    mu(z) = A z + b, sigma(z) = s * (1 + 0.5 tanh(c . z)); ``latent_dim``, ``data_dim`` as
    GaussianDecoder's.  Returns ``Independent(Normal(mu, sigma), 1)``.
    """

    def __init__(self, latent_dim: int, data_dim: int, scale: float):
        g = torch.Generator().manual_seed(17 + latent_dim)
        self.latent_dim, self.data_dim, self.scale = latent_dim, data_dim, scale
        self.A = torch.randn(data_dim, latent_dim, generator=g, dtype=torch.float64)
        self.b = torch.randn(data_dim, generator=g, dtype=torch.float64)
        self.c = torch.randn(latent_dim, generator=g, dtype=torch.float64)

    def __call__(self, z: torch.Tensor):
        from torch.distributions import Independent, Normal

        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have last dimension {self.latent_dim} (decoder.latent_dim), got shape "
                             f"{tuple(z.shape)}")
        z = z.to(torch.float64)
        mu = z @ self.A.T + self.b  # [..., Dx]
        sigma = self.scale * (1 + 0.5 * torch.tanh(z @ self.c)).unsqueeze(-1).expand_as(mu)  # [..., Dx]
        return Independent(Normal(mu, sigma), 1)

    def __repr__(self) -> str:
        return f"a test decoder (latent_dim {self.latent_dim}, data_dim {self.data_dim}, noise about {self.scale})"


def _story_reference(decoder, num_samples: int, generator: torch.Generator):
    z = torch.randn(num_samples, decoder.latent_dim, generator=generator, dtype=torch.float64)  # [N, Dz]
    px = decoder(z)
    x = px.mean + px.stddev * torch.randn(px.mean.shape, generator=generator, dtype=px.mean.dtype)  # [N, Dx]
    return z, x


def _story_summary(fn: Callable) -> Callable:
    """Run a sampler ``fn(decoder, num_samples, generator)`` and summarise what it drew.

    The summary: shapes of z and x; for 200 or more samples, the mean and standard deviation of
    z (should be 0 and 1), the correlation between z's first two points' coordinates across
    samples (0: independent draws), and of the standardised residual r = (x - mu(z)) / sigma(z)
    (mean 0, std 1: x was drawn from p(x | z) at the z returned).
    """
    def run(decoder, num_samples: int, seed: int):
        out = _parts(fn, 2, "z, x")(decoder, num_samples, torch.Generator().manual_seed(seed))
        z, x = (torch.as_tensor(v).detach().to(torch.float64) for v in out)
        summary = {"z shape": list(z.shape), "x shape": list(x.shape)}
        if num_samples >= 200 and list(z.shape) == [num_samples, decoder.latent_dim] and \
                list(x.shape) == [num_samples, decoder.data_dim]:
            px = decoder(z)
            r = (x - px.mean) / px.stddev
            summary.update({"z mean": z.mean().item(), "z std": z.std().item(),
                            "z distinct": float(z.unique().numel() > num_samples // 2),
                            "r mean": r.mean().item(), "r std": r.std().item()})
        return summary
    return run


def _story_compare(got: dict, want: dict) -> tuple[bool, str]:
    for key, w in want.items():
        if key not in got:
            return False, f"could not check {key} (shapes: z {got.get('z shape')}, x {got.get('x shape')})"
        g = got[key]
        if isinstance(w, list):
            if g != w:
                return False, f"{key} {g}, expected {w}"
        elif not (abs(g - w) < 0.1 * max(1.0, abs(w))) or g != g:
            return False, f"{key} {g:.3g}, expected about {w:.3g}"
    return True, ""


_STORY_MISTAKES = [
    Mistake("no-noise", "X is the decoder's mean mu(z): step 2 must DRAW x ~ p(x | z), i.e. add the noise "
            "sigma(z) * eps with eps ~ N(0, I) (or use decoder(z).sample()).",
            lambda dec, n, g: (lambda z: (z, dec(z).mean))(torch.randn(n, dec.latent_dim, generator=g, dtype=torch.float64))),
    Mistake("unscaled-noise", "The noise is not scaled: x = mu(z) + eps has noise of size 1; use "
            "mu(z) + sigma(z) * eps (decoder(z).stddev is sigma(z)).",
            lambda dec, n, g: (lambda z: (z, dec(z).mean + torch.randn(n, dec.data_dim, generator=g, dtype=torch.float64)))(
                torch.randn(n, dec.latent_dim, generator=g, dtype=torch.float64))),
    Mistake("variance-as-scale", "The noise is scaled by the variance sigma(z)^2 (decoder(z).variance); "
            "multiply eps by the standard deviation sigma(z) (decoder(z).stddev).",
            lambda dec, n, g: (lambda z: (z, dec(z).mean + dec(z).variance * torch.randn(n, dec.data_dim, generator=g, dtype=torch.float64)))(
                torch.randn(n, dec.latent_dim, generator=g, dtype=torch.float64))),
    Mistake("other-z", "X was drawn at a different z than the one returned: draw z once, and draw x "
            "from decoder(z) at that same z (return that z with its x).",
            lambda dec, n, g: (torch.randn(n, dec.latent_dim, generator=g, dtype=torch.float64),
                               _story_reference(dec, n, g)[1])),
    Mistake("one-z", "Every sample shares one z: draw a fresh z for each sample, shape "
            "[num_samples, decoder.latent_dim].",
            lambda dec, n, g: (lambda z: (z, dec(z).mean + dec(z).stddev * torch.randn(n, dec.data_dim, generator=g, dtype=torch.float64)))(
                torch.randn(1, dec.latent_dim, generator=g, dtype=torch.float64).expand(n, -1))),
    Mistake("uniform-z", "Z is not drawn from the prior N(0, I) (torch.rand is uniform on [0, 1]); use torch.randn.",
            lambda dec, n, g: (lambda z: (z, dec(z).mean + dec(z).stddev * torch.randn(n, dec.data_dim, generator=g, dtype=torch.float64)))(
                torch.rand(n, dec.latent_dim, generator=g, dtype=torch.float64))),
]


def check_sample_story(sample_story: Callable) -> Report:
    """Exercise 1.1: ``sample_story(decoder, num_samples, generator) -> (z, x)``.

    z ~ N(0, I) of shape [num_samples, decoder.latent_dim]; x ~ p(x | z) = decoder(z), shape
    [num_samples, decoder.data_dim].  Checked on decoders with a 1-D and a 3-D latent, small
    and large noise, and a single sample: shapes, the moments of z, and that the residual
    (x - mu(z)) / sigma(z) is standard normal (x drawn at the returned z, noise scaled right).
    """
    dec1, dec3, dec_big = _LinearTanhDecoder(1, 2, 0.3), _LinearTanhDecoder(3, 2, 0.1), _LinearTanhDecoder(2, 3, 2.0)
    cases = [Case("latent size 1, 4000 samples", (dec1, 4000, 0)),
             Case("latent size 3, 4000 samples", (dec3, 4000, 1)),
             Case("large noise (sigma about 2), 4000 samples", (dec_big, 4000, 2)),
             Case("a single sample", (dec3, 1, 3))]
    mistakes = [Mistake(m.name, m.explain, _story_summary(m.fn)) for m in _STORY_MISTAKES]
    return check_function("Exercise 1.1 (sampling from the generative story)", _story_summary(sample_story),
                          _story_summary(_story_reference), cases, mistakes, compare=_story_compare,
                          passed="z follows the prior and x | z follows the decoder's Gaussian.")


# == 02 mixtures of Gaussians and EM ==

def _mvn_log_prob(x, means, covariances):
    from torch.distributions import MultivariateNormal

    return MultivariateNormal(means, covariances).log_prob(x.unsqueeze(-2))  # [N, K]


def _e_step_reference(x, weights, means, covariances):
    log_joint = torch.log(weights) + _mvn_log_prob(x, means, covariances)  # [N, K]
    return torch.exp(log_joint - torch.logsumexp(log_joint, dim=1, keepdim=True))  # [N, K]


def _e_step_cases() -> list[Case]:
    d = torch.float64
    w3 = torch.tensor([0.5, 0.3, 0.2], dtype=d)
    mu3 = torch.tensor([[-2.0, 0.0], [1.0, 1.0], [2.0, -1.5]], dtype=d)
    cov3 = torch.stack([torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=d), 0.4 * torch.eye(2, dtype=d),
                        torch.tensor([[0.8, -0.2], [-0.2, 0.3]], dtype=d)])
    x = torch.tensor([[-1.5, 0.2], [0.0, 0.5], [1.8, -1.0], [0.5, 0.5], [3.0, 1.0]], dtype=d)
    far = torch.tensor([[60.0, -40.0], [-55.0, 30.0], [0.0, 0.0]], dtype=d)  # log-densities about -2000
    return [Case("K = 3, 5 points", (x, w3, mu3, cov3)),
            Case("points far from every component (log-densities about -2000)", (far, w3, mu3, cov3)),
            Case("K = 1", (x, torch.ones(1, dtype=d), mu3[:1], cov3[:1])),
            Case("a single data point", (x[1:2], w3, mu3, cov3))]


_E_STEP_MISTAKES = [
    Mistake("over-points", "The responsibilities are normalised over the data points (dim 0); each POINT's "
            "responsibilities must sum to 1 over the components: normalise along dim 1 (over k).",
            lambda x, w, m, c: (lambda lj: torch.exp(lj - torch.logsumexp(lj, dim=0, keepdim=True)))(
                torch.log(w) + _mvn_log_prob(x, m, c))),
    Mistake("exp-first", "You exponentiated before normalising: far from every component pi_k N(x; mu_k, "
            "Sigma_k) underflows to 0 and 0 / 0 gives NaN. Normalise in log space: "
            "log r = log_joint - logsumexp(log_joint, dim=1, keepdim=True), then exp.",
            lambda x, w, m, c: (lambda p: p / p.sum(1, keepdim=True))(torch.exp(torch.log(w) + _mvn_log_prob(x, m, c)))),
    Mistake("no-weights", "You left out the mixture weights: r_nk is proportional to pi_k N(x_n; mu_k, Sigma_k); "
            "add log pi_k to the log-densities before normalising.",
            lambda x, w, m, c: (lambda lj: torch.exp(lj - torch.logsumexp(lj, dim=1, keepdim=True)))(_mvn_log_prob(x, m, c))),
    Mistake("log-resp", "You returned the log-responsibilities; return the responsibilities themselves (exp of them).",
            lambda x, w, m, c: (lambda lj: lj - torch.logsumexp(lj, dim=1, keepdim=True))(torch.log(w) + _mvn_log_prob(x, m, c))),
    Mistake("unnormalised", "The responsibilities are not normalised: divide pi_k N(x_n; mu_k, Sigma_k) by its sum "
            "over k (in log space: subtract logsumexp over dim 1).",
            lambda x, w, m, c: torch.exp(torch.log(w) + _mvn_log_prob(x, m, c))),
]


def check_e_step(e_step: Callable) -> Report:
    """Exercise 2.1: ``e_step(x, weights, means, covariances) -> r``.

    x [N, D], weights [K], means [K, D], covariances [K, D, D] -> responsibilities [N, K],
    r_nk = pi_k N(x_n; mu_k, Sigma_k) / sum_j pi_j N(x_n; mu_j, Sigma_j), computed in log space.
    """
    return check_function("Exercise 2.1 (the E-step)", e_step, _e_step_reference, _e_step_cases(), _E_STEP_MISTAKES,
                          rtol=1e-6, atol=1e-9, compare=lambda g, w: _same_nan_ok(g, w, rtol=1e-6, atol=1e-9),
                          passed="Every point's responsibilities sum to 1, even where the densities underflow.")


def _m_step(x, r, *, mean_div="Nk", cov_weighted=True, cov_div="Nk", centred=True, weights_div=True):
    n_k = r.sum(0)  # [K]
    weights = n_k / x.shape[0] if weights_div else n_k
    sums = r.T @ x  # [K, D]
    means = {"Nk": sums / n_k.unsqueeze(-1), "none": sums, "N": sums / x.shape[0]}[mean_div]
    diff = x.unsqueeze(0) - means.unsqueeze(1) if centred else x.unsqueeze(0).expand(len(n_k), -1, -1)  # [K, N, D]
    wts = r.T if cov_weighted else torch.ones_like(r.T)  # [K, N]
    cov = torch.einsum("kn,kni,knj->kij", wts, diff, diff)  # [K, D, D]
    div = {"Nk": n_k if cov_weighted else torch.full_like(n_k, x.shape[0]), "N": torch.full_like(n_k, x.shape[0])}[cov_div]
    return weights, means, cov / div.reshape(-1, 1, 1)


def _m_step_reference(x, r):
    return _m_step(x, r)


def _m_step_cases() -> list[Case]:
    d = torch.float64
    g = torch.Generator().manual_seed(2)
    x = torch.randn(7, 2, generator=g, dtype=d) * torch.tensor([1.5, 0.7], dtype=d) + torch.tensor([1.0, -2.0], dtype=d)
    r = torch.softmax(2 * torch.randn(7, 3, generator=g, dtype=d), dim=1)  # [7, 3], rows sum to 1
    return [Case("K = 3, 7 points, soft responsibilities", (x, r)),
            Case("K = 1 (every r_n1 = 1)", (x, torch.ones(7, 1, dtype=d))),
            Case("hard responsibilities (0 or 1), K = 2", (x, torch.tensor([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 4, dtype=d))),
            Case("a single data point", (x[:1], torch.tensor([[0.25, 0.75]], dtype=d)))]


_M_WEIGHT_MISTAKES = [
    Mistake("weights-not-normalised", "The weights are the counts N_k = sum_n r_nk; divide by N so that they sum to 1.",
            lambda x, r: _m_step(x, r, weights_div=False)),
]
_M_MEAN_MISTAKES = [
    Mistake("means-not-divided", "The means are sums: divide sum_n r_nk x_n by N_k = sum_n r_nk (not by 1).",
            lambda x, r: _m_step(x, r, mean_div="none")),
    Mistake("means-over-N", "The means are divided by N; divide by N_k = sum_n r_nk, the (soft) number of points "
            "of component k.", lambda x, r: _m_step(x, r, mean_div="N")),
]
_M_COV_MISTAKES = [
    Mistake("cov-unweighted", "The covariances ignore the responsibilities: weight each outer product "
            "(x_n - mu_k)(x_n - mu_k)^T by r_nk and divide by N_k.", lambda x, r: _m_step(x, r, cov_weighted=False)),
    Mistake("cov-over-N", "The covariances are divided by N; divide sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T by N_k.",
            lambda x, r: _m_step(x, r, cov_div="N")),
    Mistake("cov-not-centred", "The covariances are not centred: use x_n - mu_k (with the NEW mean mu_k), "
            "not x_n.", lambda x, r: _m_step(x, r, centred=False)),
    Mistake("cov-means-not-divided", "The means are sums (divide by N_k), and the covariances built from them are "
            "wrong too.", lambda x, r: _m_step(x, r, mean_div="none")),
    Mistake("cov-means-over-N", "The means are divided by N instead of N_k, and the covariances built from them are "
            "wrong too.", lambda x, r: _m_step(x, r, mean_div="N")),
]


def check_m_step(m_step: Callable) -> Report:
    """Exercise 2.2: ``m_step(x, r) -> (weights, means, covariances)``.

    x [N, D], r [N, K] -> weights [K] = N_k / N, means [K, D] = sum_n r_nk x_n / N_k,
    covariances [K, D, D] = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k, N_k = sum_n r_nk.
    """
    return _check_parts("Exercise 2.2 (the M-step)", m_step, _m_step_reference, _m_step_cases(),
                        [("weights", _M_WEIGHT_MISTAKES), ("means", _M_MEAN_MISTAKES),
                         ("covariances", _M_COV_MISTAKES)], rtol=1e-6, atol=1e-9,
                        passed="Each Gaussian is fit to its points, weighted by the responsibilities.")


# == 03 marginalization ==

def _mixture_terms(x, weights, means, stds):
    from torch.distributions import Normal

    return Normal(means, stds).log_prob(x.unsqueeze(-1))  # [N, K]


def _mixture_log_px_reference(x, weights, means, stds):
    return torch.logsumexp(torch.log(weights) + _mixture_terms(x, weights, means, stds), dim=-1)  # [N]


def _mixture_cases() -> list[Case]:
    d = torch.float64
    w = torch.tensor([0.5, 0.3, 0.2], dtype=d)
    mu = torch.tensor([-2.5, 1.0, 3.0], dtype=d)
    sd = torch.tensor([0.7, 0.5, 0.8], dtype=d)
    return [Case("K = 3, 5 points", (torch.tensor([-3.0, -1.0, 0.5, 2.0, 4.0], dtype=d), w, mu, sd)),
            Case("points far away (log-densities about -2000)", (torch.tensor([60.0, -65.0], dtype=d), w, mu, sd)),
            Case("K = 1", (torch.tensor([0.0, 1.5], dtype=d), torch.ones(1, dtype=d), mu[:1], sd[:1])),
            Case("a single data point", (torch.tensor([0.7], dtype=d), w, mu, sd))]


_MIXTURE_MISTAKES = [
    Mistake("sum-probabilities", "You added up the probabilities and took the log: far from every component each "
            "term pi_k N(x; mu_k, sigma_k^2) underflows to 0 and log 0 = -inf. Stay in log space: "
            "logsumexp over k of (log pi_k + log N(x; mu_k, sigma_k^2)).",
            lambda x, w, m, s: torch.log((w * _mixture_terms(x, w, m, s).exp()).sum(-1))),
    Mistake("no-log-weights", "You forgot the mixture weights: each term is log pi_k + log N(x; mu_k, sigma_k^2); "
            "add torch.log(weights) before the logsumexp.",
            lambda x, w, m, s: torch.logsumexp(_mixture_terms(x, w, m, s), dim=-1)),
    Mistake("weights-not-logged", "You added the weights pi_k themselves in log space; add their logs, log pi_k.",
            lambda x, w, m, s: torch.logsumexp(w + _mixture_terms(x, w, m, s), dim=-1)),
    Mistake("max-term", "You kept only the largest term (a max over k); p(x) adds up ALL the terms: use "
            "torch.logsumexp over k.",
            lambda x, w, m, s: (torch.log(w) + _mixture_terms(x, w, m, s)).max(-1).values),
    Mistake("minus-logK", "You subtracted log K, as if averaging; the weights already sum to 1, so p(x) is the plain "
            "sum over k: no - log K.",
            lambda x, w, m, s: _mixture_log_px_reference(x, w, m, s) - math.log(len(w))),
    Mistake("over-points", "You took the logsumexp over the data points (dim 0); sum over the components k "
            "(the last dimension), one log p(x) per point.",
            lambda x, w, m, s: torch.logsumexp(torch.log(w) + _mixture_terms(x, w, m, s), dim=0)),
]


def check_mixture_log_px(mixture_log_px: Callable) -> Report:
    """Exercise 3.1: ``mixture_log_px(x, weights, means, stds) -> log p(x)``.

    x [N], weights [K], means [K], stds [K] -> [N]:
    log p(x) = logsumexp_k [log pi_k + log N(x; mu_k, sigma_k^2)].
    """
    return check_function("Exercise 3.1 (log p(x) of a mixture by logsumexp)", mixture_log_px,
                          _mixture_log_px_reference, _mixture_cases(), _MIXTURE_MISTAKES, rtol=1e-7, atol=1e-9,
                          compare=lambda g, w: _same_nan_ok(g, w, rtol=1e-7, atol=1e-9),
                          passed="Right far from every component too, where the terms underflow.")


# == 04 naive Monte Carlo ==

def _naive_mc(log_w, *, reduce="lse", se="right", ddof=1):
    n = log_w.shape[0]
    if reduce == "lse":
        log_p = torch.logsumexp(log_w, 0) - math.log(n)  # [B]
    elif reduce == "mean-log":
        log_p = log_w.mean(0)
    elif reduce == "no-logN":
        log_p = torch.logsumexp(log_w, 0)
    else:  # "exp-first"
        log_p = torch.log(log_w.exp().mean(0))
    ratio = torch.exp(log_w - log_p)  # w_k / p-hat, [N, B]
    if se == "right":
        rel = ratio.std(0, correction=ddof) / math.sqrt(n)
    elif se == "over-N":
        rel = ratio.std(0, correction=ddof) / n
    elif se == "no-sqrtN":
        rel = ratio.std(0, correction=ddof)
    else:  # "log-weights"
        rel = log_w.std(0, correction=ddof) / math.sqrt(n)
    return log_p, rel


def _naive_mc_cases() -> list[Case]:
    d = torch.float64
    g = torch.Generator().manual_seed(4)
    spread = -0.5 * (3 * torch.randn(2000, 2, generator=g, dtype=d)) ** 2 - 1.0  # [2000, 2]: weights spread far
    return [Case("N = 5 samples, 2 data points", (torch.tensor([[-1.0, -3.0], [-2.0, -0.5], [-0.3, -4.0],
                                                                [-5.0, -1.0], [-1.5, -2.0]], dtype=d),)),
            Case("log-weights about -2000", (torch.tensor([[-2000.0], [-2001.5], [-1999.0], [-2003.0]], dtype=d),)),
            Case("N = 2000 weights of very different sizes", (spread,)),
            Case("N = 2 samples, 1 data point", (torch.tensor([[-1.0], [-3.0]], dtype=d),))]


_MC_ESTIMATE_MISTAKES = [
    Mistake("mean-log", "You averaged the log-weights: by Jensen's inequality mean(log w) <= log mean(w), so that is "
            "biased low (it is an ELBO, not log p-hat). Average the weights, in log space: "
            "logsumexp(log_w, 0) - log N.", lambda lw: _naive_mc(lw, reduce="mean-log")),
    Mistake("no-logN", "You forgot the - log N: logsumexp adds the N weights up; their average needs - log N.",
            lambda lw: _naive_mc(lw, reduce="no-logN")),
    Mistake("exp-first", "You exponentiated before averaging: exp(-2000) underflows to 0 and log 0 = -inf. "
            "Stay in log space: logsumexp(log_w, 0) - log N.", lambda lw: _naive_mc(lw, reduce="exp-first")),
]
_MC_SE_MISTAKES = [
    Mistake("se-over-N", "The standard error divides by N; it is std(w) / sqrt(N) (the variance of a mean of N "
            "draws is Var[w] / N).", lambda lw: _naive_mc(lw, se="over-N")),
    Mistake("se-no-sqrtN", "That is the spread of ONE weight, std(w) / p-hat; the standard error of the average of "
            "N weights is that divided by sqrt(N).", lambda lw: _naive_mc(lw, se="no-sqrtN")),
    Mistake("se-of-log-weights", "You took the spread of the log-weights; the standard error is that of the "
            "weights themselves, relative to p-hat: std(w / p-hat) / sqrt(N), with w / p-hat = exp(log_w - log p-hat).",
            lambda lw: _naive_mc(lw, se="log-weights")),
    Mistake("se-mean-log", "The estimate averages the log-weights (Jensen: biased low), and the standard "
            "error relative to it is off too; fix log p-hat first.", lambda lw: _naive_mc(lw, reduce="mean-log")),
    Mistake("se-exp-first", "Exponentiating first made p-hat 0 (underflow), so the relative standard error is 0 / 0; "
            "fix log p-hat first (stay in log space).", lambda lw: _naive_mc(lw, reduce="exp-first")),
    Mistake("se-no-logN", "Log p-hat lacks the - log N, so w / p-hat is N times too small; fix log p-hat first.",
            lambda lw: _naive_mc(lw, reduce="no-logN")),
]


def check_naive_mc(naive_mc: Callable) -> Report:
    """Exercise 4.1: ``naive_mc(log_w) -> (log_p_hat, rel_se)``.

    log_w [N, B]: log p(x_b | z_k) for N prior samples z_k -> log p-hat [B] =
    log (1/N sum_k w_k), and the relative standard error se(p-hat) / p-hat =
    std(w / p-hat) / sqrt(N) [B] (std with N - 1, torch's default; with N also passes).
    """
    report = _check_parts("Exercise 4.1 (the naive Monte Carlo estimate and its standard error)", naive_mc, _naive_mc,
                          _naive_mc_cases(), [("log p-hat", _MC_ESTIMATE_MISTAKES), ("relative standard error", _MC_SE_MISTAKES)],
                          rtol=1e-6, atol=1e-9, passed="Log space throughout, and the error falls as 1/sqrt(N).")
    if report.status == "wrong" and "[relative standard error]" in report.message:
        biased = _check_parts("Exercise 4.1 (the naive Monte Carlo estimate and its standard error)", naive_mc,
                              lambda lw: _naive_mc(lw, ddof=0), _naive_mc_cases(),
                              [("log p-hat", ()), ("relative standard error", ())], rtol=1e-6, atol=1e-9,
                              passed="(Your std divides by N, not N - 1: fine for large N.)")
        if biased.passed:
            return biased
    return report

# == 05 importance sampling ==
#
# Exercise 5.1: log p-hat from log-weights; Exercise 5.2: the effective sample size.  Both take
# log-weights of shape [K, B] (K samples along dim 0, B data points) like lvmlib.estimators.

from lvmlib import estimators as _est  # noqa: E402 - each notebook's section keeps its own imports


def _same_nan(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """:func:`same`, except that NaN matches NaN at the same places (to recognise a mistake that
    produces NaN, e.g. 0/0 after exponentiating; the reference answers are never NaN)."""
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) == len(want_t):
        pairs = []
        for g, w in zip(got_t, want_t):
            if isinstance(g, torch.Tensor) and isinstance(w, torch.Tensor) and g.shape == w.shape:
                g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
                gn, wn = torch.isnan(g64), torch.isnan(w64)
                if gn.any() and torch.equal(gn, wn):
                    g64, w64 = g64.masked_fill(gn, 0.0), w64.masked_fill(wn, 0.0)
                g, w = g64, w64
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


def _log_weight_cases(dtype=torch.float64) -> list[Case]:
    """Log-weights [K, B] with known answers, the hard ones included."""
    t = lambda rows: torch.tensor(rows, dtype=dtype)  # noqa: E731
    return [
        Case("K=4 samples, B=3 points", (t([[0.0, -1.0, 2.0], [-2.0, -3.0, 1.5], [-1.0, 0.5, 0.0], [-0.5, -4.0, 1.0]]),)),
        Case("log-weights near -2000 (exp underflows to 0)", (t([[-2000.0, -2003.0], [-2001.0, -2000.5], [-1999.0, -2002.0]]),)),
        Case("K=1 sample", (t([[-5.0, 1.0, -2000.0]]),)),
        Case("a single data point, K=5", (t([[-3.0], [-1.0], [-7.0], [-2.5], [-1.5]]),)),
        Case("K=2 samples, B=2 points, equal weights", (t([[-4.0, 10.0], [-4.0, 10.0]]),)),
    ]


def _lmexp(log_w):
    return _est.log_mean_exp(log_w, 0)


LOG_P_HAT_MISTAKES = [
    Mistake("mean", "You averaged the log-weights: that is the ELBO (notebook 06), a lower bound, not the log of "
                    "the importance-sampling estimate. Average the weights, not their logs: "
                    "logsumexp over the K samples, minus log K.", lambda lw: lw.mean(0)),
    Mistake("no-logK", "You forgot the - log K: logsumexp adds the K weights; the estimate averages them "
                       "(subtract math.log(K), K = log_w.shape[0]).", lambda lw: torch.logsumexp(lw, 0)),
    Mistake("exp-first", "You exponentiated before averaging: exp(-2000) underflows to 0 and its log is -inf. "
                         "Stay in log space: torch.logsumexp(log_w, 0) - math.log(K).",
            lambda lw: lw.exp().mean(0).log()),
    Mistake("log-B", "You divided by the number of data points B (log_w.shape[1]) instead of the number of "
                     "samples K (log_w.shape[0]).",
            lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[1])),
    Mistake("dim", "You reduced over dim 1, the data points. log_w has shape [K, B]: the K samples of each "
                   "point run along dim 0, and the answer has shape [B].",
            lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1])),
]


def check_log_p_hat(student: Callable) -> Report:
    """Exercise 5.1: ``student(log_w [K, B]) -> [B]``, log p-hat = logsumexp_k log w_k - log K."""
    return check_function("Exercise 5.1 (log p-hat from log-weights)", student, _lmexp, _log_weight_cases(),
                          LOG_P_HAT_MISTAKES, compare=_same_nan,
                          passed="Your log p-hat is lvmlib's est.log_mean_exp(log_w, 0).")


def _ess(log_w):
    return _est.effective_sample_size(log_w)


def _ess_exp_first(lw):
    w = lw.exp()
    return w.sum(0) ** 2 / (w ** 2).sum(0)


ESS_MISTAKES = [
    Mistake("not-normalised", "Your weights are not normalised: 1 / sum_k w_bar_k^2 needs w_bar = w / sum_j w_j "
                              "(in log space: log_w - torch.logsumexp(log_w, 0, keepdim=True)) before squaring.",
            lambda lw: torch.exp(-torch.logsumexp(2 * lw, 0))),
    Mistake("exp-first", "You exponentiated the log-weights: exp(-2000) underflows to 0 and the ESS becomes "
                         "0 / 0 = NaN. Normalise in log space first (subtract the logsumexp), then exponentiate.",
            _ess_exp_first),
    Mistake("fraction", "You returned ESS / K, a fraction; the exercise asks for the ESS itself, a number "
                        "between 1 and K.", lambda lw: _ess(lw) / lw.shape[0]),
    Mistake("no-square", "You forgot the square: sum_k w_bar_k = 1 always, so 1 / sum_k w_bar_k is 1. "
                         "ESS = 1 / sum_k w_bar_k^2.",
            lambda lw: torch.exp(-torch.logsumexp(lw - torch.logsumexp(lw, 0, keepdim=True), 0))),
    Mistake("dim", "You normalised or summed over dim 1, the data points. log_w has shape [K, B]: samples "
                   "along dim 0.", lambda lw: _ess(lw.T)),
]


def check_ess(student: Callable) -> Report:
    """Exercise 5.2: ``student(log_w [K, B]) -> [B]``, ESS = (sum w)^2 / sum w^2, in log space."""
    return check_function("Exercise 5.2 (the effective sample size)", student, _ess, _log_weight_cases(),
                          ESS_MISTAKES, compare=_same_nan,
                          passed="Equal weights give ESS = K, one sample gives ESS = 1.")


# == 06 the ELBO and its gap ==
#
# Exercise 6.1: the ELBO from log-weights; Exercise 6.2: the IWAE bound from log-weights.


def _elbo_ref(log_w):
    return log_w.mean(0)


ELBO_MISTAKES = [
    Mistake("logsumexp", "You took logsumexp - log K: that is the IWAE bound L_K (exercise 6.2), not the ELBO. "
                         "The ELBO averages the log-weights: log_w.mean(0).", _lmexp),
    Mistake("sum", "You summed the K log-weights; the ELBO estimate is their mean.", lambda lw: lw.sum(0)),
    Mistake("dim", "You averaged over dim 1, the data points. log_w has shape [K, B]: average over the K "
                   "samples (dim 0), one ELBO per data point.", lambda lw: lw.mean(1)),
]


def check_elbo(student: Callable) -> Report:
    """Exercise 6.1: ``student(log_w [K, B]) -> [B]``, the Monte Carlo ELBO = mean_k log w_k."""
    return check_function("Exercise 6.1 (the ELBO from log-weights)", student, _elbo_ref, _log_weight_cases(),
                          ELBO_MISTAKES, compare=_same_nan, passed="With K = 1 it is the single log-weight.")


IWAE_MISTAKES = [
    Mistake("mean", "You averaged the log-weights: that is the ELBO, not the IWAE bound. L_K puts the "
                    "average inside the log: logsumexp over the K samples, minus log K.", lambda lw: lw.mean(0)),
    Mistake("no-logK", "You forgot the - log K: without it the bound grows by log K and passes log p(x).",
            lambda lw: torch.logsumexp(lw, 0)),
    Mistake("exp-first", "You exponentiated before averaging: exp(-2000) underflows to 0 and its log is -inf. "
                         "Use torch.logsumexp(log_w, 0) - math.log(K).", lambda lw: lw.exp().mean(0).log()),
    Mistake("log-B", "You divided by the number of data points B (log_w.shape[1]) instead of the number of "
                     "samples K (log_w.shape[0]).", lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[1])),
    Mistake("dim", "You reduced over dim 1, the data points; the K samples run along dim 0.",
            lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1])),
]


def check_iwae_bound(student: Callable) -> Report:
    """Exercise 6.2: ``student(log_w [K, B]) -> [B]``, L_K = logsumexp_k log w_k - log K."""
    return check_function("Exercise 6.2 (the IWAE bound from log-weights)", student, _lmexp, _log_weight_cases(),
                          IWAE_MISTAKES, compare=_same_nan,
                          passed="With K = 1 it equals the ELBO; with equal weights it is exact.")


# == 07 the variational autoencoder ==
#
# Exercise 7.1: the reparameterized sample; Exercise 7.2: the negative ELBO of a batch.

from torch.distributions import Bernoulli as _Bernoulli  # noqa: E402
from torch.distributions import Independent as _Independent  # noqa: E402
from torch.distributions import Normal as _Normal  # noqa: E402
from torch.distributions import kl_divergence as _kl  # noqa: E402


def _reparam_ref(mu, log_sigma, eps):
    return mu + log_sigma.exp() * eps


def _reparam_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    mu, ls = torch.randn(3, 2, generator=g, dtype=torch.float64), 0.5 * torch.randn(3, 2, generator=g, dtype=torch.float64)
    return [
        Case("B=3, d=2", (mu, ls, torch.randn(3, 2, generator=g, dtype=torch.float64))),
        Case("K=5 samples per point: eps [5, 3, 2]", (mu, ls, torch.randn(5, 3, 2, generator=g, dtype=torch.float64))),
        Case("a single data point, d=1, log_sigma = -3", (torch.tensor([[0.5]], dtype=torch.float64),
                                                          torch.tensor([[-3.0]], dtype=torch.float64),
                                                          torch.tensor([[1.5]], dtype=torch.float64))),
    ]


REPARAM_MISTAKES = [
    Mistake("log-sigma-as-sigma", "You scaled eps by log_sigma itself; the scale is sigma = log_sigma.exp().",
            lambda mu, ls, eps: mu + ls * eps),
    Mistake("variance", "You scaled eps by the variance sigma^2; scale it by the standard deviation sigma = "
                        "log_sigma.exp().", lambda mu, ls, eps: mu + (2 * ls).exp() * eps),
    Mistake("log-variance", "You read log_sigma as a log-variance (exp(log_sigma / 2)); here it is the log of "
                            "the standard deviation: sigma = log_sigma.exp().",
            lambda mu, ls, eps: mu + (0.5 * ls).exp() * eps),
]

NO_REPARAM = ("No gradient reaches mu and log_sigma: you sampled z without the reparameterization "
              "(.sample(), torch.normal(...), or .detach() cut the graph), so the encoder would never learn. "
              "Build z from the given noise: z = mu + log_sigma.exp() * eps.")
IGNORES_EPS = ("Your z changes from call to call with the same eps: you drew fresh noise instead of using the "
               "eps given. Build z from it: z = mu + log_sigma.exp() * eps.")


def _gradient_probe(student: Callable) -> str | None:
    """None if z = student(mu, log_sigma, eps) is reparameterized (the right gradient reaches mu and
    log_sigma); else the name of what is wrong ("no-reparam" or "ignores-eps")."""
    g = torch.Generator().manual_seed(11)
    mu0, ls0 = torch.randn(4, 3, generator=g, dtype=torch.float64), 0.3 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    eps, w = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64)
    mu, ls = mu0.clone().requires_grad_(), ls0.clone().requires_grad_()
    z = student(mu, ls, eps.clone())
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return "no-reparam"
    (z * w).sum().backward()
    if mu.grad is None or ls.grad is None or not mu.grad.abs().sum() > 0 or not ls.grad.abs().sum() > 0:
        return "no-reparam"
    again = student(mu0.clone(), ls0.clone(), eps.clone())
    if not torch.allclose(z.detach(), torch.as_tensor(again).detach().to(z.dtype)):
        return "ignores-eps"
    if not (torch.allclose(mu.grad, w) and torch.allclose(ls.grad, w * ls0.exp() * eps)):
        return "no-reparam"
    return None


def check_reparameterized_sample(student: Callable) -> Report:
    """Exercise 7.1: ``student(mu, log_sigma, eps) -> z = mu + exp(log_sigma) * eps`` (broadcasting).

    Besides the values, checks that a gradient flows to ``mu`` and ``log_sigma`` (the point of the trick).
    """
    name = "Exercise 7.1 (the reparameterized sample)"
    report = check_function(name, student, _reparam_ref, _reparam_cases(), REPARAM_MISTAKES)
    if report.status in ("todo", "error") or report.mistake is not None:
        return report
    try:
        problem = _gradient_probe(student)
    except Exception as err:  # noqa: BLE001 - reported, not raised
        return Report(name, "error", f"{name}: your function raised {type(err).__name__}: {err}\n"
                                     "  when called with mu and log_sigma that require gradients")
    if problem is not None:
        return Report(name, "wrong", f"{name}: not yet. {NO_REPARAM if problem == 'no-reparam' else IGNORES_EPS}",
                      problem)
    if report.passed:
        return Report(name, "passed", report.message + " The gradient reaches mu and log_sigma.")
    return report


def _neg_elbo_ref(x, logits, mu, log_sigma):
    rec = _Independent(_Bernoulli(logits=logits), 1).log_prob(x)  # [B]
    q = _Independent(_Normal(mu, log_sigma.exp()), 1)
    prior = _Independent(_Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    return -(rec - _kl(q, prior)).mean()


def _rec(x, logits):
    return _Independent(_Bernoulli(logits=logits), 1).log_prob(x)  # [B]


def _kl_std(mu, log_sigma):
    return 0.5 * (mu ** 2 + (2 * log_sigma).exp() - 1 - 2 * log_sigma).sum(-1)  # [B]


def _neg_elbo_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(3, 6, generator=g) < 0.5).float()
    confident = torch.tensor([[40.0, -40.0, 40.0, -40.0]])
    return [
        Case("B=3 digits, 6 pixels, d=2", (x, torch.randn(3, 6, generator=g), torch.randn(3, 2, generator=g),
                                           0.5 * torch.randn(3, 2, generator=g))),
        Case("a single data point, d=1", (x[:1], torch.randn(1, 6, generator=g), torch.tensor([[0.7]]),
                                          torch.tensor([[-1.0]]))),
        Case("confident logits +-40, half of them wrong", (torch.tensor([[1.0, 0.0, 0.0, 1.0]]), confident,
                                                           torch.zeros(1, 2), torch.zeros(1, 2))),
    ]


NEG_ELBO_MISTAKES = [
    Mistake("kl-sign", "The KL has the wrong sign: ELBO = E_q[log p(x | z)] - KL(q(z | x) || p(z)), so the "
                       "loss (minus the ELBO) ADDS the KL to the reconstruction loss.",
            lambda x, l, mu, ls: -(_rec(x, l) + _kl_std(mu, ls)).mean()),
    Mistake("sum-batch", "You summed over the batch; average over the digits (the loss per digit does not "
                         "change with the batch size, so the learning rate means the same for any batch).",
            lambda x, l, mu, ls: -(_rec(x, l) - _kl_std(mu, ls)).sum()),
    Mistake("not-negated", "You returned the ELBO itself; the loss to minimize is minus the ELBO.",
            lambda x, l, mu, ls: (_rec(x, l) - _kl_std(mu, ls)).mean()),
    Mistake("pixel-mean", "You averaged the reconstruction term over the pixels too (binary_cross_entropy's "
                          "default reduction='mean'): log p(x | z) SUMS over the pixels; average only over digits.",
            lambda x, l, mu, ls: torch.nn.functional.binary_cross_entropy_with_logits(l, x) + _kl_std(mu, ls).mean()),
    Mistake("no-kl", "You left out the KL term: that is an autoencoder's reconstruction loss, not minus the ELBO.",
            lambda x, l, mu, ls: -_rec(x, l).mean()),
    Mistake("log-variance", "Your KL reads log_sigma as a log-variance; here it is the log of the standard "
                            "deviation: KL = 0.5 * sum(mu^2 + sigma^2 - 1 - 2 log sigma).",
            lambda x, l, mu, ls: -(_rec(x, l) - 0.5 * (mu ** 2 + ls.exp() - 1 - ls).sum(-1)).mean()),
    Mistake("sigmoid-log", "You took log(sigmoid(logits)) by hand: at a confident pixel sigmoid(40) is exactly 1.0 "
                           "in float32 and log(1 - 1) = -inf. Use Bernoulli(logits=logits).log_prob(x) or "
                           "binary_cross_entropy_with_logits (stable for any logit).",
            lambda x, l, mu, ls: (-(x * torch.sigmoid(l).log() + (1 - x) * (1 - torch.sigmoid(l)).log()).sum(-1)
                                  + _kl_std(mu, ls)).mean()),
]


def check_negative_elbo(student: Callable) -> Report:
    """Exercise 7.2: ``student(x [B, D], logits [B, D], mu [B, d], log_sigma [B, d]) -> scalar``:
    minus the ELBO, mean over the batch of ( -log p(x | z) + KL(N(mu, sigma^2) || N(0, I)) )."""
    return check_function("Exercise 7.2 (the negative ELBO of a batch)", student, _neg_elbo_ref, _neg_elbo_cases(),
                          NEG_ELBO_MISTAKES, compare=lambda g, w: _same_nan(g, w, rtol=1e-4, atol=1e-4),
                          passed="Minimizing it is maximizing the ELBO, per digit.")


# == 08 latent interpolation ==
#
# Exercise 8.1: slerp.


def _slerp_ref(z0, z1, t):
    from lvmlib.vae import slerp as _vae_slerp

    return _vae_slerp(z0, z1, torch.tensor([[float(t)]], dtype=z0.dtype))[0]  # [Dz]


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
    return [
        Case("orthogonal unit vectors, t = 0.5", (e0, e1, 0.5)),
        Case("orthogonal unit vectors, t = 0.25", (e0, e1, 0.25)),
        Case("different norms, t = 0 (must return z0)", (a, b, 0.0)),
        Case("different norms, t = 1 (must return z1)", (a, b, 1.0)),
        Case("8-D codes, t = 0.3", (u, v, 0.3)),
        Case("parallel endpoints z1 = 2 z0 (angle 0), t = 0.5", (p, 2 * p, 0.5)),
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
    Mistake(m.name, m.explain + " (And for parallel endpoints your slerp returns NaN: fall back to the straight "
                                "line when sin(omega) is tiny.)", fn)
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
]


def check_slerp(student: Callable) -> Report:
    """Exercise 8.1: ``student(z0 [d], z1 [d], t: float) -> [d]``, spherical linear interpolation."""
    return check_function("Exercise 8.1 (slerp)", student, _slerp_ref, _slerp_cases(), SLERP_MISTAKES,
                          compare=lambda g, w: _same_nan(g, w, rtol=1e-6, atol=1e-8),
                          passed="It starts at z0, ends at z1, and survives parallel endpoints.")

# == 09 learning with the ELBO ==


def _score_terms_reference(f_values, z, loc, scale):
    """f(z_n) d/d(mu, sigma) log N(z_n; mu, diag sigma^2), per sample: ([N, D], [N, D])."""
    u = z - loc  # [N, D]
    f = f_values[:, None]  # [N, 1]
    return f * u / scale**2, f * (u**2 / scale**3 - 1 / scale)


def _score_cases():
    g = torch.Generator().manual_seed(9)
    cases = []
    for name, n, d, s in (("N = 5 samples, D = 3, sigma = 0.7", 5, 3, 0.7),
                          ("one sample, D = 1, sigma = 2", 1, 1, 2.0),
                          ("N = 4, D = 2, different sigma per dimension", 4, 2, None)):
        loc = torch.randn(d, generator=g, dtype=torch.float64)
        scale = torch.full((d,), s, dtype=torch.float64) if s else torch.tensor([0.5, 1.5], dtype=torch.float64)
        z = loc + scale * torch.randn(n, d, generator=g, dtype=torch.float64)
        f_values = ((z - 1.0) ** 2).sum(-1)
        cases.append(Case(name, (f_values, z, loc, scale)))
    return cases


_SCORE_MISTAKES = (
    Mistake("no -1/sigma", "The sigma part misses the derivative of the normalizer: log N(z; mu, sigma^2) contains "
            "-log sigma, whose derivative -1/sigma must be added to (z - mu)^2 / sigma^3.",
            lambda f, z, m, s: (f[:, None] * (z - m) / s**2, f[:, None] * (z - m) ** 2 / s**3)),
    Mistake("sigma not squared", "d/dmu log N(z; mu, sigma^2) = (z - mu) / sigma^2, not (z - mu) / sigma: the density "
            "has (z - mu)^2 / (2 sigma^2) in the exponent.",
            lambda f, z, m, s: (f[:, None] * (z - m) / s, f[:, None] * ((z - m) ** 2 / s**3 - 1 / s))),
    Mistake("no f", "Each term is f(z_n) times the score; without f(z_n) you estimate E_q[score] = 0, not the gradient.",
            lambda f, z, m, s: ((z - m) / s**2, (z - m) ** 2 / s**3 - 1 / s)),
    Mistake("averaged", "Return one term per sample, shape [N, D] (the notebook averages them and measures their spread), "
            "not their mean over the samples.",
            lambda f, z, m, s: tuple(t.mean(0) for t in _score_terms_reference(f, z, m, s))),
)


def check_score_function_terms(student) -> Report:
    """Exercise 9.1: ``student(f_values [N], z [N, D], loc [D], scale [D]) -> (terms for mu, terms for sigma)``,
    each [N, D]: the score-function (REINFORCE) terms f(z_n) d/dphi log q(z_n)."""
    return check_function("Exercise 9.1 (the score-function estimator)", student, _score_terms_reference,
                          _score_cases(), _SCORE_MISTAKES, rtol=1e-7, atol=1e-9,
                          passed="Their mean is an unbiased estimate of the gradient; the next cell compares it with the exact one.")

# == 10 priors and labels ==

__all__ += ["check_mixture_log_prob", "check_m2_unlabelled"]


def _mixture_reference(z, logits, loc, scale):
    from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

    comps = Independent(Normal(loc, scale), 1)
    return MixtureSameFamily(Categorical(logits=logits), comps).log_prob(z)


def _prior_mixture_cases() -> list:
    g = torch.Generator().manual_seed(10)
    d64 = torch.float64
    z = torch.randn(5, 2, generator=g, dtype=d64)
    loc = torch.randn(3, 2, generator=g, dtype=d64) * 2
    scale = torch.rand(3, 2, generator=g, dtype=d64) + 0.3
    return [
        Case("5 points, 3 components in 2-D, normalized logits", (z, torch.log(torch.tensor([0.2, 0.3, 0.5], dtype=d64)), loc, scale)),
        Case("unnormalized logits [1, 2, 3] (the weights are their softmax)", (z, torch.tensor([1.0, 2.0, 3.0], dtype=d64), loc, scale)),
        Case("points 60 standard deviations away (densities below 1e-300)", (z + 60.0, torch.zeros(3, dtype=d64), loc, scale * 0 + 1)),
        Case("one component", (z, torch.zeros(1, dtype=d64), loc[:1], scale[:1])),
    ]


def _normal_log_prob(z, loc, scale):  # [B, K]: log N(z_b; m_k, s_k^2), summed over dimensions
    from torch.distributions import Independent, Normal

    return Independent(Normal(loc, scale), 1).log_prob(z[:, None, :])


_PRIOR_MIXTURE_MISTAKES = [
    Mistake("unnormalized weights",
            "the logits are not log-weights until they are normalized: use torch.log_softmax(logits, 0) "
            "(log pi_k = logits_k - logsumexp(logits)) before adding them to the components' log densities.",
            lambda z, logits, loc, scale: torch.logsumexp(logits + _normal_log_prob(z, loc, scale), -1)),
    Mistake("exp then log",
            "you exponentiated the log densities and took the log of their weighted sum: far from every "
            "component the densities underflow to 0 and log 0 = -inf. Stay in log space: "
            "torch.logsumexp(log_softmax(logits) + log N(z; m_k, s_k), dim=-1).",
            lambda z, logits, loc, scale: torch.log((torch.softmax(logits, 0) * _normal_log_prob(z, loc, scale).exp()).sum(-1))),
    Mistake("average of logs",
            "you averaged the components' log densities with the weights, sum_k pi_k log N_k, which is only a "
            "lower bound (Jensen). The mixture's density is the weighted sum of densities: "
            "log sum_k pi_k N_k = logsumexp_k(log pi_k + log N_k).",
            lambda z, logits, loc, scale: (torch.softmax(logits, 0) * _normal_log_prob(z, loc, scale)).sum(-1)),
]


def check_mixture_log_prob(fn: Callable) -> Report:
    """Exercise 10.1: ``fn(z [B, Dz], logits [K], loc [K, Dz], scale [K, Dz]) -> log p(z) [B]`` of a Gaussian mixture."""
    return check_function("Exercise 10.1 (the mixture prior's log-density)", fn, _mixture_reference,
                          _prior_mixture_cases(), _PRIOR_MIXTURE_MISTAKES, rtol=1e-6, atol=1e-6,
                          passed="Your function is the log-density of lvmlib.priors.MixturePrior.")


def _m2_reference(log_q_y, labelled):
    return (log_q_y.exp() * (labelled - log_q_y)).sum(-1)


def _m2_cases() -> list:
    g = torch.Generator().manual_seed(11)
    d64 = torch.float64
    logits = torch.randn(4, 10, generator=g, dtype=d64) * 2
    lab = -30 - 10 * torch.rand(4, 10, generator=g, dtype=d64)
    return [
        Case("4 digits, 10 classes", (torch.log_softmax(logits, -1), lab)),
        Case("a confident classifier (q(y|x) ~ one-hot)", (torch.log_softmax(logits * 20, -1), lab)),
        Case("a uniform classifier (entropy log 10)", (torch.full((2, 10), -math.log(10), dtype=d64), lab[:2])),
        Case("3 classes", (torch.log_softmax(logits[:, :3], -1), lab[:, :3])),
    ]


_M2_MISTAKES = [
    Mistake("no entropy",
            "you took the expected labelled bound sum_y q(y|x) B_l(x, y) but left out the entropy H(q(y|x)) = "
            "-sum_y q(y|x) log q(y|x): without it the sum is not a bound on log p(x) of the model where y is "
            "latent (it is E_q[log p(x, y)], missing the -log q(y|x) of the ELBO).",
            lambda lq, lab: (lq.exp() * lab).sum(-1)),
    Mistake("entropy sign",
            "the entropy enters with a plus sign, H = -sum_y q log q >= 0: the bound is sum_y q(y|x) (B_l - log q(y|x)).",
            lambda lq, lab: (lq.exp() * (lab + lq)).sum(-1)),
    Mistake("logsumexp",
            "you combined the classes with a logsumexp, log sum_y q(y|x) exp(B_l): that mixes the two bounds "
            "inside one log (an importance-weighted estimate with one sample per class), not the M2 bound. The "
            "ELBO over y is an expectation: sum_y q(y|x) (B_l(x, y) - log q(y|x)).",
            lambda lq, lab: torch.logsumexp(lq + lab, -1)),
    Mistake("plain average over classes",
            "you averaged over the classes with equal weights; weight each class by q(y|x) = exp(log_q_y).",
            lambda lq, lab: lab.mean(-1)),
]


def check_m2_unlabelled(fn: Callable) -> Report:
    """Exercise 10.2: ``fn(log_q_y [B, C], labelled [B, C]) -> [B]``, the unlabelled bound of M2."""
    return check_function("Exercise 10.2 (M2's bound for an unlabelled digit)", fn, _m2_reference, _m2_cases(),
                          _M2_MISTAKES, rtol=1e-6, atol=1e-6,
                          passed="This is what lvmlib.m2.M2.unlabelled_bound computes.")
