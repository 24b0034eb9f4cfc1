"""Small neural networks used as decoders of toy latent variable models.

A decoder maps a latent z to the parameters of p(x | z): "the functions used to model
p(x | z) are the same for every z" (CS236 lecture 5), only their input changes.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.distributions import Independent, Normal

#: smallest standard deviation a network's output gives a Gaussian (``softplus(raw) + MIN_SCALE``: q(z | x)
#: and a learned p(x | z) of the VAEs): keeps log densities finite when softplus underflows.
MIN_SCALE = 1e-5


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.Tanh, *, generator: torch.Generator | None = None,
        gain: float = 1.0, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """A multilayer perceptron ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between layers.

    Weights are drawn from ``generator`` (N(0, gain^2 / fan_in), biases N(0, 0.1^2)) so the
    same seed gives the same network without touching the global RNG.
    """
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least input and output sizes, got {list(sizes)}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = nn.Linear(n_in, n_out, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(n_out, n_in, generator=generator, dtype=dtype) * gain / n_in**0.5)
            lin.bias.copy_(torch.randn(n_out, generator=generator, dtype=dtype) * 0.1)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class GaussianDecoder(nn.Module):
    """p(x | z) = N(mu(z), diag sigma(z)^2) with mu and sigma from one MLP.

    Args:
        latent_dim: Dz.
        data_dim: Dx.
        hidden: hidden layer sizes.
        scale: overall size of sigma(z) (sigma = scale * softplus(.) / softplus(0)).

    ``forward(z)`` takes z of shape [..., Dz] and returns ``Independent(Normal(mu, sigma), 1)``
    with batch shape [...] and event shape [Dx]; ``device`` and ``dtype`` are the parameters'.
    """

    def __init__(self, latent_dim: int, data_dim: int, hidden: Sequence[int] = (32, 32), *, scale: float = 0.1,
                 generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.latent_dim, self.data_dim, self.scale = latent_dim, data_dim, scale
        self.net = mlp([latent_dim, *hidden, 2 * data_dim], generator=generator, gain=2.0, dtype=dtype)

    @property
    def device(self) -> torch.device:
        """Where the parameters live: a z for ``forward`` must be there too."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def forward(self, z: torch.Tensor) -> Independent:
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have last dimension {self.latent_dim}, got shape {tuple(z.shape)}")
        out = self.net(z)  # [..., 2 Dx]
        loc, pre = out[..., : self.data_dim], out[..., self.data_dim:]
        sigma = self.scale * nn.functional.softplus(pre) / 0.6931471805599453
        return Independent(Normal(loc, sigma), 1)
