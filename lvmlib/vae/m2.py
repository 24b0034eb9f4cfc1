"""The semi-supervised VAE "M2": a class label y as a second latent, observed for a few points.

Generative model (Kingma, Rezende, Mohamed and Welling 2014, "Semi-Supervised Learning with Deep
Generative Models", section 2.2):

    y ~ p(y) = Cat(1/C),   z ~ p(z) = N(0, I),   x ~ p(x | y, z) = prod_d Bernoulli(sigmoid(f(y, z))_d).

Inference: q(y | x) = Cat(softmax(h(x))) (a classifier) and q(z | x, y) = N(mu(x, y), diag sigma(x, y)^2).

For a labelled point the bound is over z alone (their eq. 6, with -L written as a bound):

    B_l(x, y) = E_{q(z|x,y)}[log p(x | y, z) + log p(y) + log p(z) - log q(z | x, y)] <= log p(x, y);

for an unlabelled point y is summed out exactly under q(y | x) (their eq. 7):

    B_u(x) = sum_y q(y | x) B_l(x, y) + H(q(y | x)) <= log p(x).

Training maximizes  mean B_l + mean B_u + alpha * mean log q(y_l | x_l)  (their eq. 9): the last
term trains the classifier on the labels it has, the unlabelled term trains it too, through the
weights q(y | x) it gives each reconstruction.  Labels are integers in [0, C); y enters the networks
one-hot.  Randomness is passed in as a ``torch.Generator``; tensors follow the model's device.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Categorical, Independent, Normal

from lvmlib._util import check_generator, noise, positive_int
from lvmlib.nets import MIN_SCALE, mlp

__all__ = ["M2", "train_m2", "train_classifier", "accuracy", "label_subset", "M2History"]



class M2(nn.Module):
    """M2 of Kingma et al. 2014 with one-hidden-layer MLPs and a Bernoulli likelihood.

    Args:
        data_dim: Dx (binary pixels).
        num_classes: C.
        latent_dim: Dz, the "style" latent.
        hidden: hidden sizes of each of the three networks (ReLU).
        generator: optional CPU ``torch.Generator`` for the initial weights.

    Networks: ``classifier_net`` x -> C logits of q(y | x); ``encoder_net`` [x, onehot(y)] -> 2 Dz;
    ``decoder_net`` [z, onehot(y)] -> Dx logits.

    Taught in notebook 10 (Priors and labels).
    """

    def __init__(self, data_dim: int, num_classes: int, latent_dim: int, hidden=(128,), *,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.data_dim = positive_int(data_dim, "data_dim")
        self.num_classes = positive_int(num_classes, "num_classes")
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        hidden = [hidden] if isinstance(hidden, int) else list(hidden)
        self.hidden = tuple(positive_int(h, "every hidden size") for h in hidden)
        gain = math.sqrt(2.0)
        c, d, dz = self.num_classes, self.data_dim, self.latent_dim
        with torch.random.fork_rng(devices=[], enabled=generator is not None):
            self.classifier_net = mlp([d, *self.hidden, c], nn.ReLU, generator=generator, gain=gain)
            self.encoder_net = mlp([d + c, *self.hidden, 2 * dz], nn.ReLU, generator=generator, gain=gain)
            self.decoder_net = mlp([dz + c, *self.hidden[::-1], d], nn.ReLU, generator=generator, gain=gain)
        self.register_buffer("prior_loc", torch.zeros(dz))
        self.register_buffer("prior_scale", torch.ones(dz))

    # -- checks ------------------------------------------------------------------------
    def check_x(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """x as [B, Dx] on the model's device and dtype, or a ValueError saying what is wrong."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape [B, {self.data_dim}], got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"{name} must have shape [B, {self.data_dim}], got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or inf")
        if ((x != 0) & (x != 1)).any():
            raise ValueError(f"{name} has values other than 0 and 1: M2's likelihood is Bernoulli, binarize the data "
                             "(load_dataset(..., binarize=True))")
        ref = self.prior_loc
        return x.to(device=ref.device, dtype=ref.dtype)

    def check_y(self, y, batch: int, name: str = "y") -> torch.Tensor:
        """Integer labels [B] in [0, C) on the model's device, or a ValueError."""
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of integer labels, got {type(y).__name__}")
        if y.is_floating_point() or y.dtype == torch.bool:
            raise ValueError(f"{name} must hold integer class labels (torch.long), got dtype {y.dtype}")
        if y.dim() != 1 or y.shape[0] != batch:
            raise ValueError(f"{name} must have shape [B] = [{batch}] (one label per point), got {tuple(y.shape)}")
        if batch and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"{name} has labels outside [0, {self.num_classes}): min {int(y.min())}, "
                             f"max {int(y.max())}")
        return y.to(device=self.prior_loc.device, dtype=torch.long)

    def _onehot(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.num_classes).to(self.prior_loc.dtype)  # [..., C]

    # -- the distributions ---------------------------------------------------------------
    def prior(self) -> Independent:
        """p(z) = N(0, I): event shape [Dz]."""
        return Independent(Normal(self.prior_loc, self.prior_scale, validate_args=False), 1)

    def classifier(self, x: torch.Tensor) -> Categorical:
        """q(y | x) for x [B, Dx]: batch shape [B]."""
        return Categorical(logits=self.classifier_net(self.check_x(x)), validate_args=False)

    def encoder(self, x: torch.Tensor, y: torch.Tensor) -> Independent:
        """q(z | x, y) for x [..., Dx], y [...] (integers): batch [...], event [Dz]."""
        out = self.encoder_net(torch.cat([x, self._onehot(y)], -1))  # [..., 2 Dz]
        loc, raw = out.chunk(2, -1)
        return Independent(Normal(loc, F.softplus(raw) + MIN_SCALE, validate_args=False), 1)

    def likelihood(self, z: torch.Tensor, y: torch.Tensor) -> Independent:
        """p(x | y, z) for z [..., Dz], y [...] (broadcast): batch [...], event [Dx]."""
        y1 = self._onehot(y).expand(*z.shape[:-1], self.num_classes)
        logits = self.decoder_net(torch.cat([z, y1], -1))  # [..., Dx]
        return Independent(Bernoulli(logits=logits, validate_args=False), 1)

    # -- the bounds ----------------------------------------------------------------------
    def _noise(self, shape, eps, generator):
        ref = self.prior_loc
        if eps is not None:
            if tuple(eps.shape) != tuple(shape):
                raise ValueError(f"eps must have shape {tuple(shape)}, got {tuple(eps.shape)}")
            return eps.to(device=ref.device, dtype=ref.dtype)
        return noise("randn", shape, generator, dtype=ref.dtype, device=ref.device)

    def _labelled(self, x, y, eps):
        """B_l for checked x [..., Dx], y [...], noise eps [S, ..., Dz]; returns [...] (mean over S)."""
        q = self.encoder(x, y)
        z = q.base_dist.loc + q.base_dist.scale * eps  # [S, ..., Dz], reparameterized
        log_w = (self.likelihood(z, y).log_prob(x) + self.prior().log_prob(z) - q.log_prob(z)
                 - math.log(self.num_classes))  # log p(y) = -log C: the label prior is uniform
        return log_w.mean(0)

    def labelled_bound(self, x: torch.Tensor, y: torch.Tensor, num_samples: int = 1, *,
                       eps: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """B_l(x, y) = E_q(z|x,y)[log p(x|y,z) + log p(y) + log p(z) - log q(z|x,y)] by S samples.

        Args:
            x: [B, Dx] binary; y: [B] integer labels in [0, C).
            num_samples: S.
            eps: optional standard-normal noise [S, B, Dz] (z = mu + sigma * eps); drawn if None.

        Returns:
            [B], nats; differentiable.
        """
        x = self.check_x(x)
        y = self.check_y(y, x.shape[0])
        eps = self._noise((positive_int(num_samples, "num_samples"), x.shape[0], self.latent_dim), eps, generator)
        return self._labelled(x, y, eps)

    def unlabelled_bound(self, x: torch.Tensor, num_samples: int = 1, *, eps: torch.Tensor | None = None,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        """B_u(x) = sum_y q(y|x) B_l(x, y) + H(q(y|x)): y summed out exactly, z sampled.

        Args:
            x: [B, Dx] binary.
            eps: optional noise [S, C, B, Dz]; class c uses ``eps[:, c]``.

        Returns:
            [B], nats; differentiable (also in the classifier, through q(y | x)).
        """
        log_q, bl = self.unlabelled_parts(x, num_samples, eps=eps, generator=generator)  # [B, C] each
        q = log_q.exp()
        return (q * (bl - log_q)).sum(-1)  # sum_y q (B_l - log q) = E_q B_l + H

    def unlabelled_parts(self, x: torch.Tensor, num_samples: int = 1, *, eps: torch.Tensor | None = None,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """What :meth:`unlabelled_bound` sums y out of: ``(log q(y | x), B_l(x, y))``, both [B, C].

        Args and noise as :meth:`unlabelled_bound` (the same draws for the same generator); differentiable.
        """
        x = self.check_x(x)
        b, c = x.shape[0], self.num_classes
        eps = self._noise((positive_int(num_samples, "num_samples"), c, b, self.latent_dim), eps, generator)
        ys = torch.arange(c, device=x.device).unsqueeze(1).expand(c, b)  # [C, B]
        bl = self._labelled(x.unsqueeze(0).expand(c, b, self.data_dim), ys, eps)  # [C, B]
        log_q = torch.log_softmax(self.classifier_net(x), -1)  # [B, C]
        return log_q, bl.T

    def objective(self, x_l, y_l, x_u, alpha: float, *, generator=None, unlabelled_bound=None) -> torch.Tensor:
        """mean B_l(x_l, y_l) + mean B_u(x_u) + alpha * mean log q(y_l | x_l) (a scalar to maximize).

        Either part may be empty (0 points) but not both. ``unlabelled_bound(x_u, generator=) -> [B]``
        computes B_u (default :meth:`unlabelled_bound`; :class:`lvmlib.vae.M2Bound` passes a student's).
        """
        x_l, x_u = self.check_x(x_l, "x_labelled"), self.check_x(x_u, "x_unlabelled")
        y_l = self.check_y(y_l, x_l.shape[0], "y_labelled")
        if x_l.shape[0] == 0 and x_u.shape[0] == 0:
            raise ValueError("objective needs at least one labelled or unlabelled point")
        total = x_l.new_zeros(())
        if x_l.shape[0]:
            total = total + self.labelled_bound(x_l, y_l, generator=generator).mean()
            total = total + alpha * (-F.cross_entropy(self.classifier_net(x_l), y_l))
        if x_u.shape[0]:
            b_u = (unlabelled_bound or self.unlabelled_bound)(x_u, generator=generator)  # [B]
            total = total + b_u.mean()
        return total

    # -- pictures --------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """argmax_y q(y | x): [B] labels."""
        return self.classifier_net(self.check_x(x)).argmax(-1)

    @torch.no_grad()
    def style(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The style code mu(x, y) [B, Dz]; y defaults to the classifier's prediction."""
        x = self.check_x(x)
        y = self.predict(x) if y is None else self.check_y(y, x.shape[0])
        return self.encoder(x, y).base_dist.loc

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities E[x | y, z] for z [..., Dz] and labels y [...] (broadcast): [..., Dx]."""
        z = z.to(self.prior_loc)
        y = torch.as_tensor(y, device=z.device).long()
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes})")
        return self.likelihood(z, y.expand(z.shape[:-1])).mean


def accuracy(predict, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of points where ``predict(x)`` (labels [B]) equals y [B]."""
    with torch.no_grad():
        return float((predict(x).to(y.device) == y).double().mean())


@dataclass
class M2History:
    """Per 100 steps: the training objective (mean over those steps) and the wall time; whose unlabelled
    bound computed it (``computed_by``)."""

    objective: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    computed_by: str = "lvmlib's M2.unlabelled_bound"


def _check_split(model, x_l, y_l, x_u):
    x_l, x_u = model.check_x(x_l, "x_labelled"), model.check_x(x_u, "x_unlabelled")
    y_l = model.check_y(y_l, x_l.shape[0], "y_labelled")
    if x_l.shape[0] == 0:
        raise ValueError("no labelled points: M2 needs at least one label per class it should name "
                         "(without labels it is a VAE with a discrete latent, and its classes need not be digits)")
    return x_l, y_l, x_u


def train_m2(model: M2, x_labelled: torch.Tensor, y_labelled: torch.Tensor, x_unlabelled: torch.Tensor,
             steps: int, *, batch_size: int = 64, lr: float = 3e-3, alpha: float | None = None,
             objective=None, generator: torch.Generator | None = None, progress: bool = False) -> M2History:
    """Adam on M2's objective, ``steps`` steps; each step a labelled batch and an unlabelled batch.

    Batches are drawn with replacement (the labelled set may be smaller than a batch), indices from
    ``generator``.  ``x_unlabelled`` may be empty (all labelled: a supervised M2).

    Args:
        objective: an :class:`lvmlib.vae.M2Bound` (its ``alpha`` weighs the classification term; its
            ``unlabelled_bound`` may be a student's function of exercise 10.4); ``None``: ``M2Bound(alpha)``.
        alpha: shorthand for ``objective=M2Bound(alpha)`` (default 10; Kingma et al. 2014 use 0.1 N on
            sums, here the terms are means); not together with ``objective``.

    Returns:
        an :class:`M2History` with one entry per 100 steps; ``computed_by`` says whose unlabelled bound ran.
    """
    from tqdm.auto import tqdm

    from lvmlib.vae.objectives import M2Bound

    if objective is None:
        objective = M2Bound(10.0 if alpha is None else alpha)
    elif alpha is not None:
        raise ValueError(f"alpha belongs to the objective: write objective=M2Bound(alpha={alpha}, ...) instead of "
                         "passing alpha beside it")
    elif not isinstance(objective, M2Bound):
        raise TypeError(f"objective must be an lvmlib.vae.M2Bound, got {type(objective).__name__}")
    x_l, y_l, x_u = _check_split(model, x_labelled, y_labelled, x_unlabelled)
    steps = positive_int(steps, "steps")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist, t0, run = M2History(computed_by=objective.who), time.perf_counter(), []
    check_generator(generator)
    g_dev = generator.device if generator is not None else torch.device("cpu")
    for step in tqdm(range(1, steps + 1), desc="M2", disable=not progress):
        il = torch.randint(x_l.shape[0], (min(batch_size, x_l.shape[0]),), generator=generator, device=g_dev)
        xb_l, yb_l = x_l[il.to(x_l.device)], y_l[il.to(x_l.device)]
        if x_u.shape[0]:
            iu = torch.randint(x_u.shape[0], (batch_size,), generator=generator, device=g_dev)
            xb_u = x_u[iu.to(x_u.device)]
        else:
            xb_u = x_u
        loss = -objective(model, xb_l, yb_l, xb_u, generator=generator)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.append(loss.detach())
        if step % 100 == 0 or step == steps:
            value = -float(torch.stack(run).mean())
            if not math.isfinite(value):
                raise FloatingPointError(f"the M2 objective became {value} by step {step}; try a lower lr than {lr:g}")
            hist.objective.append(value)
            hist.seconds.append(time.perf_counter() - t0)
            run = []
    return hist


def train_classifier(net: nn.Module, x_labelled: torch.Tensor, y_labelled: torch.Tensor, steps: int, *,
                     batch_size: int = 64, lr: float = 3e-3, generator: torch.Generator | None = None) -> nn.Module:
    """The labelled-only baseline: ``net`` (x -> logits) trained by Adam on cross-entropy, same batches as M2.

    Raises ValueError for no labels, mismatched shapes or negative labels.
    """
    if not isinstance(x_labelled, torch.Tensor) or x_labelled.dim() != 2:
        raise ValueError("x_labelled must be a tensor [N, Dx]")
    if x_labelled.shape[0] == 0:
        raise ValueError("no labelled points: the classifier needs at least one")
    if not isinstance(y_labelled, torch.Tensor) or y_labelled.shape != (x_labelled.shape[0],) \
            or y_labelled.is_floating_point():
        raise ValueError(f"y_labelled must be integer labels of shape [{x_labelled.shape[0]}]")
    if int(y_labelled.min()) < 0:
        raise ValueError("labels must be non-negative")
    steps = positive_int(steps, "steps")
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    check_generator(generator)
    g_dev = generator.device if generator is not None else torch.device("cpu")
    n = x_labelled.shape[0]
    for _ in range(steps):
        i = torch.randint(n, (min(batch_size, n),), generator=generator, device=g_dev).to(x_labelled.device)
        loss = F.cross_entropy(net(x_labelled[i]), y_labelled[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net


def label_subset(y: torch.Tensor, per_class: int | None, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices of ``per_class`` randomly chosen points of each class of y [N] (``None``: all points).

    Returns a sorted long tensor [C * per_class]; a class with fewer points raises ValueError.
    """
    if per_class is None:
        return torch.arange(y.shape[0], device=y.device)
    per_class = positive_int(per_class, "per_class")
    picks = []
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero().flatten()
        if idx.numel() < per_class:
            raise ValueError(f"class {c} has {idx.numel()} points, fewer than per_class={per_class}")
        order = torch.randperm(idx.numel(), generator=generator).to(idx.device)
        picks.append(idx[order[:per_class]])
    return torch.cat(picks).sort().values
