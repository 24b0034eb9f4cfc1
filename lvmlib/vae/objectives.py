"""What a training run maximizes, as one object (like numpyro's ``SVI(..., loss=Trace_ELBO())``).

``train(model, x, epochs, objective=IWAE(5))`` instead of loose keywords: the objective carries its kind,
its number of samples and, optionally, **whose function computes it**, so a notebook can train with a
student's function (once its check passed, through :func:`lvmlib.exercises.choose`) and say so.

- :class:`ELBO` and :class:`IWAE`: per point [B],

      ELBO(x) = (1/K) sum_k log w_k,   L_K(x) = logsumexp_k log w_k - log K,
      log w_k = log p(z_k) + log p(x | z_k) - log q(z_k | x),  z_k = mu(x) + sigma(x) eps_k

  (Kingma and Welling 2014; Burda, Grosse and Salakhutdinov 2016).  ``fn=None`` computes them with
  :mod:`lvmlib.inference`; ``fn`` is a function of exercise 6.1's signature
  ``fn(x, model, encoder, K, kind, generator=None) -> [B]``.
- :class:`PriorTermELBO`: the ELBO written as reconstruction minus the prior term (exercise 10.2),

      ELBO(x) ~ (1/S) sum_s log p(x | z_s) - prior_term(mu, log sigma, eps, log p),  z_s = mu + sigma eps_s,

  with ``log p`` the model's prior, or a mixture prior's log-density from a function of exercise 10.1's
  signature; the same value, for the same eps, as :class:`ELBO` with S samples.
- :class:`M2Bound`: M2's objective (Kingma et al. 2014, eq. 9), mean B_l + mean B_u + alpha mean log q(y_l | x_l),
  its unlabelled part B_u optionally from a function of exercise 10.4's signature ``fn(log_q_y [B, C],
  labelled [B, C]) -> [B]``.

Every objective has ``who`` (whose code computes it: "your objective" once a student's function passed,
"lvmlib's ..." otherwise) and ``label`` (``"elbo"``, ``"iwae5"``); a function's answer is checked on every
call (a tensor [B], floating, with a gradient when one is being recorded) and a wrong one is refused with
an error that names the function and what to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch

from lvmlib._util import noise, positive_int

__all__ = ["Objective", "ELBO", "IWAE", "PriorTermELBO", "M2Bound", "as_objective", "who_wrote"]


def who_wrote(fn: Callable | None, default: str) -> str:
    """Whose function ``fn`` is, in words: a :class:`lvmlib.exercises.Chosen` says ("your objective" /
    "lvmlib's objective"); ``None`` -> ``default``; any other function -> "the function NAME"."""
    if fn is None:
        return default
    who = getattr(fn, "who", None)
    if isinstance(who, str):
        return who
    return f"the function {getattr(fn, '__name__', type(fn).__name__)}"


def _checked(out, fn: Callable, what: str, batch: int, ref: torch.Tensor) -> torch.Tensor:
    """``out`` if it is a floating tensor [batch] on ``ref``'s device with a gradient where one is recorded;
    else an error naming the function and the fix."""
    name = getattr(fn, "name", None) or getattr(fn, "__name__", type(fn).__name__)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} returned {type(out).__name__}; {what} must be a torch tensor of shape [{batch}] "
                        "(one value per data point, no .item() or .tolist())")
    if tuple(out.shape) != (batch,):
        raise ValueError(f"{name} returned shape {tuple(out.shape)}; {what} must have shape [{batch}], one value per "
                         "data point (reduce over the samples only, not over the batch)")
    if not out.is_floating_point():
        raise TypeError(f"{name} returned dtype {out.dtype}; {what} must be a floating-point tensor")
    if out.device != ref.device:
        raise ValueError(f"{name} returned a tensor on {out.device}, the model is on {ref.device}: create new "
                         "tensors with device=x.device")
    if torch.is_grad_enabled() and not out.requires_grad:
        raise ValueError(f"{name} returned a tensor without a gradient: training needs one. Remove .detach(), "
                         ".item() or torch.no_grad() from it")
    return out


@dataclass(frozen=True)
class Objective:
    """A per-point bound to maximize: ``objective(model, x, generator) -> [B]`` (nats, with a gradient).

    Subclasses set ``kind`` and implement :meth:`bound`; ``who`` says whose code computes it.
    """

    kind: ClassVar[str] = "elbo"
    num_samples: int = 1

    def __post_init__(self):
        positive_int(self.num_samples, "num_samples")

    @property
    def label(self) -> str:
        """Short name for progress bars and messages: ``"elbo"`` or ``"iwae5"``."""
        return "elbo" if self.kind == "elbo" else f"{self.kind}{self.num_samples}"

    @property
    def who(self) -> str:
        return f"lvmlib's {self.label}"

    def bound(self, model, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, model, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.bound(model, x, generator)


@dataclass(frozen=True)
class ELBO(Objective):
    """The Monte Carlo ELBO with ``num_samples`` samples per point (Kingma and Welling 2014).

    Args:
        num_samples: K (the K one-sample terms are averaged).
        fn: optional ``fn(x, model, encoder, K, kind, generator=None) -> [B]`` (exercise 6.1's objective,
            called with ``kind="elbo"``); ``None``: :func:`lvmlib.inference.elbo`.

    Taught in notebook 07 (The variational autoencoder).
    """

    kind: ClassVar[str] = "elbo"
    fn: Callable | None = None

    @property
    def who(self) -> str:
        return who_wrote(self.fn, f"lvmlib's {self.label}")

    def bound(self, model, x, generator):
        if self.fn is None:
            return model.bound(x, self.kind, self.num_samples, generator)
        out = self.fn(x, model, model.encode, self.num_samples, self.kind, generator=generator)
        return _checked(out, self.fn, f"the {self.kind} objective", x.shape[0], x)


@dataclass(frozen=True)
class IWAE(ELBO):
    """The importance-weighted bound L_K (Burda, Grosse and Salakhutdinov 2016); ``IWAE(1)`` is the ELBO.

    Args:
        num_samples: K (default 5).
        fn: as for :class:`ELBO`, called with ``kind="iwae"``.

    Taught in notebook 07 (The variational autoencoder).
    """

    kind: ClassVar[str] = "iwae"
    num_samples: int = 5


def as_objective(objective, num_samples: int | None = None) -> Objective:
    """An :class:`Objective` from ``train``'s argument: an Objective as it is, or the shorthand
    ``"elbo"`` / ``"iwae"`` with ``num_samples`` (default 1)."""
    if isinstance(objective, Objective):
        if num_samples is not None:
            raise ValueError(f"num_samples belongs to the objective: write objective={type(objective).__name__}("
                             f"{num_samples}, ...) instead of passing num_samples={num_samples} beside it")
        return objective
    if isinstance(objective, str) and objective in ("elbo", "iwae"):
        k = 1 if num_samples is None else num_samples
        return ELBO(k) if objective == "elbo" else IWAE(k)
    raise ValueError(f"unknown objective {objective!r}; pass lvmlib.vae.ELBO(K), lvmlib.vae.IWAE(K) (or the "
                     "shorthand 'elbo' / 'iwae'), or another lvmlib.vae.Objective")


@dataclass(frozen=True)
class PriorTermELBO(Objective):
    """ELBO(x) = (1/S) sum_s log p(x | z_s) - prior_term(mu, log sigma, eps, log_prior), z_s = mu + sigma eps_s.

    The ELBO split into reconstruction and the prior term E_q[log q(z | x) - log p(z)] (a KL with no closed
    form for a mixture prior), estimated from the same S samples; its value equals :class:`ELBO`'s for the
    same noise.

    Args:
        prior_term: ``prior_term(mu [B, Dz], log_sigma [B, Dz], eps [S, B, Dz], log_prior) -> [B]`` (exercise 10.2).
        mixture_log_prob: optional ``fn(z [N, Dz], logits [K], loc [K, Dz], scale [K, Dz]) -> [N]`` (exercise
            10.1): the log-density of the model's :class:`~lvmlib.vae.MixturePrior`; ``None``: the model's own
            ``prior().log_prob``.
        num_samples: S.

    Taught in notebook 10 (Priors and labels).
    """

    kind: ClassVar[str] = "elbo"
    prior_term: Callable | None = None
    mixture_log_prob: Callable | None = None

    def __post_init__(self):
        super().__post_init__()
        if not callable(self.prior_term):
            raise TypeError("PriorTermELBO needs prior_term, a function (mu, log_sigma, eps, log_prior) -> [B]")

    @property
    def who(self) -> str:
        parts = [who_wrote(self.prior_term, "")]
        if self.mixture_log_prob is not None:
            parts.append(who_wrote(self.mixture_log_prob, ""))
        return " and ".join(parts)

    def _log_prior(self, model) -> Callable:
        prior = getattr(model, "prior_net", None)
        if self.mixture_log_prob is None:
            return model.prior().log_prob
        if prior is None or not all(hasattr(prior, a) for a in ("logits", "loc", "scale")):
            raise ValueError("mixture_log_prob was given, but the model's prior is not a MixturePrior: build the "
                             "VAE with prior=MixturePrior(K, Dz), or leave mixture_log_prob out")
        fn, logits, loc, scale = self.mixture_log_prob, prior.logits, prior.loc, prior.scale()

        def log_prior(z):  # z [..., Dz] -> [...]
            flat = z.reshape(-1, z.shape[-1])
            return _checked(fn(flat, logits, loc, scale), fn, "the mixture's log p(z)", flat.shape[0],
                            flat).reshape(z.shape[:-1])
        return log_prior

    def bound(self, model, x, generator):
        q = model.encode(x)  # batch [B], event [Dz]
        mu, log_sigma = q.base_dist.loc, q.base_dist.scale.log()  # [B, Dz] each
        eps = noise("randn", (self.num_samples, *mu.shape), generator, dtype=mu.dtype, device=mu.device)  # [S, B, Dz]
        z = mu + log_sigma.exp() * eps  # the samples the prior term builds from the same eps   [S, B, Dz]
        reconstruction = model.likelihood(z).log_prob(x).mean(0)  # [B]
        term = _checked(self.prior_term(mu, log_sigma, eps, self._log_prior(model)), self.prior_term,
                        "the prior term", x.shape[0], x)
        return reconstruction - term


@dataclass(frozen=True)
class M2Bound:
    """M2's training objective (Kingma et al. 2014, eq. 9), a scalar to maximize:

        mean_l B_l(x_l, y_l) + mean_u B_u(x_u) + alpha mean_l log q(y_l | x_l),
        B_u(x) = sum_y q(y | x) (B_l(x, y) - log q(y | x)).

    Args:
        alpha: weight of the classification term.
        unlabelled_bound: optional ``fn(log_q_y [B, C], labelled [B, C]) -> [B]`` (exercise 10.4) that sums y
            out; ``None``: :meth:`lvmlib.vae.M2.unlabelled_bound`.

    Taught in notebook 10 (Priors and labels).
    """

    alpha: float = 10.0
    unlabelled_bound: Callable | None = None

    def __post_init__(self):
        if not (isinstance(self.alpha, (int, float)) and self.alpha >= 0 and math.isfinite(self.alpha)):
            raise ValueError(f"alpha must be a non-negative number, got {self.alpha!r}")

    @property
    def who(self) -> str:
        return who_wrote(self.unlabelled_bound, "lvmlib's M2.unlabelled_bound")

    def __call__(self, model, x_l, y_l, x_u, generator=None) -> torch.Tensor:
        if self.unlabelled_bound is None:
            return model.objective(x_l, y_l, x_u, self.alpha, generator=generator)

        def b_u(x, generator=None):  # [B]: the student's sum over y, from lvmlib's parts, checked
            log_q_y, labelled = model.unlabelled_parts(x, generator=generator)  # [B, C] each
            return _checked(self.unlabelled_bound(log_q_y, labelled), self.unlabelled_bound, "the unlabelled bound",
                            x.shape[0], x)

        return model.objective(x_l, y_l, x_u, self.alpha, generator=generator, unlabelled_bound=b_u)

