# %% [markdown]
# # 08 · Walking the latent space
#
# A trained VAE gives every digit a code, the encoder's mean $\mu_\phi(x)$, and turns every point $z$ of the
# latent space into an image, the decoder's mean $\mathbb E_\theta[x \mid z]$. That makes the latent space a
# place to walk around in:
#
# 1. **between two digits**: decode the points on a path from one code to another, along a straight line or
#    along a great circle (slerp), and see why the second exists;
# 2. **the whole map**: with a 2-D latent, the decoder's output on a grid and the test digits encoded in the
#    same plane;
# 3. **the codes against the prior**: does the cloud of codes look like $\mathcal N(0, I)$, as sampling from the
#    model assumes?
# 4. **one coordinate at a time**: what a single $z_i$ does, and the lecture's warning that a latent need not be a
#    factor anyone would name.
#
# We train two VAEs with notebook 07's recipe: a 2-D one for the map and an 8-D one for the rest.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt

import lvmlib
from lvmlib.widgets import nb08

# Networks this small gain nothing from a second intra-op thread, and on a busy machine two threads
# waiting for each other trained 10 to 40 times slower than one (measured on this course machine), so use one.
torch.set_num_threads(1)
lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

data = lvmlib.load_dataset("digits", binarize=True)
print(data)

# %% [markdown]
# Notebook 07's recipe (`lvmlib.vae.DIGITS_RECIPE`: one hidden layer of 128 units each way, Adam, learning rate
# $3 \cdot 10^{-3}$, batches of 64), for its full 100 epochs (about 5 seconds per model on a laptop CPU).
# `nb08.train_vaes` is notebook 07's training loop.

# %%
# NBVAL_IGNORE_OUTPUT
EPOCHS = 100
models, histories = nb08.train_vaes(data.x_train, (2, 8), EPOCHS, generator=g, progress=True, device=device)

# %%
for d, model in models.items():
    elbo = model.elbo(data.x_test, 100, generator=g).mean().item()
    print(f"VAE z={d}: held-out ELBO {elbo:.2f} nats per digit after {len(histories[d]['epoch'])} epochs")
vae2, vae8 = models[2], models[8]

# %% [markdown]
# ## 1. From one digit to another
#
# Encode two test digits, $z_0 = \mu_\phi(x_0)$ and $z_1 = \mu_\phi(x_1)$, and decode the points in between. The
# obvious path is the straight line
#
# $$z(t) = (1 - t)\, z_0 + t\, z_1, \qquad t \in [0, 1].$$
#
# `VAE.interpolate(x0, x1, steps, method)` does exactly this and decodes the path. The next cell computes every
# path the app below can show: two test digits of each class (20 digits, 400 ordered pairs), both methods,
# eleven values of $t$.

# %%
picks = nb08.per_class(data.y_test, 2)  # test indices: the first two digits of each class
paths = nb08.interpolation_paths(vae8, data.x_test, data.y_test, picks)
print(f"{len(picks)} digits, {len(picks) ** 2} ordered pairs x {len(paths.methods)} methods x {len(paths.t)} steps "
      f"= {paths.images[..., 0].size} decoded images")

# %% [markdown]
# ## 2. Why slerp exists: where Gaussian vectors live
#
# The prior puts most of its mass at the origin per unit of volume, but almost none of its samples land near
# the origin when $d$ is large. For $z \sim \mathcal N(0, I_d)$, $|z|^2 = \sum_i z_i^2$ is a sum of $d$ independent
# terms of mean 1, so
#
# $$\mathbb E|z|^2 = d, \qquad |z| \approx \sqrt d \pm \tfrac{1}{\sqrt 2}:$$
#
# the samples live on a thin shell of radius $\sqrt d$. The midpoint of two independent samples is
# $\tfrac12(z_0 + z_1) \sim \mathcal N(0, \tfrac12 I)$, with norm about $\sqrt{d/2} \approx 0.71 \sqrt d$: *inside* the
# shell, in a region the prior itself almost never produces. A decoder trained on codes from the shell has
# seen few such points. **Spherical linear interpolation** (slerp; Shoemake 1985, White 2016) walks along the
# great circle instead,
#
# $$z(t) = \frac{\sin\big((1 - t)\,\omega\big)}{\sin \omega}\, z_0 + \frac{\sin(t\, \omega)}{\sin \omega}\, z_1,
#   \qquad \cos \omega = \frac{\langle z_0, z_1 \rangle}{|z_0|\, |z_1|},$$
#
# which keeps the norm at $|z_0|$ when $|z_1| = |z_0|$ and, in general, near the endpoints' norms. Below, 2000
# pairs of prior samples in each dimension: the norms divided by $\sqrt d$.

# %%
norms = nb08.gaussian_norms((2, 8, 64, 512), 2000, generator=g, device=device)
print(f"{'d':>4s} {'|z|/sqrt(d)':>18s} {'linear midpoint':>16s} {'slerp midpoint':>15s} "
      f"{'prior draws shorter than the median linear midpoint':>52s}")
for d, nm in norms.items():
    below = (nm["norm"] < np.median(nm["linear"])).mean()
    print(f"{d:4d} {nm['norm'].mean():9.2f} ± {nm['norm'].std():.2f} {np.median(nm['linear']):16.2f} "
          f"{np.median(nm['slerp']):15.2f} {100 * below:51.1f}%")
assert (norms[512]["norm"] < np.median(norms[512]["linear"])).mean() < 0.001
assert abs(np.median(norms[512]["linear"]) - 2**-0.5) < 0.01 and abs(np.median(norms[512]["slerp"]) - 1) < 0.01
fig = nb08.norms_figure(norms)
lvmlib.plotting.savefig(fig, "08_gaussian_norms")

# %% [markdown]
# In 2 dimensions the midpoints overlap the prior's draws and the distinction barely matters; in 512 no prior
# draw out of 2000 is as short as a typical linear midpoint. Our latent has 8 dimensions, in between, and the
# encoder's means are a little shorter than prior draws (each $q_\phi(z \mid x)$ also has a spread; section 5).
# Expect a modest effect on average and a large one for codes that point in opposite directions.
#
# ## 3. Linear against slerp, side by side
#
# Pick the two digits and move $t$. The strips show the whole path, eleven steps from $x_0$'s code to $x_1$'s;
# the red box is the current $t$, decoded large on the right for both paths. The lower panel is the norm
# $|z(t)|$ along each path against the prior's shell (grey: where 90% of the draws from $\mathcal N(0, I_8)$ fall).
# The linear path sags towards the origin in the middle, most for digits whose codes point in very different
# directions; slerp stays at the endpoints' norm. The app opens on such a pair, a 0 and a 1 whose codes point
# in nearly opposite directions: halfway, the linear path is close to the origin and decodes to a grey blur,
# while the slerp point is still a digit. Both paths start and end at the reconstructions of the two digits
# (not the digits themselves: the decoder's mean at $\mu_\phi(x)$ is a blurred version).

# %%
# NBVAL_IGNORE_OUTPUT
nb08.interpolation_app(paths, start=1, end=3, t=0.5)

# %% [markdown]
# Checks, on every pair the app can show: each path starts and ends at the decoded endpoints, i.e. at
# `vae8.reconstruct` of the two digits, for both methods; and at $t = \tfrac12$ the slerp point is never shorter
# than the linear one (it is the linear midpoint divided by $\cos(\omega/2) \le 1$).

# %%
recon = vae8.reconstruct(data.x_test[picks]).numpy()  # [20, 64], computed afresh
first, last = paths.images[:, :, :, 0], paths.images[:, :, :, -1]  # [2, 20, 20, 64] each
err_first = np.abs(first - recon[None, :, None]).max()
err_last = np.abs(last - recon[None, None, :]).max()
mid = paths.index(0.5)
lin_mid, sl_mid = paths.norms[0, :, :, mid], paths.norms[1, :, :, mid]
code_norms = paths.norms[0, :, :, 0][:, 0]  # |mu(x)| of the 20 digits
off = ~np.eye(len(picks), dtype=bool)
print(f"800 paths start and end at the reconstructions (largest difference below 1e-5: {max(err_first, err_last) < 1e-5})")
print(f"|mu(x)| of the 20 digits: median {np.median(code_norms):.2f} (sqrt(8) = {8 ** 0.5:.2f}); "
      f"midpoint norm / mean endpoint norm, median over the 380 pairs of different digits: "
      f"linear {np.median(lin_mid[off] / ((code_norms[:, None] + code_norms[None, :]) / 2)[off]):.2f}, "
      f"slerp {np.median(sl_mid[off] / ((code_norms[:, None] + code_norms[None, :]) / 2)[off]):.2f}")
assert err_first < 1e-5 and err_last < 1e-5
assert np.all(sl_mid >= lin_mid - 1e-5)

# %% [markdown]
# ## 4. A 2-D latent: the whole map at once
#
# With two latent dimensions we can look at everything. Left: the decoder's mean $\mathbb E[x \mid z]$ on a
# $13 \times 13$ grid of $z \in [-3, 3]^2$, each image drawn at its $z$. Middle: the 450 test digits encoded,
# $\mu_\phi(x)$, coloured by their label (the large digits mark each class's median code; the dashed circles
# are radius 1 and 2 of the prior). The two sliders move the red cross over both; on the right, the image it
# decodes to (every slider position was decoded in advance: $61 \times 61$ images).
#
# Things to look for: classes occupy regions, and neighbouring regions morph into each other (walk from the 0s
# towards the 6s along the top); the decoder produces an image for every $z$, even out where no code lies,
# since every $z$ is a component of the infinite mixture (mostly digit-like; the blurry ones sit where classes
# meet); and the encoded digits fill a disc roughly the size of the prior, which the next section checks with
# numbers.

# %%
lmap = nb08.latent_map(vae2, data.x_test, data.y_test)
print(f"{lmap.images.shape[0]} x {lmap.images.shape[1]} slider positions decoded; "
      f"{len(lmap.codes)} test digits encoded")

# %%
# NBVAL_IGNORE_OUTPUT
nb08.latent_map_app(lmap, z1=0.0, z2=0.0)

# %% [markdown]
# ## 5. The codes against the prior: the aggregate posterior
#
# Sampling from a VAE draws $z \sim \mathcal N(0, I)$ and decodes. That only gives good digits if the codes the
# decoder was trained on cover the prior: the **aggregate posterior**, the encoder's distribution pooled over
# the data,
#
# $$q_\phi(z) = \frac1N \sum_{n=1}^N q_\phi(z \mid x_n),$$
#
# should be close to $p(z)$. The ELBO pushes that way: its term $-\mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z))$ pulls every
# $q_\phi(z \mid x)$ towards the prior. (It need not be exact: the best model for the data may leave holes.) A
# mixture's moments are exact: with $\mu_n, \sigma_n$ the encoder's outputs,
#
# $$\mathbb E_{q_\phi}[z] = \frac1N \sum_n \mu_n, \qquad
#   \operatorname{Cov}_{q_\phi}[z] = \frac1N \sum_n \operatorname{diag}\sigma_n^2 + \frac1N \sum_n (\mu_n - \bar\mu)(\mu_n - \bar\mu)^\top .$$
#
# On the 450 held-out digits, we check that every coordinate of the mean is within **0.25** of 0 (about 5
# standard errors of a mean of 450 unit-variance numbers) and every entry of the covariance within **0.3** of
# the identity's.

# %%
for d, model in models.items():
    mean, cov = nb08.aggregate_posterior(model, data.x_test)
    dev = np.abs(cov - np.eye(d))
    print(f"VAE z={d}: mean of q(z) {np.array2string(mean, precision=2, suppress_small=True)}")
    print(f"         diagonal of Cov {np.array2string(np.diag(cov), precision=2)}; "
          f"largest |Cov - I| {dev.max():.2f}; largest |mean| {np.abs(mean).max():.2f}")
    assert np.abs(mean).max() < 0.25 and dev.max() < 0.3

# %% [markdown]
# ## 6. One coordinate at a time
#
# With 8 latents we cannot see the whole space, but we can move one coordinate while keeping the others at a
# digit's code: $z = \mu_\phi(x)$ with $z_i$ replaced by a value $v$. In the app, the grid shows all eight
# coordinates swept from $-3$ to $3$ (row $i$ sweeps $z_i$) for the chosen digit, with red dots at the digit's own
# values; the sliders pick a coordinate and a value, decoded large on the right.
#
# Next to each coordinate: its variance over the test set of codes (a coordinate the encoder never uses would
# have variance near 0 and do nothing when moved), and which fraction of that variance the label explains
# (between-class variance over total; 100% would mean the coordinate is a function of the class).

# %%
sweeps = nb08.coordinate_sweeps(vae8, data.x_test, data.y_test, picks)
for i, (act, share) in enumerate(zip(sweeps.activity, sweeps.share), start=1):
    print(f"z_{i}: variance of mu_i(x) over the test set {act:.2f}, explained by the label {100 * share:3.0f}%")

# %%
# NBVAL_IGNORE_OUTPUT
nb08.coordinate_app(sweeps, digit=6, coordinate=4, value=-2.0)

# %% [markdown]
# Moving one coordinate changes several things at once. For the 3 the app opens with, some rows turn it into
# another digit at one end (a 6, a 9, a 5), others mostly change its thickness or slant and keep it a 3; other
# digits respond to the same coordinates differently. No coordinate is "the digit's class" (the label explains
# part of every coordinate's variance, all of none), and none is "the slant". This is the lecture's warning: **the latents
# capture the factors of variation that help explain the data, not necessarily the factors people would name**.
# There is even a reason in the model: $\mathcal N(0, I)$ looks the same from every direction, so rotating $z$
# by any rotation $R$ and letting the decoder undo it, $f_\theta(R^\top z)$, gives exactly the same $p_\theta(x)$. The
# likelihood cannot prefer the coordinate axes; only details such as the diagonal encoder make some directions
# slightly special.
#
# **Steering latents with labels.** If some digits come with labels, the model can be told what one latent
# means. A semi-supervised VAE (Kingma, Rezende, Mohamed and Welling 2014) adds the class $y$ as a second latent,
# $p(y)\, p(z)\, p_\theta(x \mid y, z)$: for labelled digits $y$ is observed and the ELBO is over $z$ alone; for
# unlabelled ones the encoder also proposes $q_\phi(y \mid x)$ and the ELBO sums over the ten classes. Because $y$
# must carry the class, $z$ is left with what the class does not explain, the style; fixing $z$ and changing $y$
# then writes the same style as another digit. Labels turn "some direction in $z$" into a named knob.
#
# ## What to take away
#
# - Interpolating between codes and decoding shows what the model puts between two digits; the endpoints are the
#   reconstructions.
# - Gaussian vectors in $d$ dimensions live near the shell $|z| \approx \sqrt d$; straight lines between codes cut
#   inside it, slerp follows it. The effect grows with $d$.
# - In a 2-D latent, classes form regions, and the decoder fills the whole plane with digit-like images.
# - The aggregate posterior of the encoded test digits is close to the prior (mean near 0, covariance near $I$),
#   which is what makes sampling $z \sim \mathcal N(0, I)$ work.
# - Single latent coordinates mix several human-nameable factors; the prior's rotation symmetry means nothing
#   forces them to align with ours. Labels (semi-supervised learning) can steer a latent to a meaning.
