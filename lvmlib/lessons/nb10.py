"""Notebook 10, priors and labels: a learned mixture prior against N(0, I), and the semi-supervised M2.

Everything a control can show is computed once: :func:`prior_views` (densities on a grid, codes,
batches of samples and ``lvmlib.vae.prior_coverage``, for both priors of
``lvmlib.vae.train_prior_pair``) and ``lvmlib.vae.train_label_settings`` + :func:`analogies` (one M2
and one classifier per labels-per-class setting, and every picture they generate).  The apps'
callbacks only pick arrays and update artists.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch

from lvmlib.plotting import IMG, new_figure, tile_images
from lvmlib.vae import (
    LABEL_SETTINGS,
    M2_RECIPE,
    aggregate_posterior,
    prior_coverage,
    train_label_settings,
    train_prior_pair,
)
from lvmlib.widgets.app import SliderApp

__all__ = ["SETTINGS", "setting_name", "PriorView", "prior_views", "prior_app", "Analogies", "analogies", "labels_app",
           "examples"]

#: labels per class the notebook's slider offers (None: every training digit labelled).
SETTINGS = LABEL_SETTINGS


def setting_name(k) -> str:
    return "all" if k is None else str(k)


# ----------------------------------------------------------------------------------------
# part 1: a richer prior
# ----------------------------------------------------------------------------------------


@dataclass
class PriorView:
    """For each prior (``names``): densities on a grid, the encoded codes, batches of samples."""

    names: tuple
    values: np.ndarray  # [G] grid coordinates (both axes)
    prior_density: np.ndarray  # [P, G, G] p(z) on the grid (rows: z2)
    aggregate_density: np.ndarray  # [P, G, G] q(z) of the training digits on the grid
    codes: np.ndarray  # [P, N, 2] mu(x) of the held-out digits
    labels: np.ndarray  # [N]
    samples: np.ndarray  # [P, R, S, D] R batches of S decoded prior samples
    hole_mass: np.ndarray  # [P] P_{z ~ p}[q(z) < p(z) / hole_ratio]  (lvmlib.vae.prior_coverage)
    kl_aggregate: np.ndarray  # [P] KL(q(z) || p(z)), Monte Carlo
    kl_prior: np.ndarray  # [P] KL(p(z) || q(z)), Monte Carlo: large when the prior has mass where no code lies
    hole_ratio: float
    image_shape: tuple


@torch.no_grad()
def prior_views(models: dict, x_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor, *,
                limit: float = 4.0, grid: int = 121, batches: int = 4, per_batch: int = 36, mc: int = 20000,
                hole_ratio: float = 2.0, image_shape=(8, 8), generator: torch.Generator | None = None) -> PriorView:
    """Everything :func:`prior_app` shows, for 2-D latents; ``mc`` samples for the hole mass and the KL.

    A *hole* is where the codes' density q(z) is below p(z) / ``hole_ratio``; ``hole_mass`` is the prior's
    probability there.  ``kl_aggregate`` is KL(q(z) || p(z)) with z drawn from q(z), ``kl_prior``
    KL(p(z) || q(z)) with z drawn from p(z) (the prior's samples that land in holes weigh most):
    :func:`lvmlib.vae.prior_coverage`, after the sample batches (the generator's order).
    """
    names = tuple(models)
    v = torch.linspace(-limit, limit, grid)
    zz = torch.stack(torch.meshgrid(v, v, indexing="xy"), -1).reshape(-1, 2)  # [G*G, 2], rows: z2
    pd, ad, codes, samples, holes, kls, klp = [], [], [], [], [], [], []
    for name in names:
        m = models[name]
        if m.latent_dim != 2:
            raise ValueError(f"prior_views draws 2-D latents; model {name!r} has latent_dim={m.latent_dim}")
        prior, agg = m.prior(), aggregate_posterior(m.encoder(x_train))
        z = zz.to(m.prior_loc.device)
        pd.append(prior.log_prob(z).exp().reshape(grid, grid).cpu().numpy())
        ad.append(agg.log_prob(z).exp().reshape(grid, grid).cpu().numpy())
        codes.append(m.encoder(x_test).mean.cpu().numpy())
        samples.append(np.stack([m.sample(per_batch, generator=generator).cpu().numpy() for _ in range(batches)]))
        cover = prior_coverage(m, x_train, mc, hole_ratio=hole_ratio, generator=generator)
        holes.append(cover.hole_mass)
        klp.append(cover.kl_prior)
        kls.append(cover.kl_aggregate)
    return PriorView(names, v.numpy(), np.stack(pd), np.stack(ad), np.stack(codes), y_test.cpu().numpy(),
                     np.stack(samples), np.array(holes), np.array(kls), np.array(klp), float(hole_ratio), tuple(image_shape))


def prior_app(view: PriorView, *, prior: str = "N(0, I)", batch: int = 0, name: str = "10_priors") -> SliderApp:
    """Prior density | aggregate posterior with the held-out codes | decoded prior samples."""
    controls = {
        "prior": W.Dropdown(options=list(view.names), value=prior, description="prior"),
        "batch": W.IntSlider(value=batch, min=0, max=view.samples.shape[1] - 1, description="sample batch"),
    }
    fig = new_figure(10.5, 3.7)
    axes = [fig.add_axes([0.04 + 0.33 * i, 0.12, 0.27, 0.74]) for i in range(3)]
    lim = float(view.values[-1])
    ext = (-lim, lim, -lim, lim)
    ims = [ax.imshow(view.prior_density[0], extent=ext, origin="lower", cmap="viridis", animated=True)
           for ax in axes[:2]]
    pts = axes[1].plot([], [], ".", ms=2, color="white", alpha=0.6, animated=True)[0]
    for ax, title in zip(axes[:2], ("prior p(z)", "aggregate posterior q(z) (same colours), codes")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("$z_1$", fontsize=9, labelpad=1)
        ax.tick_params(labelsize=8)
    axes[0].set_ylabel("$z_2$", fontsize=9)
    side = int(round(math.sqrt(view.samples.shape[2])))
    tile = tile_images(view.samples[0, 0][: side * side], view.image_shape, ncols=side)
    im_s = axes[2].imshow(tile, animated=True, **IMG)
    axes[2].set_xticks([])
    axes[2].set_yticks([])
    axes[2].title.set_animated(True)

    def redraw(prior: str, batch: int) -> str:
        p = view.names.index(prior)
        top = float(view.prior_density[p].max())  # one colour scale for both: the codes' density is peakier
        for im, dens in zip(ims, (view.prior_density[p], view.aggregate_density[p])):
            im.set_data(dens)
            im.set_clim(0, top)
        pts.set_data(view.codes[p, :, 0], view.codes[p, :, 1])
        im_s.set_data(tile_images(view.samples[p, batch][: side * side], view.image_shape, ncols=side))
        axes[2].set_title(f"samples z ~ p(z), decoded (batch {batch})", fontsize=10)
        return (f"prior {prior}: prior mass where q(z) < p(z)/{view.hole_ratio:g} (holes): {100 * view.hole_mass[p]:.0f}%; "
                f"KL(q(z) || p(z)) = {view.kl_aggregate[p]:.2f}, KL(p(z) || q(z)) = {view.kl_prior[p]:.2f} nats")

    return SliderApp(fig, controls, redraw, name=name)


# ----------------------------------------------------------------------------------------
# part 2: labels steer the latents (M2)
# ----------------------------------------------------------------------------------------


@dataclass
class Analogies:
    """Per setting: each chosen test digit's style decoded with every label; every label with fixed styles."""

    settings: tuple
    picks: np.ndarray  # [M] test indices
    digits: np.ndarray  # [M, D]
    predicted: np.ndarray  # [P, M] q(y|x)'s label for each chosen digit
    by_style: np.ndarray  # [P, M, C, D]: digit m's style z = mu(x_m, y_m), decoded with y = 0..C-1
    by_label: np.ndarray  # [P, C, S, D]: label c with S styles z ~ N(0, I)
    m2_accuracy: np.ndarray  # [P]
    classifier_accuracy: np.ndarray  # [P]
    image_shape: tuple


@torch.no_grad()
def analogies(results: dict, x_test: torch.Tensor, y_test: torch.Tensor, picks, *, styles: int = 8,
              image_shape=(8, 8), generator: torch.Generator | None = None) -> Analogies:
    """Decode every picture :func:`labels_app` shows; the style of a digit is encoded with its true label."""
    settings = tuple(results)
    picks = np.asarray(picks)
    xs, ys = x_test[picks], y_test[picks]
    any_model = results[settings[0]].model
    c, dz = any_model.num_classes, any_model.latent_dim
    z_fixed = torch.randn(styles, dz, generator=generator)  # the same styles for every setting
    pred, bs, bl = [], [], []
    for k in settings:
        m = results[k].model
        z = m.style(xs, ys)  # [M, Dz]
        labels = torch.arange(c, device=z.device)
        bs.append(m.generate(z[:, None, :].expand(-1, c, -1), labels[None, :]).cpu().numpy())  # [M, C, D]
        zf = z_fixed.to(z)
        bl.append(m.generate(zf[None].expand(c, -1, -1), labels[:, None]).cpu().numpy())  # [C, S, D]
        pred.append(m.predict(xs).cpu().numpy())
    return Analogies(settings, picks, xs.cpu().numpy(), np.stack(pred), np.stack(bs), np.stack(bl),
                     np.array([results[k].m2_accuracy for k in settings]),
                     np.array([results[k].classifier_accuracy for k in settings]), tuple(image_shape))


def labels_app(an: Analogies, *, labels: str = "10", digit: int = 0, label: int = 3,
               name: str = "10_labels") -> SliderApp:
    """Accuracy against labels per class | one digit's style with every label | one label with many styles."""
    names = [setting_name(k) for k in an.settings]
    controls = {
        "labels": W.SelectionSlider(options=names, value=labels, description="labels/class"),
        "digit": W.Dropdown(options=[(f"test #{int(i)}", m) for m, i in enumerate(an.picks)], value=digit,
                            description="style of"),
        "label": W.IntSlider(value=label, min=0, max=an.by_label.shape[1] - 1, description="label y"),
    }
    fig = new_figure(11.0, 4.2)
    ax_a = fig.add_axes([0.05, 0.14, 0.24, 0.72])
    ax_s = fig.add_axes([0.34, 0.52, 0.64, 0.36])
    ax_l = fig.add_axes([0.34, 0.05, 0.64, 0.36])
    xs = np.arange(len(names))
    ax_a.plot(xs, 100 * an.m2_accuracy, "o-", label="M2's q(y|x)")
    ax_a.plot(xs, 100 * an.classifier_accuracy, "s--", label="labelled-only classifier")
    ax_a.set_xticks(xs, names)
    ax_a.set_xlabel("labels per class", fontsize=9)
    ax_a.set_ylabel("test accuracy (%)", fontsize=9)
    ax_a.tick_params(labelsize=8)
    ax_a.legend(fontsize=8, loc="upper left")
    mark = ax_a.axvline(0, color="red", lw=1.5, animated=True)
    shape = an.image_shape
    c = an.by_style.shape[2]
    im_s = ax_s.imshow(np.zeros((shape[0], shape[1] * (c + 1))), animated=True, **IMG)
    im_l = ax_l.imshow(np.zeros((shape[0], shape[1] * an.by_label.shape[2])), animated=True, **IMG)
    for ax in (ax_s, ax_l):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.title.set_animated(True)

    def strip(images) -> np.ndarray:
        return np.concatenate([im.reshape(shape) for im in images], axis=1)

    def redraw(labels: str, digit: int, label: int) -> str:
        p = names.index(labels)
        mark.set_xdata([p, p])
        im_s.set_data(strip([an.digits[digit], *an.by_style[p, digit]]))
        ax_s.set_title(f"left: test #{int(an.picks[digit])}; then its style z, decoded with y = 0, 1, ..., {c - 1}",
                       fontsize=9)
        im_l.set_data(strip(an.by_label[p, label]))
        ax_l.set_title(f"y = {label} fixed, {an.by_label.shape[2]} styles z ~ N(0, I)", fontsize=9)
        return (f"{labels} labels per class: M2 {100 * an.m2_accuracy[p]:.1f}% against the classifier's "
                f"{100 * an.classifier_accuracy[p]:.1f}%; M2 reads test #{int(an.picks[digit])} as a "
                f"{int(an.predicted[p, digit])}")

    return SliderApp(fig, controls, redraw, name=name)


def examples():
    """Both apps from tiny models (a few epochs / steps), built the way notebook 10 builds them."""
    from lvmlib.data import load_dataset
    from lvmlib.device import one_thread

    with one_thread():
        data = load_dataset("digits", binarize=True)
        g = torch.Generator().manual_seed(0)
        models = train_prior_pair(data.x_train, epochs=2)
        view = prior_views(models, data.x_train, data.x_test, data.y_test, grid=41, mc=2000, generator=g)
        recipe = dataclasses.replace(M2_RECIPE, steps=20)
        results = train_label_settings(data, (1, 10), recipe=recipe)
        an = analogies(results, data.x_test, data.y_test, [0, 1, 2], generator=g)
    yield "priors", prior_app(view, prior="mixture")
    yield "labels", labels_app(an, labels="1", digit=1)
