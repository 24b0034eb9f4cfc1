"""Latent variable models whose marginal likelihood p(x) is known exactly.

They exist to check the estimators of :mod:`lvmlib.estimators` against the truth, and to
draw the lecture's pictures.  Every model follows the protocol of ``DESIGN.md``:

- ``prior()`` -> a ``torch.distributions.Distribution`` over z, event shape [Dz]
  (a ``Categorical`` over K components, event shape [], for a mixture);
- ``likelihood(z)`` -> a Distribution over x, batch shape ``z.shape[:-1]`` (``z.shape`` for
  a categorical z), event shape [Dx];
- ``log_marginal(x)`` -> exact log p(x), shape [B];
- ``posterior(x)`` -> the exact p(z | x), batch shape [B], where it has a closed form;
- ``sample(n, generator=None)`` -> (z, x) from the joint;
- attributes ``data_dim`` (Dx) and ``latent_dim`` (Dz).

The models:

=======================  =================================  ===============================
model                    z                                  exact p(x) by
=======================  =================================  ===============================
``MixtureOfGaussians``   one of K components                a sum over K (logsumexp)
``LinearGaussian``       N(0, I_Dz), x = W z + b + noise    N(b, W W^T + sigma^2 I)
``NonlinearLVM``         N(0, I_Dz), Dz in {1, 2}, MLP      quadrature on a grid
``BinaryLatentModel``    n independent bits                 a sum over 2^n configurations
=======================  =================================  ===============================

All are ``torch.nn.Module`` s holding their numbers as buffers (or, for the decoders,
parameters), so ``model.to(device, dtype)`` moves them; the dtype and device otherwise
follow the constructor's tensors.  Densities come from ``torch.distributions``.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.distributions import (
    Bernoulli,
    Categorical,
    Distribution,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)

from lvmlib._util import check_x, chunk_length, chunks
from lvmlib.estimators import sample
from lvmlib.nets import mlp
from lvmlib.quadrature import GridPosterior, grid_log_marginal, grid_posterior

__all__ = [
    "MixtureOfGaussians",
    "LinearGaussian",
    "NonlinearLVM",
    "BinaryLatentModel",
    "GridPosterior",
    "binary_configurations",
    "grid_log_marginal",
    "grid_posterior",
    "time_enumeration",
]

def _tensor(value, dtype=None, device=None) -> torch.Tensor:
    """``torch.as_tensor`` that keeps a tensor's dtype/device unless told otherwise and
    turns numpy float arrays into float64 tensors."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if dtype is not None:  # straight to dtype: a float64 model must not round 1.3 through float32
        return torch.as_tensor(value, dtype=dtype, device=device)
    t = torch.as_tensor(value, device=device)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


def _check_x(x: torch.Tensor, data_dim: int) -> None:
    check_x(x, data_dim, nan=False)


def _standard_normal(dim: int, like: torch.Tensor) -> Independent:
    zeros = torch.zeros(dim, dtype=like.dtype, device=like.device)
    return Independent(Normal(zeros, torch.ones_like(zeros)), 1)


class _LatentVariableModel(nn.Module):
    """Shared plumbing: ``sample`` from the joint, and dtype/device of the buffers."""

    data_dim: int
    latent_dim: int

    def prior(self) -> Distribution:  # pragma: no cover - abstract
        raise NotImplementedError

    def likelihood(self, z: torch.Tensor) -> Distribution:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def dtype(self) -> torch.dtype:
        return next(iter(self.buffers())).dtype

    @property
    def device(self) -> torch.device:
        return next(iter(self.buffers())).device

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Ancestral sampling: z ~ p(z), then x ~ p(x | z).

        Args:
            n: number of samples.
            generator: optional ``torch.Generator`` (the global one is never seeded).

        Returns:
            (z, x): z of shape [n, Dz] (or [n] for a categorical z), x of shape [n, Dx].
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        z = sample(self.prior(), (int(n),), generator)  # [n, Dz] or [n]
        x = sample(self.likelihood(z), (), generator)  # [n, Dx]
        return z, x


# ----------------------------------------------------------------------------------------
# mixture of Gaussians
# ----------------------------------------------------------------------------------------


class MixtureOfGaussians(_LatentVariableModel):
    """A mixture of Gaussians as a latent variable model with a discrete z.

    z ~ Categorical(weights), x | z = k ~ N(means[k], covariances[k]), so
    p(x) = sum_k weights[k] N(x; means[k], covariances[k]) (a logsumexp over K) and the
    posterior p(z = k | x) is the responsibility of component k.

    Args:
        weights: [K], non-negative, summing to 1.
        means: [K, D].
        covariances: shaped by ``covariance_type`` as in scikit-learn: "full" [K, D, D],
            "diag" [K, D], "spherical" [K], "tied" [D, D].
        covariance_type: "full" (default), "diag", "spherical" or "tied".
        dtype, device: default: those of ``means``.

    Attributes:
        data_dim: D.  latent_dim: 1 (one categorical latent, event shape []).
        n_components: K.
    """

    def __init__(self, weights, means, covariances, covariance_type: str = "full", *, dtype=None, device=None):
        super().__init__()
        means = _tensor(means, dtype, device)
        dtype, device = means.dtype, means.device
        weights = _tensor(weights, dtype, device)
        cov = _tensor(covariances, dtype, device)
        if means.dim() != 2:
            raise ValueError(f"means must have shape [K, D], got {tuple(means.shape)}")
        K, D = means.shape
        if weights.shape != (K,):
            raise ValueError(f"weights must have shape [K] = [{K}], got {tuple(weights.shape)}")
        if bool((weights < 0).any()) or abs(float(weights.sum()) - 1.0) > 1e-4:
            raise ValueError("weights must be non-negative and sum to 1")
        expected = {"full": (K, D, D), "diag": (K, D), "spherical": (K,), "tied": (D, D)}
        if covariance_type not in expected:
            raise ValueError(f"covariance_type must be one of {sorted(expected)}, got {covariance_type!r}")
        if cov.shape != expected[covariance_type]:
            raise ValueError(
                f"covariances for covariance_type={covariance_type!r} must have shape "
                f"{list(expected[covariance_type])}, got {list(cov.shape)}"
            )
        self.covariance_type = covariance_type
        self.n_components, self.data_dim, self.latent_dim = int(K), int(D), 1
        self.register_buffer("weights", weights)
        self.register_buffer("means", means)
        if covariance_type in ("full", "tied"):
            full = cov if covariance_type == "full" else cov.expand(K, D, D)
            L, info = torch.linalg.cholesky_ex(full)
            if bool((info != 0).any()):
                raise ValueError(
                    "a covariance matrix is not positive definite (Cholesky failed); add a "
                    "small multiple of the identity (reg_covar) to it"
                )
            self.register_buffer("scale_tril", L.contiguous())  # [K, D, D]
            self.register_buffer("scale", None)
        else:
            if bool((cov <= 0).any()):
                raise ValueError("variances must be positive")
            std = cov.sqrt() if covariance_type == "diag" else cov.sqrt()[:, None].expand(K, D)
            self.register_buffer("scale", std.contiguous())  # [K, D]
            self.register_buffer("scale_tril", None)

    @classmethod
    def from_gmm(cls, fitted, *, dtype=None, device=None) -> "MixtureOfGaussians":
        """Build the model from a fitted scikit-learn-API ``GaussianMixture``.

        Reads ``weights_``, ``means_``, ``covariances_`` and ``covariance_type`` (numpy
        arrays, as in scikit-learn, or tensors, as in ``lvmlib.gmm``).
        """
        for name in ("weights_", "means_", "covariances_"):
            if not hasattr(fitted, name):
                raise ValueError(f"{type(fitted).__name__} has no {name}: fit it first")
        ctype = getattr(fitted, "covariance_type", "full")
        return cls(fitted.weights_, fitted.means_, fitted.covariances_, ctype, dtype=dtype, device=device)

    def covariances(self) -> torch.Tensor:
        """The full covariance matrices, shape [K, D, D]."""
        if self.scale_tril is not None:
            return self.scale_tril @ self.scale_tril.mT
        return torch.diag_embed(self.scale**2)

    def prior(self) -> Categorical:
        """p(z) = Categorical(weights), batch shape [], event shape []."""
        return Categorical(probs=self.weights)

    def components(self) -> Distribution:
        """The K Gaussians p(x | z = k), batch shape [K], event shape [D]."""
        if self.scale_tril is not None:
            return MultivariateNormal(self.means, scale_tril=self.scale_tril)
        return Independent(Normal(self.means, self.scale), 1)

    def likelihood(self, z: torch.Tensor) -> Distribution:
        """p(x | z): z an integer tensor of component indices, any shape S.

        Returns:
            a Gaussian with batch shape S and event shape [D].
        """
        z = torch.as_tensor(z, device=self.means.device).long()
        if self.scale_tril is not None:
            return MultivariateNormal(self.means[z], scale_tril=self.scale_tril[z])  # [*S, D]
        return Independent(Normal(self.means[z], self.scale[z]), 1)  # [*S, D]

    def marginal(self) -> MixtureSameFamily:
        """p(x) as a ``MixtureSameFamily``, event shape [D]."""
        return MixtureSameFamily(self.prior(), self.components())

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) = logsumexp_k [log w_k + log N(x; mu_k, Sigma_k)].

        Args:
            x: shape [B, D].

        Returns:
            tensor of shape [B].
        """
        _check_x(x, self.data_dim)
        return self.marginal().log_prob(x)

    def posterior(self, x: torch.Tensor) -> Categorical:
        """p(z | x) = Categorical(responsibilities), batch shape [B].

        Args:
            x: shape [B, D].
        """
        _check_x(x, self.data_dim)
        log_joint = torch.log(self.weights) + self.components().log_prob(x.unsqueeze(-2))  # [B, K]
        return Categorical(logits=log_joint)


# ----------------------------------------------------------------------------------------
# linear Gaussian (probabilistic PCA)
# ----------------------------------------------------------------------------------------


class LinearGaussian(_LatentVariableModel):
    """Probabilistic PCA: z ~ N(0, I_Dz), x | z ~ N(W z + b, sigma^2 I_Dx).

    Everything is Gaussian, so p(x) = N(x; b, W W^T + sigma^2 I) and
    p(z | x) = N(M^-1 W^T (x - b), sigma^2 M^-1) with M = W^T W + sigma^2 I_Dz
    (Tipping and Bishop 1999).

    Args:
        W: [Dx, Dz].
        b: [Dx] (default zeros).
        sigma: noise standard deviation, a positive scalar.
        dtype, device: default: those of ``W``.
    """

    def __init__(self, W, b=None, sigma=1.0, *, dtype=None, device=None):
        super().__init__()
        W = _tensor(W, dtype, device)
        if W.dim() != 2:
            raise ValueError(f"W must have shape [Dx, Dz], got {tuple(W.shape)}")
        Dx, Dz = W.shape
        b = torch.zeros(Dx, dtype=W.dtype, device=W.device) if b is None else _tensor(b, W.dtype, W.device)
        if b.shape != (Dx,):
            raise ValueError(f"b must have shape [Dx] = [{Dx}], got {tuple(b.shape)}")
        sigma = _tensor(sigma, W.dtype, W.device)
        if sigma.dim() != 0 or not bool(sigma > 0):
            raise ValueError(f"sigma must be a positive scalar, got {sigma}")
        self.data_dim, self.latent_dim = int(Dx), int(Dz)
        self.register_buffer("W", W)
        self.register_buffer("b", b)
        self.register_buffer("sigma", sigma)

    def prior(self) -> Independent:
        """p(z) = N(0, I_Dz), event shape [Dz]."""
        return _standard_normal(self.latent_dim, self.W)

    def likelihood(self, z: torch.Tensor) -> Independent:
        """p(x | z) = N(W z + b, sigma^2 I): z [..., Dz] -> batch [...], event [Dx]."""
        loc = z @ self.W.mT + self.b  # [..., Dx]
        return Independent(Normal(loc, self.sigma.expand_as(loc)), 1)

    def marginal(self) -> MultivariateNormal:
        """p(x) = N(b, W W^T + sigma^2 I), event shape [Dx]."""
        eye = torch.eye(self.data_dim, dtype=self.W.dtype, device=self.W.device)
        return MultivariateNormal(self.b, covariance_matrix=self.W @ self.W.mT + self.sigma**2 * eye)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) = log N(x; b, W W^T + sigma^2 I).

        Args:
            x: shape [B, Dx].

        Returns:
            tensor of shape [B].
        """
        _check_x(x, self.data_dim)
        return self.marginal().log_prob(x)

    def posterior(self, x: torch.Tensor) -> MultivariateNormal:
        """p(z | x) = N(M^-1 W^T (x - b), sigma^2 M^-1), M = W^T W + sigma^2 I.

        Args:
            x: shape [B, Dx].

        Returns:
            ``MultivariateNormal`` with batch shape [B], event shape [Dz].
        """
        _check_x(x, self.data_dim)
        eye = torch.eye(self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        L_M = torch.linalg.cholesky(self.W.mT @ self.W + self.sigma**2 * eye)  # [Dz, Dz]
        rhs = ((x - self.b) @ self.W).unsqueeze(-1)  # [B, Dz, 1]
        loc = torch.cholesky_solve(rhs, L_M).squeeze(-1)  # [B, Dz]
        cov = self.sigma**2 * torch.cholesky_inverse(L_M)  # [Dz, Dz], shared by every x
        return MultivariateNormal(loc, scale_tril=torch.linalg.cholesky(cov))  # batch [B]


class NonlinearLVM(_LatentVariableModel):
    """A neural decoder with a 1-D or 2-D latent: p(x) is an infinite mixture.

    z ~ N(0, I_Dz), x | z ~ N(f(z), sigma^2 I) (or Bernoulli(logits = f(z))), f an MLP.
    p(x) has no closed form, but with Dz <= 2 a grid over z gives it to any accuracy:
    ``log_marginal(x, resolution)`` converges as ``resolution`` grows.

    Args:
        latent_dim: 1 or 2.
        data_dim: Dx.
        hidden: hidden layer sizes of the MLP.
        sigma: the fixed noise standard deviation of a Gaussian likelihood.
        likelihood: "gaussian" or "bernoulli" (f(z) are then logits).
        linear: identity activations, so f(z) = A z + c and the model is a
            ``LinearGaussian`` (see :meth:`as_linear_gaussian`), for checking.
        decoder: a module mapping [..., Dz] -> [..., Dx] to use instead of a random MLP.
        gain: scale of the random weights (larger: a more curved f).
        generator: draws the random weights (the global generator is never seeded).  They
            are fixed (``requires_grad=False``); ``model.requires_grad_(True)`` makes them
            learnable.  A given ``decoder`` is used as it is.
        dtype, device: of the weights (default float32, CPU, or the given decoder's).
    """

    def __init__(
        self,
        latent_dim: int = 1,
        data_dim: int = 2,
        hidden: Sequence[int] = (32,),
        sigma: float = 0.1,
        likelihood: str = "gaussian",
        *,
        linear: bool = False,
        decoder: nn.Module | None = None,
        gain: float = 2.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device=None,
    ):
        super().__init__()
        if latent_dim not in (1, 2):
            raise ValueError(f"latent_dim must be 1 or 2 (so that a grid can integrate over z), got {latent_dim}")
        if likelihood not in ("gaussian", "bernoulli"):
            raise ValueError(f"likelihood must be 'gaussian' or 'bernoulli', got {likelihood!r}")
        if decoder is None:  # a fixed random decoder: its weights do not require gradients
            activation = nn.Identity if linear else nn.Tanh
            decoder = mlp([latent_dim, *hidden, data_dim], activation, generator=generator, gain=gain,
                          dtype=dtype or torch.float32).requires_grad_(False)
        if device is not None or dtype is not None:
            decoder = decoder.to(device=device, dtype=dtype)
        self.decoder = decoder
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        self.likelihood_type, self.linear = likelihood, bool(linear)
        ref = next(decoder.parameters())
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.register_buffer("sigma", torch.tensor(float(sigma), dtype=ref.dtype, device=ref.device))

    def prior(self) -> Independent:
        """p(z) = N(0, I_Dz), event shape [Dz]."""
        return _standard_normal(self.latent_dim, self.sigma)

    def likelihood(self, z: torch.Tensor) -> Independent:
        """p(x | z): z [..., Dz] -> batch [...], event [Dx]."""
        out = self.decoder(z)  # [..., Dx]
        if self.likelihood_type == "bernoulli":
            return Independent(Bernoulli(logits=out), 1)
        return Independent(Normal(out, self.sigma.expand_as(out)), 1)

    def log_marginal(self, x: torch.Tensor, resolution: int | None = None, bound: float = 7.0) -> torch.Tensor:
        """log p(x) by quadrature on a grid (see :func:`grid_log_marginal`).

        Args:
            x: shape [B, Dx].
            resolution: cells per axis (default 2001 for 1-D, 301 for 2-D).

        Returns:
            tensor of shape [B].
        """
        return grid_log_marginal(x, self, resolution, bound)

    def grid_posterior(self, x: torch.Tensor, resolution: int | None = None, bound: float = 7.0) -> GridPosterior:
        """The posterior on a grid, for pictures (see :func:`grid_posterior`)."""
        return grid_posterior(x, self, resolution, bound)

    @torch.no_grad()
    def as_linear_gaussian(self) -> LinearGaussian:
        """The same model as a ``LinearGaussian`` (only for ``linear=True``, Gaussian)."""
        if not self.linear or self.likelihood_type != "gaussian":
            raise ValueError("as_linear_gaussian needs linear=True and a Gaussian likelihood")
        eye = torch.eye(self.latent_dim, dtype=self.sigma.dtype, device=self.sigma.device)
        b = self.decoder(torch.zeros_like(eye[:1]))[0]  # [Dx]
        W = (self.decoder(eye) - b).mT  # [Dx, Dz]
        return LinearGaussian(W, b, self.sigma)

    @property
    def dtype(self) -> torch.dtype:
        return self.sigma.dtype

    @property
    def device(self) -> torch.device:
        return self.sigma.device


# ----------------------------------------------------------------------------------------
# binary latents: exact p(x) by enumerating 2^n configurations
# ----------------------------------------------------------------------------------------


def binary_configurations(n: int, start: int = 0, stop: int | None = None, *, dtype=torch.float32, device=None):
    """Rows ``start:stop`` of the 2^n binary configurations, shape [stop - start, n].

    Row i holds the bits of i (least significant first).
    """
    stop = 2**n if stop is None else stop
    idx = torch.arange(start, stop, device=device)  # [m]
    bits = torch.arange(n, device=device)  # [n]
    return ((idx.unsqueeze(-1) >> bits) & 1).to(dtype)  # [m, n]


class BinaryLatentModel(_LatentVariableModel):
    """n independent binary latents: z_i ~ Bernoulli(prior_prob), x | z from f(z).

    x | z ~ N(f(z), sigma^2 I) or Bernoulli(logits = f(z)), f linear (``hidden=()``) or an
    MLP.  p(x) = sum over all 2^n configurations of p(z) p(x | z): exact, but the cost
    doubles with every latent (the lecture's reason to sample instead).

    Args:
        n_latents: n.
        data_dim: Dx.
        likelihood: "gaussian" or "bernoulli".
        hidden: hidden layer sizes of f (default (): linear).
        sigma: Gaussian noise standard deviation.
        prior_prob: p(z_i = 1).
        generator: draws f's random weights.
        dtype, device: of the weights (default float32, CPU).
    """

    def __init__(
        self,
        n_latents: int,
        data_dim: int,
        likelihood: str = "gaussian",
        *,
        hidden: Sequence[int] = (),
        sigma: float = 0.5,
        prior_prob: float = 0.5,
        gain: float = 2.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device=None,
    ):
        super().__init__()
        if isinstance(n_latents, bool) or not isinstance(n_latents, (int, np.integer)) or n_latents < 1:
            raise ValueError(f"n_latents must be a positive int, got {n_latents!r}")
        if likelihood not in ("gaussian", "bernoulli"):
            raise ValueError(f"likelihood must be 'gaussian' or 'bernoulli', got {likelihood!r}")
        if not 0 < prior_prob < 1:
            raise ValueError(f"prior_prob must lie in (0, 1), got {prior_prob}")
        dtype = dtype or torch.float32
        self.decoder = mlp([int(n_latents), *hidden, int(data_dim)], nn.Tanh, generator=generator, gain=gain,
                           dtype=dtype).to(device=device).requires_grad_(False)
        self.latent_dim, self.data_dim = int(n_latents), int(data_dim)
        self.likelihood_type = likelihood
        self.register_buffer("prior_probs", torch.full((int(n_latents),), float(prior_prob), dtype=dtype, device=device))
        self.register_buffer("sigma", torch.tensor(float(sigma), dtype=dtype, device=device))

    def prior(self) -> Independent:
        """p(z) = prod_i Bernoulli(z_i; prior_prob), event shape [n]."""
        return Independent(Bernoulli(probs=self.prior_probs), 1)

    def likelihood(self, z: torch.Tensor) -> Independent:
        """p(x | z): z [..., n] in {0, 1} -> batch [...], event [Dx]."""
        out = self.decoder(z.to(self.sigma.dtype))  # [..., Dx]
        if self.likelihood_type == "bernoulli":
            return Independent(Bernoulli(logits=out), 1)
        return Independent(Normal(out, self.sigma.expand_as(out)), 1)

    def configurations(self) -> torch.Tensor:
        """All 2^n configurations, shape [2^n, n]."""
        return binary_configurations(self.latent_dim, dtype=self.sigma.dtype, device=self.sigma.device)

    def log_marginal(self, x: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """Exact log p(x) = logsumexp over the 2^n configurations of log p(z) + log p(x | z).

        Configurations are generated and summed in chunks (a running logsumexp), so memory
        stays bounded while time grows as 2^n.

        Args:
            x: shape [B, Dx].
            chunk_size: configurations per chunk (default: about 4M elements per chunk).

        Returns:
            tensor of shape [B].
        """
        _check_x(x, self.data_dim)
        n, prior = self.latent_dim, self.prior()
        total = 2**n
        step = chunk_length(total, x.shape[0] * max(self.data_dim, n), chunk_size)
        acc = torch.full((x.shape[0],), -math.inf, dtype=x.dtype, device=x.device)  # [B]
        for part in chunks(total, step):
            z = binary_configurations(n, part.start, part.stop, dtype=self.sigma.dtype,
                                      device=self.sigma.device)  # [c, n]
            log_joint = prior.log_prob(z).unsqueeze(1) + self.likelihood(z.unsqueeze(1)).log_prob(x)  # [c, B]
            acc = torch.logaddexp(acc, torch.logsumexp(log_joint, dim=0))
        return acc

    @property
    def dtype(self) -> torch.dtype:
        return self.sigma.dtype

    @property
    def device(self) -> torch.device:
        return self.sigma.device


def time_enumeration(
    n_values: Sequence[int] = tuple(range(2, 17, 2)),
    data_dim: int = 16,
    num_points: int = 8,
    *,
    repeats: int = 1,
    clock: str = "wall",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[int, float]:
    """Seconds to compute exact log p(x) by enumeration, as the number of latents grows.

    For each n, builds a ``BinaryLatentModel(n, data_dim)``, samples ``num_points`` points
    from it and times ``log_marginal`` (best of ``repeats``).  The cost doubles per latent:
    plot the result on a log axis.

    Args:
        clock: ``"wall"`` (wall-clock time, torch's threads as they are) or ``"cpu"`` (CPU time
            of the calling thread with torch limited to one thread while timing: the work of
            one core, which other programs on a busy machine disturb far less than the wall clock).

    Returns:
        {n: seconds}.
    """
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    timer = time.perf_counter if clock == "wall" else time.thread_time
    threads = torch.get_num_threads()
    seconds: dict[int, float] = {}
    try:
        if clock == "cpu":
            torch.set_num_threads(1)
        for n in n_values:
            model = BinaryLatentModel(int(n), data_dim, generator=generator, dtype=dtype)
            _, x = model.sample(num_points, generator=generator)
            best = math.inf
            for _ in range(max(1, repeats)):
                t0 = timer()
                with torch.no_grad():
                    model.log_marginal(x)
                best = min(best, timer() - t0)
            seconds[int(n)] = best
    finally:
        torch.set_num_threads(threads)
    return seconds
