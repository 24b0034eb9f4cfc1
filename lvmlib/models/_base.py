"""Shared plumbing of the exact models: sampling from the joint, dtype/device, input checks."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.distributions import (
    Distribution,
    Independent,
    Normal,
)

from lvmlib._util import check_x, positive_int
from lvmlib.distributions import sample


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
        n = positive_int(n, "n")
        z = sample(self.prior(), (n,), generator)  # [n, Dz] or [n]
        x = sample(self.likelihood(z), (), generator)  # [n, Dx]
        return z, x

