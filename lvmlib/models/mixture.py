"""A mixture of Gaussians as a latent variable model: z one of K components, x given z Gaussian."""

from __future__ import annotations

import torch
from torch.distributions import (
    Categorical,
    Distribution,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)

from lvmlib.models._base import _check_x, _LatentVariableModel, _tensor

__all__ = ["MixtureOfGaussians"]


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

    Taught in notebook 02 (Mixtures of Gaussians and EM); also used in 03 and 05.
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
        arrays, as in scikit-learn, or tensors, as in ``lvmlib.mixtures``).
        """
        for name in ("weights_", "means_", "covariances_"):
            if not hasattr(fitted, name):
                raise ValueError(f"{type(fitted).__name__} has no {name}: fit it first")
        ctype = getattr(fitted, "covariance_type", "full")
        return cls(fitted.weights_, fitted.means_, fitted.covariances_, ctype, dtype=dtype, device=device)

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

    def log_joint(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x, z = k) = log w_k + log N(x; mu_k, Sigma_k) for every component: the K terms
        whose logsumexp is log p(x) and whose softmax is p(z | x).

        Args:
            x: shape [B, D].

        Returns:
            tensor of shape [B, K].
        """
        _check_x(x, self.data_dim)
        return torch.log(self.weights) + self.components().log_prob(x.unsqueeze(-2))  # [B, K]

    def posterior(self, x: torch.Tensor) -> Categorical:
        """p(z | x) = Categorical(responsibilities), batch shape [B].

        Args:
            x: shape [B, D].
        """
        return Categorical(logits=self.log_joint(x))

