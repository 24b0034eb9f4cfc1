# %% [markdown]
# # 08 · Walking the latent space
#
# **About 50 minutes** (training the two VAEs takes about a minute; reading and the apps 30, exercises 20).
#
# **You will learn to**
# - interpolate between two codes along a straight line and along a great circle (slerp), and explain with the
#   norms of Gaussian vectors why the second exists;
# - read a 2-D latent space as a map: the decoder's images on a grid and the encoded test digits;
# - judge the aggregate posterior against the prior by its density, not only its first two moments;
# - see that single latent coordinates need not be factors anyone would name.
#
# **Before this:** notebook 07 (the VAE and its training recipe).
# **Exercises:** 8.1 is code (slerp: 10 min, ★★☆), with a check cell that names common mistakes and a ladder
# of hints; **the interpolation app then runs your slerp** (every slerp path it shows is built with it once
# the check passes, with `lvmlib`'s until then). 8.2 is a short derivation (5 min, ★★☆); 8.3 and 8.4 are
# predictions you commit to, then check with the sliders (3 min each, ★☆☆).
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

# %% tags=["parameters"]
# The lecture's scale is one switch away (a GPU or Colab's helps): dataset = "fashion-mnist" (28x28, 60,000 images;
# offline from Debian's dataset-fashion-mnist package, else OpenML) or "mnist" (OpenML). n_images keeps the first n
# training images (and n // 4 test images; None: all); epochs is the training length of the two VAEs. Numbers quoted
# in the text are those of the default, the 8x8 digits.
dataset = "digits"
n_images = None
epochs = 100

# %%
import math

import numpy as np
import torch
import matplotlib.pyplot as plt

import lvmlib
from lvmlib import exercises
from lvmlib.lessons import nb08
from lvmlib.vae import aggregate_moments, per_class, train_vaes

# Networks this small gain nothing from a second intra-op thread, and on a busy machine two threads
# waiting for each other trained 10 to 40 times slower than one (measured on this course machine), so use one.
torch.set_num_threads(1)
lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

data = lvmlib.load_dataset(dataset, binarize=True, n_images=n_images)
print(data)

# %% [markdown]
# Notebook 07's recipe (`lvmlib.vae.DIGITS_RECIPE`: one hidden layer of 128 units each way, Adam, learning rate
# $3 \cdot 10^{-3}$, batches of 64), for its full 100 epochs (about 5 seconds per model on a laptop CPU).
# `train_vaes` is notebook 07's training loop.

# %%
# NBVAL_IGNORE_OUTPUT
EPOCHS = epochs
models, histories = train_vaes(data.x_train, (2, 8), EPOCHS, generator=g, progress=True, device=device)

# %%
# NBVAL_TOLERANCE abs=0.1
# (measured: rebuilt with torch's plain CPU kernels, ATEN_CPU_CAPABILITY=default, these moved by 0.01)
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
# `VAE.interpolate(x0, x1, steps, method)` does exactly this and decodes the path. The app of section 3 shows
# every such path between two test digits of each class, along the line and along the great circle of the next
# section, built with your slerp (exercise 8.1).

# %% [markdown]
# ## 2. Why slerp exists: where Gaussian vectors live
#
# The prior's density peaks at the origin, but almost none of its samples land near the origin when $d$ is
# large: there is very little volume near the origin. For $z \sim \mathcal N(0, I_d)$, $|z|^2 = \sum_i z_i^2$ is a sum of $d$ independent
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
# ### Exercise 8.1: slerp (10 min, ★★☆)
#
# Write `slerp(z0, z1, t)` for two codes of shape `[d]` and a number `t` in $[0, 1]$, returning the point of
# shape `[d]` on the great-circle path of the formula above. Two details matter: at $t = 0$ and $t = 1$ it must
# return the endpoints themselves (norms included), and when $z_0$ and $z_1$ point the same way the angle is
# $\omega = 0$ and $\sin \omega = 0$: fall back to the straight line there (the two paths agree as $\omega \to 0$),
# instead of dividing 0 by 0. The check tries orthogonal and 8-D codes, $t = 0$ and $1$, and parallel endpoints,
# and names the usual mistakes. Once it passes, the app below builds its slerp paths with your function.

# %%
def slerp(z0, z1, t):
    """Spherical linear interpolation: z0, z1 [d], t a number in [0, 1] -> [d]."""
    ### BEGIN SOLUTION
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if torch.sin(omega) < 1e-6:                       # (anti)parallel: no unique great circle
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)
    ### END SOLUTION

# %%
exercises.check_slerp(slerp)

# %%
# NBVAL_IGNORE_OUTPUT
exercises.hints(
    "The angle first: its cosine is the dot product of `z0` and `z1` over the product of their norms. Rounding "
    "can put it a hair above 1 for parallel vectors, and `torch.arccos` of that is NaN: clamp it to [-1, 1].",
    "When `torch.sin(omega)` is tiny (parallel or opposite endpoints), return the straight line from `z0` to "
    "`z1` at `t` (plain linear interpolation) instead of dividing by it.",
    "`return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)`")

# %%
slerp_used = exercises.choose(exercises.check_slerp(slerp), slerp, exercises.nb08.slerp)
slerp_used

# %% [markdown]
# The next cell computes every path the app below can show, with the slerp chosen above: two test digits of
# each class (20 digits, 400 ordered pairs), both methods, eleven values of $t$ (and 101 for the norm curves).

# %%
picks = per_class(data.y_test, 2)  # test indices: the first two digits of each class
paths = nb08.interpolation_paths(vae8, data.x_test, data.y_test, picks, slerp=slerp_used)
print(f"{len(picks)} digits, {len(picks) ** 2} ordered pairs x {len(paths.methods)} methods x {len(paths.t)} steps "
      f"= {paths.images[..., 0].size} decoded images; the slerp ran {slerp_used.calls} times")

# %% [markdown]
# ### Exercise 8.2: a short derivation (5 min, ★★☆)
#
# (a) For independent $z_0, z_1 \sim \mathcal N(0, I_d)$, show that the linear midpoint $\tfrac12(z_0 + z_1)$ is
# $\mathcal N(0, \tfrac12 I_d)$ and that its squared norm has mean $d/2$. (b) Show that slerp keeps the norm when
# $|z_0| = |z_1| = r$: $|z(t)| = r$ for every $t$. (Hint: write $z_1 = r(\cos\omega\, u + \sin\omega\, v)$ with
# $u = z_0 / r$ and $v$ a unit vector orthogonal to $u$.) (Write your answer down; the solutions edition has ours.)

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# (a) A sum of independent Gaussians is Gaussian, with mean $0$ and covariance $\tfrac14 (I + I) = \tfrac12 I$;
# so $\mathbb E|\tfrac12(z_0 + z_1)|^2 = \sum_i \operatorname{Var} = d/2$, a norm of about $\sqrt{d/2} \approx 0.71\sqrt d$.
# (b) $z(t) = \frac{r}{\sin\omega}\big(\sin((1-t)\omega)\, u + \sin(t\omega)(\cos\omega\, u + \sin\omega\, v)\big)$. The
# coefficient of $u$ is $\frac{r}{\sin\omega}\big(\sin((1-t)\omega) + \sin(t\omega)\cos\omega\big) = r\cos(t\omega)$ (expand
# $\sin(\omega - t\omega)$), and that of $v$ is $r\sin(t\omega)$. So $z(t) = r(\cos(t\omega)\, u + \sin(t\omega)\, v)$, of
# norm $r$: the point turns by the angle $t\omega$ in the plane of $z_0$ and $z_1$.
#
# </details>

# %% [markdown]
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
# ### Exercise 8.3: predict, then move the slider (3 min, ★☆☆)
#
# The app opens on a 0 and a 1 whose codes point in nearly opposite directions. **Before you move anything,
# predict:** if you pick two digits of the same class instead (say the two 1s), will the linear and slerp
# images at $t = \tfrac12$ differ more or less than for the 0 and the 1? And along the linear path, where is the
# norm $|z(t)|$ smallest? Commit to the first answer below, then try both pairs.

# %%
# NBVAL_IGNORE_OUTPUT
exercises.predict("For two digits of the same class, will the linear and slerp images at t = 1/2 differ more or less "
                  "than for the 0 and the 1?", ["more", "less", "the same"], 1,
                  "Less: codes of one class point in similar directions, the angle between them is small, and slerp's "
                  "midpoint is the linear one divided by cos(omega / 2), close to 1.")

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# Less. Codes of the same class point in similar directions, the angle $\omega$ between them is small, and
# slerp's midpoint is the linear one divided by $\cos(\omega/2) \approx 1$: the two paths nearly coincide and
# decode to nearly the same images. For the 0 and the 1, $\omega$ is close to $180°$, $\cos(\omega/2)$ is small,
# and the linear midpoint falls deep inside the shell, near the origin: a grey blur. Along the linear path the
# norm is smallest in the middle (at exactly $t = \tfrac12$ when the endpoints have equal norms).
#
# </details>

# %% [markdown]
# Checks, on every pair the app can show: each path starts and ends at the decoded endpoints, i.e. at
# `vae8.reconstruct` of the two digits, for both methods; and at $t = \tfrac12$ the slerp point is never shorter
# than the linear one (it is the linear midpoint divided by $\cos(\omega/2) \le 1$).

# %%
# NBVAL_TOLERANCE abs=0.05
# (measured: unchanged with ATEN_CPU_CAPABILITY=default)
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
# NBVAL_TOLERANCE abs=0.15
# (the 2-D model's covariance is the sensitive number: its diagonal printed [1.15 1.01] here, [1.09 0.99] with
# ATEN_CPU_CAPABILITY=default, and [1.11 0.99] / [1.15 1.01] on two other machines; every number is printed
# with a fixed number of decimals, so a 1.00 stays '1.00' and only the digits move)
for d, model in models.items():
    mean, cov = aggregate_moments(model, data.x_test)
    dev = np.abs(cov - np.eye(d))
    print(f"VAE z={d}: mean of q(z) [{' '.join(f'{m:+.2f}' for m in mean)}]")
    print(f"         diagonal of Cov [{' '.join(f'{c:.2f}' for c in np.diag(cov))}]; "
          f"largest |Cov - I| {dev.max():.2f}; largest |mean| {np.abs(mean).max():.2f}")
    assert np.abs(mean).max() < 0.25 and dev.max() < 0.3

# %% [markdown]
# Two moments are a weak test, though: very different distributions share a mean and a covariance, and what
# sampling needs is that $p(z)$ puts little mass where $q_\phi(z)$ has none (there the decoder was never
# trained). With a 2-D latent we can look at the whole density. The aggregate posterior of the 450 test digits
# is a mixture of 450 Gaussians, so its log density is a `logsumexp` over them, exactly; below it is drawn next
# to the prior's, and two numbers summarize the difference:
#
# - $\mathrm{KL}(q_\phi(z) \,\|\, p(z)) = \mathbb E_{q_\phi}[\log q_\phi(z) - \log p(z)]$, by Monte Carlo (draw a digit, then
#   $z \sim q_\phi(z \mid x)$), against the KL of the Gaussian with the same two moments, which is all the moment
#   check above can see;
# - the share of **prior** draws that land where $q_\phi(z)$ is less than a tenth of $p(z)$: the holes that
#   sampling $z \sim \mathcal N(0, I)$ falls into.

# %%
# NBVAL_TOLERANCE abs=0.05
# (Monte Carlo over 40 x 450 and 20 000 draws, standard errors about 0.005; ATEN_CPU_CAPABILITY=default moved the KL by 0.02)
with torch.no_grad():
    q2 = vae2.encoder(data.x_test)                                       # batch [450], event [2]
    def log_q_agg(z):                                                    # z [..., 2] -> [...]
        return torch.logsumexp(q2.log_prob(z.unsqueeze(-2)), dim=-1) - math.log(len(data.x_test))
    zq = lvmlib.distributions.sample(q2, (40,), generator=g)                # z ~ q(z): [40, 450, 2]
    kl_agg = (log_q_agg(zq) - vae2.prior().log_prob(zq)).mean().item()
    mean2, cov2 = (torch.as_tensor(a) for a in aggregate_moments(vae2, data.x_test))
    kl_moments = 0.5 * (torch.trace(cov2) + mean2 @ mean2 - 2 - torch.logdet(cov2)).item()
    zp = lvmlib.distributions.sample(vae2.prior(), (20_000,), generator=g)  # z ~ p(z): [20000, 2]
    holes = (log_q_agg(zp) < vae2.prior().log_prob(zp) + math.log(0.1)).double().mean().item()
print(f"VAE z=2: KL(q(z) || p(z)) = {kl_agg:.2f} nats; KL of the Gaussian with q's mean and covariance = {kl_moments:.2f}")
print(f"share of prior draws where q(z) < p(z) / 10: {holes:.3f}")
assert kl_agg > 3 * kl_moments, "the shape, not the moments, is where q(z) and p(z) differ"

# %%
with torch.no_grad():
    axis = torch.linspace(-3.5, 3.5, 141)
    zz = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1)   # [141, 141, 2]
    dens_q, dens_p = log_q_agg(zz).exp(), vae2.prior().log_prob(zz).exp()
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), sharey=True)
levels = np.linspace(0, max(dens_q.max(), dens_p.max()).item(), 12)
for ax, dens, title in [(axes[0], dens_q, "aggregate posterior q(z) of the test digits"), (axes[1], dens_p, "prior p(z) = N(0, I)")]:
    cs = ax.contourf(axis, axis, dens.numpy(), levels=levels, cmap="viridis")
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    ax.set_xlabel("z1")
axes[0].set_ylabel("z2")
fig.colorbar(cs, ax=axes, shrink=0.8, label="density")
lvmlib.plotting.describe(fig, "Two density maps over the 2-D latent space: left, the aggregate posterior q(z) of the "
                               "test digits, lumpy with several peaks; right, the prior N(0, I), one smooth round peak.")
lvmlib.plotting.savefig(fig, "08_aggregate_posterior")

# %% [markdown]
# The moments match almost exactly, and the densities match less well: the aggregate posterior is lumpy, with
# peaks above the prior's highest density where many digits' codes pile up, and lower ground between them,
# inside the region where the prior is high. In numbers, both KLs are small (a KL of a tenth of a nat is close:
# a Gaussian shifted by half a standard deviation is that far from the original), but the one of the real
# density is many times what a Gaussian with the same two moments would have (asserted: more than 3 times).
# So the moment check above saw only a small part of the difference. Real holes are rare for this model (the share of prior draws where $q_\phi(z)$
# is below a tenth of $p(z)$ is printed above): sampling $z \sim \mathcal N(0, I)$ visits the codes' regions
# unevenly rather than falling into large empty regions, and draws between the peaks decode to the in-between
# images of the latent map. The ELBO's KL term pulls each $q_\phi(z \mid x)$ towards the prior, but nothing in it
# makes their mixture match the prior's shape (notebook 10 looks at priors that adapt instead).

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
# NBVAL_TOLERANCE abs=0.05
# (measured: unchanged with ATEN_CPU_CAPABILITY=default)
sweeps = nb08.coordinate_sweeps(vae8, data.x_test, data.y_test, picks)
for i, (act, share) in enumerate(zip(sweeps.activity, sweeps.share), start=1):
    print(f"z_{i}: variance of mu_i(x) over the test set {act:.2f}, explained by the label {100 * share:3.0f}%")

# %%
# NBVAL_IGNORE_OUTPUT
nb08.coordinate_app(sweeps, digit=6, coordinate=4, value=-2.0)

# %% [markdown]
# ### Exercise 8.4: predict, then move the slider (3 min, ★☆☆)
#
# Find the coordinate with the smallest variance over the test set in the printout above. **Before you move it,
# predict:** sweeping it from $-3$ to $3$ for the digit on screen, will the image change more or less than when
# you sweep the coordinate with the largest variance? Commit below, then compare the two rows of the grid.

# %%
# NBVAL_IGNORE_OUTPUT
exercises.predict("Sweeping the smallest-variance coordinate from -3 to 3, the image changes ... than for the "
                  "largest-variance coordinate.", ["more", "less (usually)", "exactly as much"], 1,
                  "Usually less: a coordinate the encoder uses little is one the decoder has learned little to do with.")

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# Usually less. A coordinate whose $\mu_i(x)$ varies little across digits is one the encoder uses little, so the
# decoder has learned little to do with it: sweeping it mostly thickens or slants the digit, while a
# high-variance coordinate can turn it into another digit. But none of the eight is unused here (every variance
# is well above 0), and how much a coordinate matters also depends on the digit's other coordinates: the rows
# differ from digit to digit.
#
# </details>

# %% [markdown]
# Moving one coordinate changes several things at once. For the 3 the app opens with, some rows turn it into
# another digit at one end (a 6, a 9, a 5), others mostly change its thickness or slant and keep it a 3; other
# digits respond to the same coordinates differently. No coordinate is "the digit's class" (the label explains
# part of every coordinate's variance, all of none), and none is "the slant". This is the lecture's warning: **the latents
# capture the factors of variation that help explain the data, not necessarily the factors people would name**.
# There is even a reason in the model: $\mathcal N(0, I)$ looks the same from every direction, so rotating $z$
# by any rotation $R$ and letting the decoder undo it, $f_\theta(R^\top z)$, gives exactly the same $p_\theta(x)$. The
# likelihood cannot prefer the coordinate axes. The *encoder* can, and does: a diagonal Gaussian $q(z \mid x)$ is
# not rotation-invariant, and notebook 09 shows that for a linear VAE it forces the decoder's columns to be
# orthogonal, so the axes line up with the principal directions of the data. The axes are special, then, but for
# a reason of the approximation, not because they are factors a person would name.
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
# - The aggregate posterior of the encoded test digits has about the prior's mean and covariance, but not its
#   shape: it is lumpy, and its KL to the prior, small here (about a tenth of a nat), is still many times a
#   moment-matched Gaussian's. Judge it by its density (or a divergence), not by two moments.
# - Single latent coordinates mix several human-nameable factors; the prior's rotation symmetry means nothing
#   forces them to align with ours. Labels (semi-supervised learning) can steer a latent to a meaning.
#
# ## Instructor notes
#
# - The solved notebook is `notebooks/solutions/08_latent_interpolation.ipynb`, built with this one from
#   `tools/notebook_src/08_latent_interpolation.py` by `tools/nbbuild.py`. The check
#   `lvmlib.exercises.check_slerp` compares with `lvmlib.vae.slerp` and names lerp, swapped weights, slerp of
#   the unit directions only (wrong endpoints), an angle taken without dividing by the norms, and NaN for
#   parallel endpoints. `exercises.choose` then hands the student's slerp to
#   `nb08.interpolation_paths(..., slerp=)`, which builds every slerp path of the interpolation app with it.
# - Time: the two VAEs train for 100 epochs each, about 4 seconds each on a laptop CPU with one torch thread.
# - Printed numbers downstream of training or sampling carry `# NBVAL_TOLERANCE` markers, with the spread
#   noted in the cell.
