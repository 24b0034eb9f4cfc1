"""Estimators of the marginal likelihood log p(x) of a latent variable model.

Every estimator goes through one function, :func:`log_weights`, which draws K samples
z_k ~ q(z | x) from a proposal and returns the log importance weights

    log w_k = log p(x, z_k) - log q(z_k | x) = log p(z_k) + log p(x | z_k) - log q(z_k | x)

as a tensor of shape [K, B].  The estimators differ only in how they reduce it over K:

=========================  ==========================================  =================
estimator                  reduction of log_w [K, B] over K            proposal
=========================  ==========================================  =================
``naive_monte_carlo``      logsumexp(log_w) - log K                    the prior (or a box)
``importance_sampling``    logsumexp(log_w) - log K                    any q
``elbo``                   mean(log_w)                                 any q
``iwae_bound``             logsumexp(log_w) - log K                    any q
``effective_sample_size``  exp(-logsumexp(2 * normalized log_w))       (from log_w)
=========================  ==========================================  =================

Everything stays in log space: p(x) itself is often around exp(-2000), which no float can
hold, so nothing here exponentiates and then averages.

A *model* follows the protocol of ``DESIGN.md`` (:class:`lvmlib.models.LatentVariableModel`): ``prior()`` -> a Distribution over z with
event shape [Dz] (a Categorical over K components for a mixture, event shape []),
``likelihood(z)`` -> a Distribution over x with batch shape ``z.shape[:-1]`` (or ``z.shape``
for a categorical z) and event shape [Dx], and optionally a ``data_dim`` attribute.

A *proposal* is either a ``torch.distributions.Distribution`` over z (batch shape [] or
[B], the prior's event shape) or a callable ``x -> Distribution`` (an encoder, e.g. a VAE's
``encoder``), called once on the whole batch.

Randomness is passed in: every function takes an optional ``torch.Generator`` and never
touches the global one when a generator is given.  Samples are reparameterized (``loc +
scale * eps``) wherever the family allows, so ``elbo`` and ``iwae_bound`` are
differentiable with respect to the parameters of both the model and the proposal, which
is how a VAE trains (Kingma and Welling 2014; Burda, Grosse and Salakhutdinov 2016).
"""

from __future__ import annotations

import math
from typing import Callable, Union

import torch
from torch.distributions import (
    Distribution,
    Independent,
    Normal,
)

from lvmlib._util import check_generator, check_x, chunk_length, has_nan, noise, positive_int
from lvmlib.distributions import sample
from lvmlib.models import LatentVariableModel

__all__ = ["log_weights", "naive_monte_carlo", "importance_sampling", "elbo", "iwae_bound", "effective_sample_size", "log_mean_exp"]

Proposal = Union[Distribution, Callable[[torch.Tensor], Distribution]]



# ----------------------------------------------------------------------------------------
# sampling with an explicit generator
# ----------------------------------------------------------------------------------------








# ----------------------------------------------------------------------------------------
# checks
# ----------------------------------------------------------------------------------------


def _check_x(x: torch.Tensor, model: LatentVariableModel, nan: bool = True) -> torch.Tensor:
    return check_x(x, getattr(model, "data_dim", None), nan=nan)


def _check_num_samples(num_samples) -> int:
    return positive_int(num_samples, "num_samples")


def _resolve_proposal(x: torch.Tensor, proposal: Proposal, prior: Distribution) -> Distribution:
    q = proposal if isinstance(proposal, Distribution) else None
    if q is None:
        if not callable(proposal):
            raise TypeError(
                "proposal must be a torch Distribution over z or a callable x -> Distribution, "
                f"got {type(proposal).__name__}"
            )
        q = proposal(x)
        if not isinstance(q, Distribution):
            raise TypeError(f"the proposal callable returned {type(q).__name__}, not a Distribution")
    if q.event_shape != prior.event_shape:
        raise ValueError(
            f"the proposal's event shape {tuple(q.event_shape)} differs from the prior's "
            f"{tuple(prior.event_shape)}: a proposal must be a distribution over the same z"
        )
    q_dtype, p_dtype = _float_dtype(q), _float_dtype(prior)
    if len(prior.event_shape) and q_dtype is not None and p_dtype is not None and q_dtype != p_dtype:
        q_name, p_name = str(q_dtype).removeprefix("torch."), str(p_dtype).removeprefix("torch.")
        raise ValueError(
            f"the proposal is {q_name} but the model (its prior) is {p_name}: build the proposal in the "
            f"model's dtype (e.g. its loc and scale with dtype=torch.{p_name}) or move the model with "
            f"model.to(torch.{q_name})"
        )
    B = x.shape[0]
    if q.batch_shape not in (torch.Size(), torch.Size([B])):
        if len(q.batch_shape) == 1 and q.batch_shape[0] == 1:
            q = q.expand(torch.Size([B]))
        else:
            raise ValueError(
                f"the proposal's batch shape {tuple(q.batch_shape)} must be [] (shared by all "
                f"points) or [B] = [{B}] (one q per point)"
            )
    return q


def _float_dtype(dist: Distribution) -> torch.dtype | None:
    """The floating dtype a distribution's parameters are in (from its mean), or None if it does not say."""
    try:
        mean = dist.mean
    except (NotImplementedError, AttributeError, RuntimeError, ValueError):
        return None
    return mean.dtype if isinstance(mean, torch.Tensor) and mean.is_floating_point() else None


def _chunk(num_samples: int, x: torch.Tensor, chunk_size: int | None) -> int:
    return chunk_length(num_samples, x.shape[0] * max(1, x.shape[-1]), chunk_size)


# ----------------------------------------------------------------------------------------
# the one shared path
# ----------------------------------------------------------------------------------------


def _sample_with_log_prob(q: Distribution, sample_shape: tuple, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples z ~ q and log q(z), shapes ``sample_shape + batch + event`` and ``sample_shape + batch``.

    For a Normal (or ``Independent`` Normal) q the log-density is computed from the standard
    noise eps that made z = loc + scale * eps:  log q(z) = sum(-eps^2 / 2 - log scale) - (D/2) log 2 pi.
    That is the same value and the same gradient as ``q.log_prob(z)`` (substitute z), but it
    stays finite for a very narrow q, where torch's ``Normal.log_prob`` squares the scale,
    underflows to 0 and returns NaN (scale 1e-25 in float32, 1e-170 in float64).
    """
    base, reinterpreted = (q.base_dist, q.reinterpreted_batch_ndims) if type(q) is Independent else (q, 0)
    if type(base) is not Normal:
        z = sample(q, sample_shape, generator)
        return z, q.log_prob(z)
    shape = base._extended_shape(torch.Size(sample_shape))
    eps = noise("randn", shape, generator, dtype=base.loc.dtype, device=base.loc.device)
    z = torch.addcmul(base.loc, base.scale, eps)
    log_q = -0.5 * eps.square() - torch.log(base.scale) - 0.5 * math.log(2 * math.pi)  # base's shape
    if reinterpreted:
        log_q = log_q.sum(dim=tuple(range(-reinterpreted, 0)))
    return z, log_q


def log_weights(
    x: torch.Tensor,
    model: LatentVariableModel,
    proposal: Proposal,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    chunk_size: int | None = None,
    return_samples: bool = False,
    check: bool = True,
):
    """Log importance weights log w_k = log p(x, z_k) - log q(z_k | x), z_k ~ q(z | x).

    The K samples are drawn and scored chunk by chunk, ``chunk_size`` samples at a time:
    the noise, z ([chunk, B, Dz]), the decoder's activations and p(x | z) ([chunk, B, Dx])
    exist for one chunk only, so the extra memory is O(chunk x B x (Dz + Dx)) whatever K is
    (only the [K, B] result grows with K; ``return_samples`` keeps every z, by request).
    With a ``generator`` the result is reproducible for a given ``chunk_size`` (another
    chunk size draws other, equally distributed, samples).  Nothing is detached: gradients
    flow to the model's and (for reparameterizable q) the proposal's parameters.

    Args:
        x: data, shape [B, Dx]; B = 0 gives an empty [K, 0] result.
        model: follows the model protocol (``prior()``, ``likelihood(z)``).
        proposal: a Distribution over z (batch [] or [B], event = prior's event) or a
            callable ``x -> Distribution``.
        num_samples: K >= 1.
        generator: optional ``torch.Generator`` for the samples.
        chunk_size: samples per chunk; ``None`` picks ``DEFAULT_CHUNK_ELEMENTS // (B * Dx)``.
        return_samples: also return the samples z.
        check: look for NaN in x and in the log-weights (a host sync per chunk).  A training
            loop that checked its data once passes ``check=False``; shapes are checked either way.

    Returns:
        log_w of shape [K, B] (and z of shape [K, B, Dz], or [K, B] for a categorical z,
        when ``return_samples``).

    Raises:
        ValueError: bad shapes, NaN in x, or (with ``check``) a log-weight that is NaN: the
            model or the proposal gave a log-density that is not a number there.

    Taught in notebook 04 (Naive Monte Carlo); also used in 05, 06 and 07.
    """
    num_samples = _check_num_samples(num_samples)
    check_generator(generator)
    x = _check_x(x, model, nan=check)
    prior = model.prior()
    B = x.shape[0]
    if B == 0:
        empty = x.new_zeros((num_samples, 0))
        return (empty, x.new_zeros((num_samples, 0) + tuple(prior.event_shape))) if return_samples else empty
    q = _resolve_proposal(x, proposal, prior)
    per_point = q.batch_shape == torch.Size([B])
    step = _chunk(num_samples, x, chunk_size)
    pieces, zs = [], []
    for start in range(0, num_samples, step):
        c = min(step, num_samples - start)
        zc, log_q = _sample_with_log_prob(q, (c,) if per_point else (c, B), generator)  # [c, B, Dz], [c, B]
        if check and zc.is_floating_point() and has_nan(zc):
            raise ValueError(_nan_weights_message(prior, zc, log_q, model, x))
        log_joint = prior.log_prob(zc) + model.likelihood(zc).log_prob(x)  # [c, B]
        piece = log_joint - log_q  # [c, B]
        if check and has_nan(piece):  # one host sync per chunk
            raise ValueError(_nan_weights_message(prior, zc, log_q, model, x))
        pieces.append(piece)
        if return_samples:
            zs.append(zc)
    log_w = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=0)  # [K, B]
    if log_w.shape != (num_samples, B):
        raise ValueError(
            f"log weights came out with shape {tuple(log_w.shape)}, expected [K, B] = "
            f"[{num_samples}, {B}]: check that likelihood(z) has batch shape z.shape[:-1] "
            f"and event shape [Dx]"
        )
    if return_samples:
        return log_w, (zs[0] if len(zs) == 1 else torch.cat(zs, dim=0))
    return log_w


def _nan_weights_message(prior: Distribution, z: torch.Tensor, log_q: torch.Tensor, model, x: torch.Tensor) -> str:
    """Which term made a log-weight NaN, and what to change."""
    with torch.no_grad():
        if bool(torch.isnan(z).any()):
            return ("the proposal produced NaN samples z: check its parameters (a NaN or infinite loc or "
                    "scale, e.g. from an encoder that diverged)")
        if bool(torch.isnan(log_q).any()):
            return ("the proposal's log-density log q(z) is NaN at its own samples: its scale may be 0, "
                    "negative or not finite; give it a positive, finite scale")
        if bool(torch.isnan(prior.log_prob(z)).any()):
            return "the prior's log-density log p(z) is NaN at the proposal's samples: check the prior's parameters"
    return ("the model's log-likelihood log p(x | z) is NaN at the proposal's samples: check the model's "
            "parameters and that x is in the likelihood's support")


def log_mean_exp(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log((1/K) sum_k exp(log_w_k)) = logsumexp(log_w, dim) - log K, stably.

    Args:
        log_w: tensor of shape [K, B] (K along ``dim``).

    Returns:
        tensor of shape [B].

    Taught in notebook 04 (Naive Monte Carlo); also used in 05 and 06.
    """
    return torch.logsumexp(log_w, dim=dim) - math.log(log_w.shape[dim])


# ----------------------------------------------------------------------------------------
# estimators: reductions of log_weights
# ----------------------------------------------------------------------------------------


def naive_monte_carlo(
    x: torch.Tensor,
    model: LatentVariableModel,
    num_samples: int,
    *,
    proposal: Proposal | None = None,
    generator: torch.Generator | None = None,
    chunk_size: int | None = None,
    check: bool = True,
) -> torch.Tensor:
    """Naive Monte Carlo: p(x) ~= (1/K) sum_k p(x | z_k), z_k ~ p(z).

    log p-hat(x) = logsumexp_k log p(x | z_k) - log K.  Unbiased for p(x) (not for log p(x))
    but of enormous variance when the likelihood is peaked: most z from the prior explain
    x badly.  The lecture's other naive choice, z uniform over a box, is
    ``proposal=uniform_box(low, high, dim)`` (then p-hat = |box| * mean p(x, z_k)).

    Args:
        x: data, shape [B, Dx].
        model: follows the model protocol.
        num_samples: K >= 1.
        proposal: ``None`` for the prior, or a uniform box (any proposal works).
        generator: optional ``torch.Generator``.
        chunk_size, check: see :func:`log_weights`.

    Returns:
        log p-hat(x), tensor of shape [B].

    Taught in notebook 04 (Naive Monte Carlo).
    """
    q = model.prior() if proposal is None else proposal
    return importance_sampling(x, model, q, num_samples, generator=generator, chunk_size=chunk_size,
                               check=check)


def importance_sampling(
    x: torch.Tensor,
    model: LatentVariableModel,
    proposal: Proposal,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    chunk_size: int | None = None,
    check: bool = True,
) -> torch.Tensor:
    """Importance sampling: p(x) ~= (1/K) sum_k p(x, z_k) / q(z_k | x), z_k ~ q(z | x).

    Returns the log of that unbiased estimate of p(x), logsumexp_k log w_k - log K, which
    by Jensen is biased low as an estimate of log p(x).  With q = p(z | x) every weight
    equals p(x): the estimate is exact for any K (zero variance).

    Args:
        x: data, shape [B, Dx].
        model: follows the model protocol.
        proposal: a Distribution over z or a callable ``x -> Distribution``.
        num_samples: K >= 1.
        generator: optional ``torch.Generator``.
        chunk_size, check: see :func:`log_weights`.

    Returns:
        log p-hat(x), tensor of shape [B].

    Taught in notebook 05 (Importance sampling); also used in 10.
    """
    log_w = log_weights(x, model, proposal, num_samples, generator=generator, chunk_size=chunk_size,
                        check=check)  # [K, B]
    return log_mean_exp(log_w, 0)


def elbo(
    x: torch.Tensor,
    model: LatentVariableModel,
    proposal: Proposal,
    num_samples: int = 1,
    *,
    generator: torch.Generator | None = None,
    chunk_size: int | None = None,
    check: bool = True,
) -> torch.Tensor:
    """Monte Carlo evidence lower bound: ELBO = E_q[log p(x, z) - log q(z | x)].

    Estimated as (1/K) sum_k log w_k, z_k ~ q reparameterized, so its gradient is the
    reparameterization gradient (Kingma and Welling 2014, "Auto-Encoding Variational
    Bayes").  log p(x) - ELBO = KL(q(z | x) || p(z | x)) >= 0: zero at the exact posterior.
    The KL to the prior is *not* computed analytically here: one path for every estimator.

    Args:
        x: data, shape [B, Dx].
        model: follows the model protocol.
        proposal: a Distribution over z or a callable ``x -> Distribution`` (an encoder).
        num_samples: K >= 1 samples per point.
        generator: optional ``torch.Generator``.
        chunk_size, check: see :func:`log_weights`.

    Returns:
        tensor of shape [B], differentiable w.r.t. model and (reparameterizable) q.

    Taught in notebook 06 (The ELBO and its gap); also used in 07, 08 and 09.
    """
    log_w = log_weights(x, model, proposal, num_samples, generator=generator, chunk_size=chunk_size,
                        check=check)  # [K, B]
    return log_w.mean(dim=0)


def iwae_bound(
    x: torch.Tensor,
    model: LatentVariableModel,
    proposal: Proposal,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    chunk_size: int | None = None,
    check: bool = True,
) -> torch.Tensor:
    """Importance-weighted bound: L_K = E[log (1/K) sum_k p(x, z_k) / q(z_k | x)].

    The same number as :func:`importance_sampling`, read as the K-sample objective of
    Burda, Grosse and Salakhutdinov 2016 ("Importance Weighted Autoencoders"):
    ELBO = L_1 <= L_K <= L_{K+1} <= log p(x), in expectation.  Differentiable: the
    gradient through logsumexp weights each sample by its normalized weight.

    Args:
        x: data, shape [B, Dx].
        model: follows the model protocol.
        proposal: a Distribution over z or a callable ``x -> Distribution`` (an encoder).
        num_samples: K >= 1.
        generator: optional ``torch.Generator``.
        chunk_size, check: see :func:`log_weights`.

    Returns:
        tensor of shape [B].

    Taught in notebook 06 (The ELBO and its gap).
    """
    return importance_sampling(x, model, proposal, num_samples, generator=generator, chunk_size=chunk_size,
                               check=check)


def effective_sample_size(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Effective sample size of importance weights: ESS = (sum w)^2 / sum w^2.

    Computed in log space as exp(-logsumexp(2 * log w_bar)) with normalized weights
    log w_bar = log_w - logsumexp(log_w) (Kong 1992; Pyro's ``infer/importance.py``), so
    weights of exp(-2000) give the right answer, never 0 / 0.  It lies in [1, K]: K when all
    weights are equal (q = the posterior), near 1 when one sample carries all the weight.

    Args:
        log_w: log weights, at least 2-D, the K samples along ``dim``: shape [K, B] (from
            :func:`log_weights`) for the default ``dim=0``, [R, N, B] with ``dim=1``, ...
        dim: the dimension of the samples.

    Returns:
        tensor of ``log_w``'s shape without ``dim`` ([B] for [K, B]).

    Taught in notebook 04 (Naive Monte Carlo); also used in 05 and 07.
    """
    if log_w.dim() < 2:
        raise ValueError(f"log_w must have shape [K, B] (samples along dim={dim}), got {tuple(log_w.shape)}")
    if log_w.shape[dim] == 0:
        raise ValueError(f"the effective sample size needs at least one sample; log_w has none along dim={dim} "
                         f"(shape {tuple(log_w.shape)})")
    log_w_bar = log_w - torch.logsumexp(log_w, dim=dim, keepdim=True)  # normalized, same shape
    return torch.exp(-torch.logsumexp(2.0 * log_w_bar, dim=dim))




