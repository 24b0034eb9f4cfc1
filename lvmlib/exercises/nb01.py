"""Checks for notebook 01 (latent variable models): `check_sample_story`."""

from __future__ import annotations

from typing import Callable

import torch

from lvmlib.exercises._core import Case, Mistake, Report, check_function, parts_of


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
        out = parts_of(fn, 2, "z, x")(decoder, num_samples, torch.Generator().manual_seed(seed))
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
