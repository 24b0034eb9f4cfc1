"""The amortization gap: an encoder's q(z | x) against a Gaussian q optimized for each point.

For a model p and a point x, with Q the family of diagonal Gaussians,

    log p(x) - ELBO(q_phi(. | x))
      = [log p(x) - max_{q in Q} ELBO(q)]            approximation gap (the family is too poor)
      + [max_{q in Q} ELBO(q) - ELBO(q_phi(. | x))]  amortization gap (one network for all x)

(Cremer, Li and Duvenaud 2018, "Inference Suboptimality in Variational Autoencoders").  The
best q in Q is found per point by gradient ascent on its ELBO, started from the encoder's
q (:func:`optimize_local_q`, all points at once: the ELBO of a batch is a sum of independent
per-point terms, so one Adam run on the sum optimizes every point's q separately), and
:func:`gap_split` turns the three per-point numbers into the two gaps with standard errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.distributions import Distribution, Independent, Normal

from lvmlib._util import check_generator, mean_se, positive_int
from lvmlib.inference import estimators

__all__ = ["LocalQ", "optimize_local_q", "GapSplit", "gap_split", "GapRun", "gap_run"]


@dataclass
class LocalQ:
    """Per-point Gaussians q_b = N(loc[b], diag scale[b]^2) found by :func:`optimize_local_q`.

    Attributes:
        loc, scale: [B, Dz], the best q of each point (by its evaluation ELBO).
        steps: [T] the optimization steps at which the ELBO was evaluated (0 = the start).
        elbo: [T, B], the evaluation ELBO of the best q so far at each recorded step (non-decreasing
            in T for every point, by construction: the same noise every time, and the best q kept).
        eval_samples: samples per point of the evaluation ELBO.
    """

    loc: torch.Tensor
    scale: torch.Tensor
    steps: torch.Tensor
    elbo: torch.Tensor
    eval_samples: int

    def q(self) -> Independent:
        """The optimized q as a distribution: batch [B], event [Dz]."""
        return Independent(Normal(self.loc, self.scale), 1)


def optimize_local_q(model, x: torch.Tensor, init: Distribution, steps: int = 300, *, lr: float = 0.02,
                     num_samples: int = 4, eval_samples: int = 100, record_every: int = 25,
                     generator: torch.Generator | None = None, eval_seed: int = 0) -> LocalQ:
    """Maximize each point's ELBO over a diagonal Gaussian q, started from ``init`` (the encoder's q).

    Adam on the sum over points of the reparameterized ``num_samples``-sample ELBO
    (:func:`lvmlib.inference.elbo`), in (loc, log scale).  Every ``record_every`` steps the ELBO
    is evaluated with ``eval_samples`` samples drawn from a generator seeded with ``eval_seed``
    (the same noise every time: common random numbers), and each point keeps its best q so far, so
    the recorded ELBO never goes down.  The model's own parameters are not changed.

    Args:
        model: follows the model protocol (``prior()``, ``likelihood(z)``), e.g. a VAE.
        x: [B, Dx].
        init: ``Independent(Normal(loc [B, Dz], scale [B, Dz]), 1)``, e.g. ``vae.encoder(x)``.
        steps: optimization steps; lr: Adam's learning rate; num_samples: samples per step.
        eval_samples, record_every, eval_seed: the evaluation (see above).
        generator: optional ``torch.Generator`` for the training noise.

    Returns:
        a :class:`LocalQ`.

    Taught in notebook 09 (Learning with the ELBO).
    """
    if not (isinstance(init, Independent) and isinstance(init.base_dist, Normal)):
        raise TypeError(f"init must be Independent(Normal(loc, scale), 1) (a VAE encoder's q), got {type(init).__name__}")
    loc0, scale0 = init.base_dist.loc.detach(), init.base_dist.scale.detach()
    if loc0.dim() != 2 or loc0.shape[0] != x.shape[0]:
        raise ValueError(f"init must have batch shape [B] = [{x.shape[0]}] and event [Dz], got loc of shape {tuple(loc0.shape)}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    num_samples, eval_samples = positive_int(num_samples, "num_samples"), positive_int(eval_samples, "eval_samples")
    record_every = positive_int(record_every, "record_every")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    loc = loc0.clone().requires_grad_(True)  # [B, Dz]
    log_scale = scale0.log().clone().requires_grad_(True)  # [B, Dz]
    opt = torch.optim.Adam([loc, log_scale], lr=lr)
    check_generator(generator)
    eval_device = generator.device if generator is not None else x.device

    def evaluate(l, s):
        g = torch.Generator(eval_device).manual_seed(eval_seed)
        with torch.no_grad():
            return estimators.elbo(x, model, Independent(Normal(l, s), 1), eval_samples, generator=g)  # [B]

    best_loc, best_scale = loc0.clone(), scale0.clone()
    best = evaluate(best_loc, best_scale)
    rec_steps, rows = [0], [best.clone()]
    for step in range(1, steps + 1):
        q = Independent(Normal(loc, log_scale.exp()), 1)
        loss = -estimators.elbo(x, model, q, num_samples, generator=generator, check=False).sum()
        loc_grad, ls_grad = torch.autograd.grad(loss, (loc, log_scale))
        loc.grad, log_scale.grad = loc_grad, ls_grad
        opt.step()
        if step % record_every == 0 or step == steps:
            with torch.no_grad():
                now = evaluate(loc, log_scale.exp())
                better = now > best  # [B]
                best = torch.where(better, now, best)
                best_loc[better] = loc[better]
                best_scale[better] = log_scale.exp()[better]
            rec_steps.append(step)
            rows.append(best.clone())
    elbo = torch.stack(rows)  # [T, B]
    if not bool(torch.isfinite(elbo).all()):
        raise FloatingPointError(f"the ELBO became non-finite; try a smaller lr than {lr}")
    return LocalQ(best_loc, best_scale, torch.tensor(rec_steps), elbo, eval_samples)


@dataclass
class GapSplit:
    """Mean gaps in nats per point, each with its standard error across points (paired differences).

    log_p - elbo_amortized = approximation + amortization = total.
    """

    log_p: float
    elbo_optimal: float
    elbo_amortized: float
    approximation: float
    approximation_se: float
    amortization: float
    amortization_se: float
    total: float
    total_se: float


def gap_split(log_p: torch.Tensor, elbo_optimal: torch.Tensor, elbo_amortized: torch.Tensor) -> GapSplit:
    """Split log p(x) - ELBO(encoder) into the approximation and amortization gaps (Cremer et al. 2018).

    Args:
        log_p: [B] log p(x) (or a tight estimate, e.g. importance sampling with many samples).
        elbo_optimal: [B] the ELBO of the best q of the family for each point (:func:`optimize_local_q`).
        elbo_amortized: [B] the ELBO of the encoder's q.

    Returns:
        a :class:`GapSplit`; standard errors are std / sqrt(B) of the per-point differences.

    Taught in notebook 09 (Learning with the ELBO).
    """
    t = [torch.as_tensor(v).detach().double().flatten() for v in (log_p, elbo_optimal, elbo_amortized)]
    if not (t[0].shape == t[1].shape == t[2].shape) or t[0].numel() < 2:
        raise ValueError(f"log_p, elbo_optimal, elbo_amortized must be [B] with the same B >= 2, "
                         f"got {[tuple(v.shape) for v in t]}")
    if not all(bool(torch.isfinite(v).all()) for v in t):
        raise ValueError("log_p, elbo_optimal and elbo_amortized must be finite")
    lp, opt, amo = t
    a, a_se = mean_se(lp - opt)
    m, m_se = mean_se(opt - amo)
    tot, tot_se = mean_se(lp - amo)
    return GapSplit(float(lp.mean()), float(opt.mean()), float(amo.mean()), a, a_se, m, m_se, tot, tot_se)



@dataclass
class GapRun:
    """One model: per-point log p(x), the local q's ELBO along its optimization, the gap splits.

    Attributes:
        latent_dim: Dz.
        log_p: [B] importance-sampled log p(x), with the optimized q as proposal.
        local: the :class:`LocalQ` (``elbo[0]`` is the encoder's ELBO).
        splits: one :class:`GapSplit` per recorded step.

    Taught in notebook 09 (Learning with the ELBO).
    """

    latent_dim: int
    log_p: torch.Tensor
    local: LocalQ
    splits: list


def gap_run(model, x: torch.Tensor, *, steps: int = 300, lr: float = 0.02, num_samples: int = 4,
            eval_samples: int = 100, record_every: int = 25, is_samples: int = 1000,
            generator: torch.Generator | None = None) -> GapRun:
    """Optimize a q per point from the encoder's q (:func:`optimize_local_q`), then estimate log p(x)
    by importance sampling with the optimized q as proposal (``is_samples`` samples), and split the
    gap (:func:`gap_split`) at every recorded step.

    Args:
        model: follows the model protocol and has an ``encoder(x)`` returning
            ``Independent(Normal(loc [B, Dz], scale [B, Dz]), 1)`` (a VAE).
        x: [B, Dx].

    Returns:
        a :class:`GapRun`.

    Taught in notebook 09 (Learning with the ELBO).
    """
    with torch.no_grad():
        q0 = model.encoder(x)
    local = optimize_local_q(model, x, q0, steps, lr=lr, num_samples=num_samples, eval_samples=eval_samples,
                             record_every=record_every, generator=generator)
    with torch.no_grad():
        log_p = estimators.importance_sampling(x, model, local.q(), is_samples, generator=generator)
    splits = [gap_split(log_p, local.elbo[t], local.elbo[0]) for t in range(len(local.steps))]
    return GapRun(model.latent_dim, log_p, local, splits)
