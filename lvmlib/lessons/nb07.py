"""Notebook 07, the variational autoencoder: a network instead of a lookup table, trained once
per latent size, then compared in nats with the mixture of Bernoullis and independent pixels.

The notebook trains one VAE per latent size (:func:`lvmlib.vae.train_vaes` is the same loop),
scores them on the held-out digits (:func:`lvmlib.vae.score_vaes`: ELBO and an importance-sampled
estimate of log p(x) with the encoder as proposal) and the lookup-table baselines
(:func:`lvmlib.vae.baseline_scores`), then :func:`gallery` decodes everything the latent-size slider
shows.  :func:`vae_app` only picks from the gallery: no network runs in its callback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ipywidgets as W
import numpy as np
import torch

from lvmlib.plotting import describe, new_figure, tile_images
from lvmlib.vae import LATENT_SIZES, baseline_scores, independent_pixels, per_class, score_vaes, train_vaes
from lvmlib.widgets.app import SliderApp

__all__ = ["MIXTURE_SIZES", "Gallery", "gallery", "vae_app", "curves_figure", "examples", "ProposalScore",
           "proposal_scores"]

#: numbers of components of the mixture-of-Bernoullis baselines.
MIXTURE_SIZES = (10, 50)


@dataclass
class ProposalScore:
    """The encoder as an importance-sampling proposal on B points, from one set of k log-weights per point.

    Attributes (float64 tensors [B] on the CPU):
        log_p: log p-hat_k(x) = logsumexp_j log w_j - log k (notebook 05's estimate, a lower bound in expectation);
        elbo: the mean of the same k log-weights (an ELBO estimate with k samples);
        ess: the effective sample size (sum w)^2 / sum w^2 of the k weights, in [1, k] (notebook 05).
    """

    k: int
    log_p: torch.Tensor
    elbo: torch.Tensor
    ess: torch.Tensor


@torch.no_grad()
def proposal_scores(model, x: torch.Tensor, num_samples: int = 1000, *, chunk_size: int = 250,
                    generator: torch.Generator | None = None) -> ProposalScore:
    """log p-hat, ELBO and ESS of every point of x [B, Dx] from the same ``num_samples`` draws z_j ~ q(z | x)
    of ``model``'s encoder (:func:`lvmlib.inference.log_weights`, chunked over samples)."""
    from lvmlib import inference

    x = x.to(next(model.parameters()).device)
    log_w = inference.log_weights(x, model, model.encoder, num_samples, generator=generator,
                                  chunk_size=chunk_size).double()  # [k, B]
    log_p = torch.logsumexp(log_w, 0) - np.log(num_samples)
    return ProposalScore(num_samples, log_p.cpu(), log_w.mean(0).cpu(), inference.effective_sample_size(log_w).cpu())


@dataclass
class Gallery:
    """Everything the latent-size slider shows, decoded once (NumPy arrays, flat images)."""

    sizes: tuple
    image_shape: tuple
    data: np.ndarray  # [n, D] test digits shown
    labels: np.ndarray  # [n]
    recon: dict  # d -> [n, D] reconstructions (pixel probabilities)
    samples: dict  # d -> [m, D] decoded means of z ~ p(z)
    valid: dict  # d -> [epochs] held-out ELBO per epoch
    train: dict  # d -> [epochs] training bound per epoch
    scores: dict  # d -> lvmlib.vae.VAEScore
    baselines: dict  # name -> MeanSE (mean, se)
    colors: dict = field(default_factory=dict)  # d -> colour


@torch.no_grad()
def gallery(models: dict, histories: dict, scores: dict, baselines: dict, x_test: torch.Tensor,
            y_test: torch.Tensor, image_shape=(8, 8), *, per: int = 2, num_samples: int = 40,
            generator: torch.Generator | None = None) -> Gallery:
    """Decode once what the app shows: reconstructions of ``per`` test digits of each class,
    ``num_samples`` samples per model (decoder means, pixel probabilities), the curves."""
    idx = per_class(y_test, per)
    x = x_test[idx]
    sizes = tuple(sorted(models))
    return Gallery(
        sizes=sizes, image_shape=tuple(image_shape), data=x.cpu().numpy(), labels=np.asarray(y_test)[idx],
        recon={d: models[d].reconstruct(x).cpu().numpy() for d in sizes},
        samples={d: models[d].sample(num_samples, generator=generator).cpu().numpy() for d in sizes},
        valid={d: np.asarray(histories[d]["valid"]) for d in sizes},
        train={d: np.asarray(histories[d]["train"]) for d in sizes},
        scores=dict(scores), baselines=dict(baselines),
        colors={d: f"C{i}" for i, d in enumerate(sizes)},
    )


def _score_rows(gal: Gallery) -> list[tuple[str, object]]:
    """Rows of the score panel, top to bottom: (label, key) with key a baseline name or a size."""
    rows = [(name, name) for name in gal.baselines]
    rows += [(f"VAE z={d}", d) for d in gal.sizes]
    return rows


def vae_app(gal: Gallery, *, latent_size: int | None = None, name: str = "07_latent_size") -> SliderApp:
    """One slider, the latent size: reconstructions, samples, where the model stands in nats,
    and its training curve, all for the VAE of that size (trained once, before the app)."""
    sizes = gal.sizes
    latent_size = sizes[0] if latent_size is None else latent_size
    controls = {"latent_size": W.SelectionSlider(options=list(sizes), value=latent_size, description="latent size")}
    ncols = len(gal.data) // 2 if len(gal.data) % 2 == 0 else len(gal.data)
    fig = new_figure(10.5, 4.9)

    # left: the test digits (static), their reconstructions and samples (animated images)
    ax_data = fig.add_axes([0.01, 0.70, 0.46, 0.22])
    ax_rec = fig.add_axes([0.01, 0.40, 0.46, 0.22])
    ax_smp = fig.add_axes([0.01, 0.02, 0.46, 0.30])
    kw = dict(cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax_data.imshow(tile_images(gal.data, gal.image_shape, ncols=ncols), **kw)
    ax_data.set_title("held-out test digits (two of each class)", fontsize=10)
    first = sizes[0]
    im_rec = ax_rec.imshow(tile_images(gal.recon[first], gal.image_shape, ncols=ncols), animated=True, **kw)
    ncols_s = 10 if len(gal.samples[first]) % 10 == 0 else None
    im_smp = ax_smp.imshow(tile_images(gal.samples[first], gal.image_shape, ncols=ncols_s), animated=True, **kw)
    for ax in (ax_data, ax_rec, ax_smp):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.title.set_fontsize(10)
    ax_rec.title.set_animated(True)
    ax_smp.title.set_animated(True)

    # right top: held-out log p(x) per model, nats per digit
    ax_sc = fig.add_axes([0.63, 0.60, 0.35, 0.33])
    rows = _score_rows(gal)
    ys = np.arange(len(rows))[::-1]
    for y, (label, key) in zip(ys, rows):
        if key in gal.baselines:
            ax_sc.plot(gal.baselines[key][0], y, "s", color="0.3", ms=6)
        else:
            s = gal.scores[key]
            c = gal.colors[key]
            ax_sc.plot([s.elbo, s.log_p], [y, y], "-", color=c, lw=1.5)
            ax_sc.plot(s.log_p, y, "o", color=c, ms=6)
            ax_sc.plot(s.elbo, y, "o", mfc="white", mec=c, ms=6)
    ax_sc.set_yticks(ys, [label for label, _ in rows], fontsize=9)
    values = [v[0] for v in gal.baselines.values()] + [v for s in gal.scores.values() for v in (s.elbo, s.log_p)]
    lo, hi = min(values), max(values)
    pad = 0.08 * (hi - lo) + 0.1
    ax_sc.set_xlim(lo - pad, hi + pad)
    ax_sc.set_ylim(-0.7, len(rows) - 0.3)
    k = next(iter(gal.scores.values())).k
    ax_sc.set_xlabel(f"held-out log p(x), nats per digit (higher is better)\n"
                     f"filled: exact, or importance sampling k={k}; open: ELBO", fontsize=9)
    ax_sc.tick_params(labelsize=9)
    ax_sc.grid(axis="x", alpha=0.3)
    band = ax_sc.axhspan(-0.45, 0.45, color="gold", alpha=0.35, zorder=0, animated=True)
    row_of = {key: y for y, (_, key) in zip(ys, rows)}

    # right bottom: training curves, all sizes thin, the chosen one thick
    ax_cv = fig.add_axes([0.63, 0.09, 0.35, 0.28])
    for d in sizes:
        ep = np.arange(1, len(gal.valid[d]) + 1)
        ax_cv.plot(ep, gal.valid[d], color=gal.colors[d], lw=0.8, alpha=0.5)
    n_ep = max(len(v) for v in gal.valid.values())
    ends = [float(np.min(v[-max(1, len(v) // 2):])) for v in gal.valid.values()]
    tops = [float(np.max(v)) for v in gal.valid.values()] + [float(np.max(t)) for t in gal.train.values()]
    ax_cv.set(xlim=(0, n_ep + 1), ylim=(min(ends) - 6, max(tops) + 1))
    ax_cv.set_xlabel("epoch", fontsize=9)
    ax_cv.set_ylabel("ELBO, nats", fontsize=9)
    ax_cv.tick_params(labelsize=9)
    ax_cv.grid(alpha=0.3)
    (line_valid,) = ax_cv.plot([], [], lw=2.2, animated=True)
    (line_train,) = ax_cv.plot([], [], "--", lw=1.2, color="k", animated=True)
    proxies = [ax_cv.plot([], [], color="0.4", lw=2.2, label="held-out ELBO")[0],
               ax_cv.plot([], [], "--", color="k", lw=1.2, label="training bound")[0]]
    ax_cv.legend(handles=proxies, loc="lower right", fontsize=8)
    ax_cv.title.set_animated(True)

    def redraw(latent_size: int) -> str:
        d = latent_size
        im_rec.set_data(tile_images(gal.recon[d], gal.image_shape, ncols=ncols))
        im_smp.set_data(tile_images(gal.samples[d], gal.image_shape, ncols=ncols_s))
        ax_rec.set_title(f"their reconstructions, VAE z = {d}", fontsize=10)
        ax_smp.set_title(f"samples x ~ p(x) (decoder means), VAE z = {d}", fontsize=10)
        y = row_of[d]
        band.set_y(y - 0.45)  # a Rectangle in axes-x, data-y coordinates
        ep = np.arange(1, len(gal.valid[d]) + 1)
        line_valid.set_data(ep, gal.valid[d])
        line_valid.set_color(gal.colors[d])
        line_train.set_data(np.arange(1, len(gal.train[d]) + 1), gal.train[d])
        s = gal.scores[d]
        ax_cv.set_title(f"z = {d}: held-out ELBO {s.elbo:.2f} after {len(ep)} epochs", fontsize=10)
        best = max(gal.baselines.items(), key=lambda kv: kv[1][0])
        return (f"<b>VAE z = {d}</b>: held-out ELBO {s.elbo:.2f}, log p(x) &asymp; {s.log_p:.2f} "
                f"(importance sampling, k = {s.k}), gap {s.gap:.2f} nats per digit; "
                f"best lookup table ({best[0]}) {best[1][0]:.2f}")

    return SliderApp(fig, controls, redraw, name=name)


def curves_figure(histories: dict, colors: dict | None = None):
    """Training bound and held-out ELBO per epoch for every latent size (a pyplot figure)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4), sharey=True)
    for i, (d, h) in enumerate(sorted(histories.items())):
        c = (colors or {}).get(d, f"C{i}")
        axes[0].plot(h["epoch"], h["train"], color=c, label=f"z = {d}")
        if h["valid"]:
            axes[1].plot(h["epoch"], h["valid"], color=c, label=f"z = {d}")
    lows = [min(h["valid"][len(h["valid"]) // 2:] or h["train"]) for h in histories.values()]
    highs = [max(max(h["train"]), max(h["valid"] or h["train"])) for h in histories.values()]
    axes[0].set(title="training ELBO (mean over the epoch's batches)", xlabel="epoch", ylabel="nats per digit",
                ylim=(min(lows) - 6, max(highs) + 1))
    axes[1].set(title="held-out ELBO (test digits, one sample)", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(loc="lower right")
    fig.tight_layout()
    return describe(fig, "Training curves, one colour per latent size: the training bound and the held-out ELBO per "
                       "epoch; the bounds rise quickly in the first epochs, then level off.")


def examples():
    """The app as notebook 07 builds it, from tiny models trained for a few epochs."""
    from lvmlib.data import load_dataset
    from lvmlib.device import one_thread
    from lvmlib.mixtures import BernoulliMixture

    with one_thread():
        g = torch.Generator().manual_seed(0)
        data = load_dataset("digits", binarize=True)
        models, histories = train_vaes(data.x_train, LATENT_SIZES, 3, x_valid=data.x_test, generator=g,
                                       progress=False)
        scores = score_vaes(models, data.x_test, num_samples=50, elbo_samples=10, generator=g)
        mixtures = {k: BernoulliMixture(k, random_state=0).fit(data.x_train) for k in MIXTURE_SIZES}
        baselines = baseline_scores(independent_pixels(data.x_train), mixtures, data.x_test)
        gal = gallery(models, histories, scores, baselines, data.x_test, data.y_test, data.image_shape, generator=g)
    yield "latent_size", vae_app(gal, latent_size=2)
