"""A linear VAE and the probabilistic-PCA maximum-likelihood answer it should learn.

Model (probabilistic PCA, Tipping and Bishop 1999): z ~ N(0, I_Dz), x | z ~ N(W z + b, sigma^2 I_Dx).
Its maximum-likelihood solution is known in closed form: with S the sample covariance of x
(divided by N), eigenvalues lambda_1 >= ... >= lambda_Dx and eigenvectors U,

    sigma^2_ML = (1 / (Dx - Dz)) sum_{j > Dz} lambda_j,   W_ML = U_Dz (Lambda_Dz - sigma^2 I)^{1/2} R,   b_ML = mean(x)

for any rotation R.  With sigma fixed instead of learned, W_ML = U_Dz (Lambda_Dz - sigma^2 I)_+^{1/2} R:
a direction whose eigenvalue is below sigma^2 gets a zero column, its latent is ignored by the
decoder and its posterior equals the prior (posterior collapse; Lucas, Tucker, Grosse and
Norouzi 2019, "Don't Blame the ELBO!").

:class:`LinearVAE` pairs that decoder with a linear encoder q(z | x) = N(A x + c, S), where S
is either a full covariance (its Cholesky factor learned; the exact posterior of pPCA has this
form, so the ELBO can reach log p(x)) or diagonal (a factorized q: the ELBO can still reach the
ML value, but only with W's columns orthogonal, Lucas et al. 2019, section 4).  Everything in
its ELBO is an expectation of a quadratic under a Gaussian, so the ELBO is exact, no sampling:

    E_q[log p(x | z)] = -Dx/2 log(2 pi sigma^2) - (||x - W m - b||^2 + tr(W S W^T)) / (2 sigma^2),
    ELBO = E_q[log p(x | z)] - KL(q(z | x) || N(0, I)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal

from lvmlib._util import noise, positive_int
from lvmlib.models import LinearGaussian

__all__ = ["Q_FAMILIES", "PPCASolution", "ppca_ml", "principal_angles", "LinearVAE", "LinearVAEHistory",
           "train_linear_vae", "column_coherence"]

Q_FAMILIES = ("full", "diag")


def _check_data(x: torch.Tensor, latent_dim: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError(f"x must be a tensor of shape [N, Dx], got {getattr(x, 'shape', type(x).__name__)}")
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or not 1 <= latent_dim < x.shape[1]:
        raise ValueError(f"latent_dim must be an int in [1, Dx) = [1, {x.shape[1]}), got {latent_dim!r}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 points, got {x.shape[0]}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or inf")
    return x


@dataclass
class PPCASolution:
    """The pPCA maximum-likelihood parameters (R = I) and the spectrum they come from.

    Attributes:
        W: [Dx, Dz], columns U_j sqrt(max(lambda_j - sigma^2, 0)), largest eigenvalue first.
        b: [Dx], the sample mean.
        sigma: 0-dim, the noise standard deviation (ML, or the fixed value given).
        eigenvalues: [Dx], of the sample covariance (divided by N), descending.
        components: [Dx, Dx], the eigenvectors as columns, in the same order.
    """

    W: torch.Tensor
    b: torch.Tensor
    sigma: torch.Tensor
    eigenvalues: torch.Tensor
    components: torch.Tensor

    def model(self) -> LinearGaussian:
        """The ML model as a :class:`lvmlib.models.LinearGaussian` (exact log p(x), posterior)."""
        return LinearGaussian(self.W, self.b, self.sigma)


def ppca_ml(x: torch.Tensor, latent_dim: int, sigma: float | None = None) -> PPCASolution:
    """Closed-form maximum likelihood of pPCA (Tipping and Bishop 1999, eqs. 7-8).

    Args:
        x: data, [N, Dx] (float64 recommended).
        latent_dim: Dz, 1 <= Dz < Dx.
        sigma: ``None`` for the ML noise (mean of the Dx - Dz discarded eigenvalues), or a fixed
            positive noise standard deviation (then directions with lambda_j <= sigma^2 get zero columns).

    Returns:
        a :class:`PPCASolution` on x's device and dtype.

    Taught in notebook 09 (Learning with the ELBO).
    """
    x = _check_data(x, latent_dim)
    b = x.mean(0)  # [Dx]
    xc = x - b
    cov = xc.mT @ xc / x.shape[0]  # [Dx, Dx], the ML covariance
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)  # descending
    if sigma is None:
        s2 = evals[latent_dim:].mean()
    else:
        if not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
            raise ValueError(f"sigma must be None (learn it) or a positive number, got {sigma!r}")
        s2 = torch.tensor(float(sigma) ** 2, dtype=x.dtype, device=x.device)
    W = evecs[:, :latent_dim] * (evals[:latent_dim] - s2).clamp_min(0).sqrt()  # [Dx, Dz]
    return PPCASolution(W, b, s2.sqrt(), evals, evecs)


def principal_angles(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, ascending) between the column spans of A [D, k] and B [D, k'].

    cos theta_i are the singular values of Q_A^T Q_B (Bjorck and Golub 1973), Q from a QR of each.

    Returns:
        tensor of shape [min(k, k')].

    Taught in notebook 09 (Learning with the ELBO).
    """
    if A.dim() != 2 or B.dim() != 2 or A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must be [D, k] matrices with the same D, got {tuple(A.shape)} and {tuple(B.shape)}")
    qa, _ = torch.linalg.qr(A)
    qb, _ = torch.linalg.qr(B.to(A.dtype))
    cos = torch.linalg.svdvals(qa.mT @ qb).clamp(-1.0, 1.0)  # descending
    return torch.arccos(cos)  # ascending


def column_coherence(W: torch.Tensor) -> float:
    """The largest |cos| of the angle between two columns of W [D, k] (0: orthogonal columns).

    Taught in notebook 09 (Learning with the ELBO).
    """
    norms = W.norm(dim=0).clamp_min(1e-12)
    c = (W.mT @ W) / (norms[:, None] * norms[None, :])
    c = c - torch.diag(torch.diagonal(c))
    return float(c.abs().max()) if W.shape[1] > 1 else 0.0


class LinearVAE(nn.Module):
    """Linear decoder p(x | z) = N(W z + b, sigma^2 I), linear encoder q(z | x) = N(A x + c, S).

    Args:
        data_dim, latent_dim: Dx and Dz.
        q: ``"full"`` (S = L L^T, L lower triangular with positive diagonal, shared by all x) or
            ``"diag"`` (S = diag s^2).
        sigma: ``None`` learns the noise sigma (one scalar); a positive float fixes it.
        generator: optional ``torch.Generator`` for the initial weights (small random W and A).
        dtype: default float64.

    Taught in notebook 09 (Learning with the ELBO).
    """

    def __init__(self, data_dim: int, latent_dim: int, q: str = "full", *, sigma: float | None = None,
                 generator: torch.Generator | None = None, dtype=torch.float64):
        super().__init__()
        for name, v in (("data_dim", data_dim), ("latent_dim", latent_dim)):
            positive_int(v, name)
        if q not in Q_FAMILIES:
            raise ValueError(f"q must be one of {Q_FAMILIES}, got {q!r}")
        if sigma is not None and not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
            raise ValueError(f"sigma must be None (learned) or a positive number, got {sigma!r}")
        self.data_dim, self.latent_dim, self.q_family = data_dim, latent_dim, q
        r = lambda *s: noise("randn", s, generator, dtype=dtype)  # noqa: E731  (on the generator's device)
        self.W = nn.Parameter(0.1 * r(data_dim, latent_dim))
        self.b = nn.Parameter(torch.zeros(data_dim, dtype=dtype))
        self.A = nn.Parameter(0.1 * r(latent_dim, data_dim))
        self.c = nn.Parameter(torch.zeros(latent_dim, dtype=dtype))
        self.log_s = nn.Parameter(torch.zeros(latent_dim, dtype=dtype))  # log of S's diagonal scale
        if q == "full":
            self.L_off = nn.Parameter(torch.zeros(latent_dim, latent_dim, dtype=dtype))  # strictly lower part used
        if sigma is None:
            self.log_sigma = nn.Parameter(torch.zeros((), dtype=dtype))
        else:
            self.register_buffer("log_sigma", torch.tensor(math.log(sigma), dtype=dtype))

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def prior(self) -> Independent:
        """p(z) = N(0, I_Dz)."""
        zero = torch.zeros(self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        return Independent(Normal(zero, torch.ones_like(zero)), 1)

    def likelihood(self, z: torch.Tensor) -> Independent:
        """p(x | z) = N(W z + b, sigma^2 I): z [..., Dz] -> batch [...], event [Dx]."""
        loc = z @ self.W.mT + self.b
        return Independent(Normal(loc, self.sigma.expand_as(loc)), 1)

    def scale_tril(self) -> torch.Tensor:
        """The Cholesky factor L of q's covariance S = L L^T, [Dz, Dz] (diagonal for q="diag")."""
        L = torch.diag(self.log_s.exp())
        if self.q_family == "full":
            L = L + torch.tril(self.L_off, diagonal=-1)
        return L

    def encoder(self, x: torch.Tensor):
        """q(z | x), batch [B], event [Dz]: a ``MultivariateNormal`` (full) or ``Independent(Normal)`` (diag)."""
        self._check_x(x)
        loc = x @ self.A.mT + self.c  # [B, Dz]
        if self.q_family == "diag":
            return Independent(Normal(loc, self.log_s.exp().expand_as(loc), validate_args=False), 1)
        return MultivariateNormal(loc, scale_tril=self.scale_tril(), validate_args=False)

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The exact reconstruction term E_q[log p(x | z)] and KL(q(z | x) || p(z)), each [B]."""
        q = self.encoder(x)
        m = q.mean  # [B, Dz]
        L = self.scale_tril()  # [Dz, Dz]
        s2 = self.sigma**2
        resid = x - m @ self.W.mT - self.b  # [B, Dx]
        trace = ((self.W @ L) ** 2).sum()  # tr(W S W^T)
        rec = -0.5 * self.data_dim * torch.log(2 * math.pi * s2) - ((resid**2).sum(-1) + trace) / (2 * s2)
        # KL(N(m, S) || N(0, I)) = (tr S + ||m||^2 - Dz - log det S) / 2, with S = L L^T shared by all x
        # (the closed form torch.distributions.kl_divergence computes, without a per-point [B, Dz, Dz] solve;
        # the tests check it against kl_divergence)
        kl = 0.5 * ((L**2).sum() + (m**2).sum(-1) - self.latent_dim - 2 * torch.log(torch.diagonal(L)).sum())
        return rec, kl

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """The exact ELBO per point, [B]."""
        rec, kl = self.elbo_terms(x)
        return rec - kl

    def kl_per_dimension(self, x: torch.Tensor) -> torch.Tensor:
        """KL of q's marginal for each latent dimension to N(0, 1), averaged over x: [Dz].

        Exactly the split of the KL for q="diag"; for a full q, a per-dimension summary.
        """
        q = self.encoder(x)
        var = (self.scale_tril() ** 2).sum(-1)  # [Dz], diag of S
        m2 = (q.mean**2).mean(0)  # [Dz]
        return 0.5 * (var + m2 - 1 - torch.log(var))

    def as_linear_gaussian(self) -> LinearGaussian:
        """The decoder as a :class:`lvmlib.models.LinearGaussian` (a detached copy): exact log p(x)."""
        return LinearGaussian(self.W.detach().clone(), self.b.detach().clone(), self.sigma.detach().clone())

    def _check_x(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"x must have shape [B, {self.data_dim}], got {tuple(x.shape)}")


@dataclass
class LinearVAEHistory:
    """What :func:`train_linear_vae` recorded at each step in ``steps`` (all averages per point).

    Attributes:
        steps: [T] step numbers (0 = before training).
        elbo, reconstruction, kl, log_p: [T] exact, nats per point (log_p from the decoder's LinearGaussian).
        kl_per_dim: [T, Dz].
        W: [T, Dx, Dz], decoder weights.
        sigma: [T].

    Taught in notebook 09 (Learning with the ELBO).
    """

    steps: torch.Tensor
    elbo: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor
    log_p: torch.Tensor
    kl_per_dim: torch.Tensor
    W: torch.Tensor
    sigma: torch.Tensor


def train_linear_vae(model: LinearVAE, x: torch.Tensor, steps: int = 3000, lr: float = 0.02,
                     record_every: int = 50) -> LinearVAEHistory:
    """Full-batch Adam on the mean exact ELBO (deterministic: no sampling, no generator needed).

    Args:
        model: a :class:`LinearVAE` (trained in place).
        x: [N, Dx] on the model's device and dtype.
        steps: Adam steps; lr: its learning rate; record_every: record every this many steps (and step 0, the last).

    Returns:
        a :class:`LinearVAEHistory`.

    Taught in notebook 09 (Learning with the ELBO).
    """
    model._check_x(x)
    for name, v in (("steps", steps), ("record_every", record_every)):
        positive_int(v, name)
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rec_steps, rows = [], []

    def record(step):
        with torch.no_grad():
            rec, kl = model.elbo_terms(x)
            log_p = model.as_linear_gaussian().log_marginal(x).mean()
            rows.append(torch.stack([(rec - kl).mean(), rec.mean(), kl.mean(), log_p, model.sigma]))
            kls.append(model.kl_per_dimension(x))
            Ws.append(model.W.detach().clone())
        rec_steps.append(step)

    kls, Ws = [], []
    record(0)
    for step in range(1, steps + 1):
        loss = -model.elbo(x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % record_every == 0 or step == steps:
            record(step)
    if not bool(torch.isfinite(torch.stack(rows)).all()):
        raise FloatingPointError(f"training diverged (non-finite ELBO); try a smaller lr than {lr}")
    table = torch.stack(rows)  # [T, 5]
    return LinearVAEHistory(torch.tensor(rec_steps), table[:, 0], table[:, 1], table[:, 2], table[:, 3],
                            torch.stack(kls), torch.stack(Ws), table[:, 4])
