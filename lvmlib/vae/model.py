"""The variational autoencoder: a neural decoder p(x | z), an amortized encoder q(z | x).

Generative story (CS236 lecture 5): z ~ p(z) = N(0, I), x ~ p(x | z) whose parameters come
from a neural network of z (a mixture's lookup table of means, replaced by a function, so
p(x) = integral p(z) p(x | z) dz is an infinite mixture).  The encoder q(z | x) =
N(mu(x), diag sigma(x)^2) is one network shared by all points (amortized inference), and
both are trained together by maximizing the ELBO

    ELBO(x) = E_q[log p(x, z) - log q(z | x)] <= log p(x)
    (Kingma and Welling 2014, "Auto-Encoding Variational Bayes"),

or the tighter importance-weighted bound with K samples

    L_K(x) = E[log (1/K) sum_k p(x, z_k) / q(z_k | x)],  ELBO = L_1 <= L_K <= log p(x)
    (Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders").

A :class:`VAE` speaks the model protocol of ``DESIGN.md`` (``prior()``, ``likelihood(z)``),
and its ``encoder`` is a proposal, so every bound here is computed by
:mod:`lvmlib.inference` (one path for every estimator; nothing is re-implemented here).

Randomness is passed in as a ``torch.Generator``: weight initialization, shuffling and the
Monte Carlo samples all take one; ``generator=None`` falls back to torch's global generator
(which a notebook seeds once with :func:`lvmlib.set_seed`).
"""

from __future__ import annotations

import math
import os
import secrets
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Independent, Normal

from lvmlib import inference as estimators
from lvmlib._util import check_generator, noise, positive_int
from lvmlib.distributions import sample
from lvmlib.nets import MIN_SCALE, mlp

__all__ = ["VAE", "slerp", "LIKELIHOODS", "OBJECTIVES", "INTERPOLATIONS"]

LIKELIHOODS = ("bernoulli", "gaussian")
OBJECTIVES = ("elbo", "iwae")
INTERPOLATIONS = ("linear", "slerp")


#: what :meth:`VAE.save` writes and :meth:`VAE.load` expects in ``checkpoint["format"]``.
CHECKPOINT_FORMAT = "lvmlib.vae.VAE"
CHECKPOINT_VERSION = 1


class VAE(nn.Module):
    """A VAE with MLP encoder and decoder (Kingma and Welling 2014).

    p(z) = N(0, I_Dz);  p(x | z) = prod_d Bernoulli(x_d; sigmoid(f(z)_d)) or
    N(x; f(z), diag s^2);  q(z | x) = N(z; mu(x), diag softplus(g(x))^2).

    Args:
        data_dim: Dx, the number of pixels / features per point.
        latent_dim: Dz.
        hidden: hidden layer sizes of the encoder Dx -> hidden -> 2 Dz; the decoder mirrors
            them, Dz -> reversed(hidden) -> Dx.  ReLU between layers.
        likelihood: ``"bernoulli"`` (binary data, logits from the decoder; log-likelihoods
            in nats of a probability) or ``"gaussian"``.
        obs_scale: Gaussian likelihood only: a float fixes the standard deviation s of
            p(x | z); ``None`` (default) learns one s per dimension.
        prior: optional learned prior, a module whose call returns p(z) (event shape [Dz]) and
            with ``sample(n, generator=)`` and ``config``, e.g. :class:`lvmlib.vae.MixturePrior`;
            ``None`` (default): N(0, I).  Its parameters train with the VAE's.
        generator: optional CPU ``torch.Generator`` for the initial weights (He-normal
            from :func:`lvmlib.nets.mlp`); ``None`` uses torch's global generator.

    The network is built in float32 on the CPU; ``.to(device, dtype)`` moves everything,
    including the prior's parameters, which are buffers.

    Methods taking data accept x of shape [B, Dx] (``reconstruct`` also [Dx]) and move it to
    the model's device and dtype; they raise ``ValueError`` for a wrong last dimension,
    NaN / inf, or (Bernoulli) values other than 0 and 1.

    Taught in notebook 07 (The variational autoencoder); also used in 08 and 09.
    """

    def __init__(
        self,
        data_dim: int,
        latent_dim: int,
        hidden: Sequence[int] | int = (128,),
        likelihood: str = "bernoulli",
        *,
        obs_scale: float | None = None,
        prior: nn.Module | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        check_generator(generator)
        data_dim = positive_int(data_dim, "data_dim")
        latent_dim = positive_int(latent_dim, "latent_dim")
        hidden = [hidden] if isinstance(hidden, int) else list(hidden)
        hidden = [positive_int(h, "every hidden size") for h in hidden]
        if not isinstance(likelihood, str) or likelihood.lower() not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {', '.join(map(repr, LIKELIHOODS))}")
        likelihood = likelihood.lower()
        if obs_scale is not None:
            if likelihood != "gaussian":
                raise ValueError("obs_scale is for likelihood='gaussian' only")
            obs_scale = float(obs_scale)
            if not (obs_scale > 0 and math.isfinite(obs_scale)):
                raise ValueError(f"obs_scale must be a positive number, got {obs_scale}")
        self.data_dim, self.latent_dim, self.hidden = data_dim, latent_dim, tuple(hidden)
        self.likelihood_name, self.obs_scale = likelihood, obs_scale

        gain = math.sqrt(2.0)  # He initialization for ReLU
        # nn.Linear's own (overwritten) init draws from the global generator: fork it so
        # that a model built with a generator leaves the global state untouched.
        with torch.random.fork_rng(devices=[], enabled=generator is not None):
            self.encoder_net = mlp([data_dim, *hidden, 2 * latent_dim], nn.ReLU, generator=generator, gain=gain)
            self.decoder_net = mlp([latent_dim, *hidden[::-1], data_dim], nn.ReLU, generator=generator, gain=gain)
        self.register_buffer("prior_loc", torch.zeros(latent_dim))
        self.register_buffer("prior_scale", torch.ones(latent_dim))
        if prior is not None and getattr(prior, "latent_dim", latent_dim) != latent_dim:
            raise ValueError(f"the prior is over {prior.latent_dim} dimensions but latent_dim={latent_dim}")
        self.prior_net = prior
        if likelihood == "gaussian":
            if obs_scale is None:  # softplus(raw) + MIN_SCALE = 1 at the start
                self.obs_scale_raw = nn.Parameter(torch.full((data_dim,), math.log(math.expm1(1.0 - MIN_SCALE))))
            else:
                self.register_buffer("obs_scale_fixed", torch.full((data_dim,), obs_scale))

    # ------------------------------------------------------------------------------------
    # the model protocol
    # ------------------------------------------------------------------------------------

    @property
    def config(self) -> dict:
        """The constructor's arguments as plain Python values (stored by :meth:`save`)."""
        return {
            "data_dim": self.data_dim,
            "latent_dim": self.latent_dim,
            "hidden": list(self.hidden),
            "likelihood": self.likelihood_name,
            "obs_scale": self.obs_scale,
            "prior": None if self.prior_net is None else self.prior_net.config,
        }

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}, latent_dim={self.latent_dim}, likelihood={self.likelihood_name!r}"

    def prior(self):
        """p(z): N(0, I) (batch shape [], event shape [Dz], on the model's device), or the learned prior's."""
        if self.prior_net is not None:
            return self.prior_net()
        return Independent(Normal(self.prior_loc, self.prior_scale, validate_args=False), 1)

    def likelihood(self, z: torch.Tensor) -> Independent:
        """p(x | z) for z of shape [..., Dz]: batch shape [...], event shape [Dx].

        ``Independent(Bernoulli(logits=f(z)), 1)`` or ``Independent(Normal(f(z), s), 1)``;
        its ``.mean`` is the pixel probabilities (Bernoulli) or f(z) (Gaussian).
        """
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have last dimension latent_dim={self.latent_dim}, got shape {tuple(z.shape)}")
        out = self.decoder_net(z)  # [..., Dx]
        # validate_args=False: the parameters come from the network, data are checked on entry
        if self.likelihood_name == "bernoulli":
            return Independent(Bernoulli(logits=out, validate_args=False), 1)
        return Independent(Normal(out, self._obs_scale().expand_as(out), validate_args=False), 1)

    def decoder(self, z: torch.Tensor) -> Independent:
        """The same as :meth:`likelihood`: p(x | z), batch shape z.shape[:-1], event [Dx]."""
        return self.likelihood(z)

    def _obs_scale(self) -> torch.Tensor:
        if self.obs_scale is None:
            return F.softplus(self.obs_scale_raw) + MIN_SCALE  # [Dx]
        return self.obs_scale_fixed  # [Dx]

    def encoder(self, x: torch.Tensor) -> Independent:
        """q(z | x) = N(mu(x), diag sigma(x)^2) for x of shape [B, Dx]: batch [B], event [Dz]."""
        return self.encode(self.check_x(x))

    def encode(self, x: torch.Tensor) -> Independent:
        """:meth:`encoder` without the input checks (the training hot path)."""
        out = self.encoder_net(x)  # [B, 2 Dz]
        loc, raw = out.chunk(2, dim=-1)  # [B, Dz] each
        return Independent(Normal(loc, F.softplus(raw) + MIN_SCALE, validate_args=False), 1)

    # ------------------------------------------------------------------------------------
    # bounds (through lvmlib.inference)
    # ------------------------------------------------------------------------------------

    def elbo(self, x: torch.Tensor, num_samples: int = 1, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Monte Carlo ELBO, (1/K) sum_k log p(x, z_k) / q(z_k | x), z_k ~ q(z | x).

        Kingma and Welling 2014.  Differentiable (reparameterized z).

        Args:
            x: data, shape [B, Dx].
            num_samples: K samples per point.
            generator: optional ``torch.Generator``.

        Returns:
            tensor of shape [B], in nats.
        """
        return self.bound(self.check_x(x), "elbo", num_samples, generator)

    def iwae(self, x: torch.Tensor, num_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Importance-weighted bound L_K = log (1/K) sum_k p(x, z_k) / q(z_k | x).

        Burda, Grosse and Salakhutdinov 2016.  ``iwae(x, 1)`` is the one-sample ELBO.

        Returns:
            tensor of shape [B], in nats.
        """
        return self.bound(self.check_x(x), "iwae", num_samples, generator)

    def bound(self, x: torch.Tensor, objective: str, num_samples: int, generator) -> torch.Tensor:
        """What ``train`` optimises, per point [B]: "elbo" or "iwae"; x from :meth:`check_x` (no second scan)."""
        if objective == "elbo":
            return estimators.elbo(x, self, self.encode, num_samples, generator=generator, check=False)
        return estimators.iwae_bound(x, self, self.encode, num_samples, generator=generator, check=False)

    # ------------------------------------------------------------------------------------
    # pictures (no gradients)
    # ------------------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, mean: bool = True) -> torch.Tensor:
        """Draw z ~ p(z) and decode.

        Args:
            n: number of samples.
            generator: optional ``torch.Generator`` (any device).
            mean: ``True`` (default) returns the decoder's mean, i.e. the pixel
                probabilities of a Bernoulli VAE (smooth images, what papers show);
                ``False`` draws x ~ p(x | z) (binary pixels / Gaussian noise added).

        Returns:
            tensor of shape [n, Dx].
        """
        n = positive_int(n, "n")
        check_generator(generator)
        if self.prior_net is not None:
            z = self.prior_net.sample(n, generator=generator)  # [n, Dz]
        else:
            z = self._randn((n, self.latent_dim), generator)  # [n, Dz]
        px = self.likelihood(z)
        return px.mean if mean else sample(px, (), generator)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's mean at the encoder's mean: E[x | z = mu(x)].

        Args:
            x: shape [B, Dx] or [Dx].

        Returns:
            tensor of x's shape (pixel probabilities for a Bernoulli VAE).
        """
        single = isinstance(x, torch.Tensor) and x.dim() == 1
        x = self.check_x(x.unsqueeze(0) if single else x)
        out = self.likelihood(self.encode(x).mean).mean  # [B, Dx]
        return out[0] if single else out

    @torch.no_grad()
    def interpolate(self, x0: torch.Tensor, x1: torch.Tensor, steps: int = 10, method: str = "linear",
                    *, return_latents: bool = False):
        """Decode a path between the encoder means z0 = mu(x0) and z1 = mu(x1).

        linear: z(t) = (1 - t) z0 + t z1.  slerp: z(t) = sin((1 - t) w) / sin w z0 +
        sin(t w) / sin w z1 with cos w = <z0, z1> / (|z0| |z1|) (Shoemake 1985; White 2016,
        "Sampling Generative Networks"): it keeps the norm near that of typical Gaussian
        vectors, where linear paths cut through the low-norm middle of the prior.  When
        z0 and z1 are (anti)parallel slerp falls back to the linear path.  t runs over
        ``steps`` evenly spaced values from 0 to 1, so the first and last rows decode
        exactly z0 and z1 (= :meth:`reconstruct` of x0 and x1).

        Args:
            x0, x1: two points, shape [Dx] (or [1, Dx]).
            steps: number of points on the path, >= 2.
            method: ``"linear"`` or ``"slerp"``.
            return_latents: also return the latent path.

        Returns:
            decoded means of shape [steps, Dx] (and the latents, [steps, Dz]).
        """
        if method not in INTERPOLATIONS:
            choices = ", ".join(map(repr, INTERPOLATIONS))
            raise ValueError(f"unknown interpolation method {method!r}; choose one of {choices}")
        steps = positive_int(steps, "steps")
        if steps < 2:
            raise ValueError(f"steps must be at least 2 (the two endpoints), got {steps}")
        ends = []
        for name, x in (("x0", x0), ("x1", x1)):
            if not isinstance(x, torch.Tensor) or x.dim() not in (1, 2) or (x.dim() == 2 and x.shape[0] != 1):
                shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise ValueError(f"{name} must be one point of shape [Dx] or [1, Dx], got {shape}")
            ends.append(self.check_x(x.reshape(1, -1)))
        z0, z1 = self.encode(torch.cat(ends)).mean  # [Dz] each
        t = torch.linspace(0.0, 1.0, steps, device=z0.device, dtype=z0.dtype).unsqueeze(-1)  # [steps, 1]
        z = slerp(z0, z1, t) if method == "slerp" else (1 - t) * z0 + t * z1  # [steps, Dz]
        x_path = self.likelihood(z).mean  # [steps, Dx]
        return (x_path, z) if return_latents else x_path

    # ------------------------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write the weights and the constructor's config (plain Python values) to ``path``.

        The file holds only tensors, dicts, lists, strings and numbers, so :meth:`load`
        can read it with ``torch.load(weights_only=True)``.  A file path is written
        atomically: into a temporary file in the same folder, flushed to disk, then moved
        over ``path`` with ``os.replace``, so a save cut short (a full disk, Ctrl-C) leaves
        the previous checkpoint whole and no temporary file behind.  ``path`` may also be
        an open binary file object (written directly).
        """
        dtype = str(self.prior_loc.dtype).removeprefix("torch.")
        state = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        ckpt = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": self.config,
                "dtype": dtype, "state_dict": state}
        if not isinstance(path, (str, os.PathLike)):
            torch.save(ckpt, path)
            return
        path = os.fspath(path)
        folder, name = os.path.split(os.path.abspath(path))
        # O_EXCL: a name no one else holds; mode 0o666 less the umask, as a plain open() would give
        tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(ckpt, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    @classmethod
    def load(cls, path, map_location=None) -> "VAE":
        """Rebuild a VAE written by :meth:`save`.

        Reads with ``torch.load(..., weights_only=True)``: a file that contains a pickled
        Python object (which could run code when unpickled) is refused with ``ValueError``.

        Args:
            path: the file.
            map_location: device to put the model on (``None``: the CPU).

        Returns:
            a :class:`VAE` with the saved config, weights and dtype.
        """
        import pickle

        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(
                f"refusing to load {path}: it is not a plain lvmlib VAE checkpoint but contains pickled "
                f"Python objects, which could run arbitrary code when loaded (torch.load weights_only=True "
                f"said: {str(err).splitlines()[0]})"
            ) from None
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise
        except (EOFError, OSError, RuntimeError, ValueError) as err:  # empty, truncated, not a torch file
            said = str(err).splitlines()[0] if str(err) else "end of file"
            raise ValueError(
                f"cannot read {path}: it is empty, truncated or not a checkpoint written by VAE.save "
                f"({type(err).__name__}: {said}); save the model again or use an intact copy"
            ) from None
        if not (isinstance(ckpt, dict) and ckpt.get("format") == CHECKPOINT_FORMAT
                and isinstance(ckpt.get("config"), dict) and isinstance(ckpt.get("state_dict"), dict)):
            raise ValueError(f"{path} is not a checkpoint written by VAE.save (format {CHECKPOINT_FORMAT!r})")
        if ckpt.get("version", 0) > CHECKPOINT_VERSION:
            raise ValueError(f"{path} was written by a newer lvmlib (checkpoint version {ckpt['version']})")
        dtype = getattr(torch, str(ckpt.get("dtype", "float32")), None)
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"{path}: unknown dtype {ckpt.get('dtype')!r} (expected a floating dtype such as 'float32')")
        config = dict(ckpt["config"])

        def build():
            cfg = dict(config)
            if cfg.get("prior") is not None:
                from lvmlib.vae.priors import from_config

                cfg["prior"] = from_config(cfg["prior"])
            return cls(**cfg)

        # First on the meta device (shapes only, no memory): a config that does not match the
        # stored tensors (a forged hidden=[2**40]) is refused before any real weight is allocated.
        try:
            with torch.device("meta"):
                shapes = {k: tuple(v.shape) for k, v in build().state_dict().items()}
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"{path}: the stored config does not fit VAE(...): {err}") from None
        _check_state_shapes(path, config, shapes, ckpt["state_dict"])
        model = build()
        model.to(dtype)
        model.load_state_dict(ckpt["state_dict"])
        if map_location is not None:
            model.to(torch.device(map_location))
        return model

    # ------------------------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------------------------

    def _param(self) -> torch.Tensor:
        return self.prior_loc  # a buffer: device and dtype of the model

    def _randn(self, shape, generator: torch.Generator | None) -> torch.Tensor:
        ref = self._param()
        return noise("randn", shape, generator, dtype=ref.dtype, device=ref.device)

    def check_x(self, x: torch.Tensor) -> torch.Tensor:
        """x as a [B, Dx] tensor on the model's device and dtype, or a clear ValueError."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape [B, {self.data_dim}], got {type(x).__name__}")
        if x.dim() != 2 or x.shape[-1] != self.data_dim:
            raise ValueError(
                f"x must have shape [B, data_dim] = [B, {self.data_dim}], got {tuple(x.shape)}"
                + (" (one point: use x.unsqueeze(0))" if x.dim() == 1 and x.shape[0] == self.data_dim else "")
            )
        _check_values(x, self.likelihood_name)
        ref = self._param()
        return x.to(device=ref.device, dtype=ref.dtype)


def _check_state_shapes(path, config: dict, expected: dict, state: dict) -> None:
    """The checkpoint's tensors against the shapes its config implies (a ValueError naming the file)."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape) if isinstance(state[k], torch.Tensor) else type(state[k]).__name__} "
             f"(the config says {expected[k]})"
             for k in expected if k in state
             and not (isinstance(state[k], torch.Tensor) and tuple(state[k].shape) == expected[k])]
    if missing or unexpected or wrong:
        said = "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(unexpected)}" if unexpected else "",
            f"wrong shape: {', '.join(wrong[:4])}{' ...' if len(wrong) > 4 else ''}" if wrong else "",
        ) if part)
        shown = {k: config.get(k) for k in ("data_dim", "latent_dim", "hidden", "likelihood", "obs_scale")}
        raise ValueError(f"{path}: the stored weights do not fit the stored config {shown} ({said}); "
                         f"the file is damaged or was not written by VAE.save")


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical linear interpolation between z0, z1 [Dz] at t [T, 1]; returns [T, Dz].

    Interpolates the direction along the great circle and, like White (2016), applies the
    same weights to the full vectors, so norms change smoothly from |z0| to |z1|.  Falls
    back to the linear path when the angle is within 1e-4 rad of 0 or pi.

    Taught in notebook 08 (Walking the latent space).
    """
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp_min(torch.finfo(z0.dtype).tiny)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    if float(sin) < 1e-4 or not math.isfinite(float(sin)):
        return (1 - t) * z0 + t * z1
    return torch.sin((1 - t) * omega) / sin * z0 + torch.sin(t * omega) / sin * z1  # [T, Dz]


def _check_values(x: torch.Tensor, likelihood: str) -> None:
    """NaN / inf, and (Bernoulli) values other than 0 and 1, in one device sync (none on ``meta``,
    which has no values: tests stand in for a GPU with it)."""
    if x.device.type == "meta":
        return
    if not x.is_floating_point():
        x = x.float()
    bad = ~torch.isfinite(x).all()
    if likelihood == "bernoulli":
        nonbinary = ((x != 0) & (x != 1)).any()
        bad_finite, bad_binary = torch.stack([bad, nonbinary]).tolist()
    else:
        bad_finite, bad_binary = bool(bad), False
    if bad_finite:
        raise ValueError("x contains NaN or inf")
    if bad_binary:
        raise ValueError(
            "x has values other than 0 and 1, but the likelihood is Bernoulli: binarize the data "
            "(load_dataset(..., binarize=True)) or use likelihood='gaussian'"
        )
