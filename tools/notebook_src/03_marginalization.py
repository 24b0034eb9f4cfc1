# %% [markdown]
# # 03 · Marginalization: p(x) is a sum or an integral over z
#
# A latent variable model gives us the joint $p(x, z) = p(z)\, p(x \mid z)$, but the data only show
# $x$: the latent $z$ is **missing**. The probability of a data point is the joint with every possible
# completion $z$ added up (CS236, lecture 5):
#
# $$p(x) = \sum_{z} p(x, z) \quad (z \text{ discrete}), \qquad
#   p(x) = \int p(x \mid z)\, p(z)\, dz \quad (z \text{ continuous}).$$
#
# Learning by maximum likelihood needs $\log p(x)$ for every training point (and its gradient), so this
# sum or integral is the computation everything else rests on. In this notebook we compute it exactly
# where we can: by a sum for a mixture, by quadrature on a grid for a one-dimensional latent, by
# enumerating all $2^n$ configurations for $n$ binary latents, and see the cost of the last explode.

# %%
import math

import numpy as np
import torch

import lvmlib
from lvmlib.models import BinaryLatentModel, NonlinearLVM, time_enumeration
from lvmlib.widgets import nb03

lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

# %% [markdown]
# ## A sum over z: the mixture of Gaussians
#
# In a mixture, $z \in \{1, \dots, K\}$ picks a component: $p(z = k) = \pi_k$ and
# $p(x \mid z = k) = \mathcal N(x; \mu_k, \sigma_k^2)$. The sum has $K$ terms,
#
# $$p(x) = \sum_{k=1}^{K} \underbrace{\pi_k\, \mathcal N(x; \mu_k, \sigma_k^2)}_{p(x,\, z = k)} ,$$
#
# and dividing each term by the sum gives the posterior $p(z = k \mid x)$, the "responsibility" of
# component $k$ for $x$. We compute it in log space, $\log p(x) = \operatorname{logsumexp}_k
# \big[\log \pi_k + \log \mathcal N(x; \mu_k, \sigma_k^2)\big]$, which is what
# `MixtureOfGaussians.log_marginal` does. Here are the 1-D mixtures the slider steps through: $K$ adds
# the components one at a time (weights renormalized).

# %%
mixtures = nb03.mixture_family(max_k=6)
for k, (w, mu, sd) in enumerate(nb03.MIXTURE_COMPONENTS, start=1):
    print(f"component {k}: weight {w:.2f} (before renormalizing), mean {mu:+.1f}, std {sd:.2f}")
mixture_pre = nb03.mixture_precompute(mixtures)   # every term at every x on the slider, for every K

# %% [markdown]
# Move **x** and watch the bars: each is one term $\pi_k \mathcal N(x; \mu_k, \sigma_k^2)$, the height of
# a coloured curve at $x$; stacked, they are $p(x)$, the height of the black curve. Between two
# components both terms matter; far from all of them every term is tiny. **K** adds components: the
# sum gets longer, but it stays a sum of $K$ terms, cheap for any $K$ we would use.

# %%
# NBVAL_IGNORE_OUTPUT
nb03.mixture_app(mixture_pre, k=3, x=2.0)

# %% [markdown]
# **Check.** The bars add up to the model's $\exp \log p(x)$ at every $x$ and every $K$ on the slider,
# and each $p(x)$ is a density: it integrates to 1. Why log space: at a point far from every component
# each term underflows to 0 in float64, so $\log \sum_k (\text{term}_k)$ would say $-\infty$, while
# logsumexp still gives the right number.

# %%
worst = max(np.abs(mixture_pre["terms"][k].sum(1) - np.exp(mixture_pre["log_p"][k])).max() for k in mixtures)
dx = mixture_pre["x_curve"][1] - mixture_pre["x_curve"][0]
areas = [mixture_pre["curve_p"][k].sum() * dx for k in mixtures]
assert worst < 1e-12
print("largest |sum of bars - p(x)| over all x and K: < 1e-12 (round-off)")
print("integral of p(x) dx for K = 1..6:", np.round(areas, 6))
far = torch.tensor([[60.0]], dtype=torch.float64)
terms_far = nb03.mixture_terms(mixtures[3], far)
print(f"x = 60: the terms in float64 are {terms_far.numpy().ravel()}, log of their sum = "
      f"{torch.log(terms_far.sum()).item()}, logsumexp gives log p(x) = {mixtures[3].log_marginal(far).item():.1f}")
assert worst < 1e-12 and np.allclose(areas, 1.0, atol=1e-6)
assert torch.isfinite(mixtures[3].log_marginal(far)).all() and terms_far.sum() == 0

# %% [markdown]
# ## An integral over z: a neural decoder with a one-dimensional latent
#
# Now $z \sim \mathcal N(0, 1)$ is continuous and $x \mid z \sim \mathcal N\big(f(z), \sigma^2\big)$ with
# $f$ a small neural network (here $\sigma = 0.15$). The sum becomes an integral, an infinite mixture:
#
# $$p(x) = \int \underbrace{\mathcal N\big(x; f(z), \sigma^2\big)\, \mathcal N(z; 0, 1)}_{\text{the integrand } p(x \mid z)\, p(z)}\, dz .$$
#
# For a single $z$ dimension a computer can do the integral by **quadrature**: cut $[-7, 7]$ into $R$
# cells of width $h = 14 / R$ with midpoints $z_j$ and add up the rectangles,
#
# $$p(x) \approx p_R(x) = h \sum_{j=1}^{R} p(x \mid z_j)\, p(z_j)$$
#
# (`NonlinearLVM.log_marginal(x, resolution=R)`, in log space again). The cell below evaluates it for
# every $x$ and every $R$ the sliders offer, and a converged reference with $R = 20\,001$.

# %%
model = nb03.integral_model()
print(model.decoder)
integral_pre = nb03.integral_precompute(model)   # quadrature at 77 x's x 20 resolutions, and the reference
print("resolutions R on the slider:", list(integral_pre["resolutions"]))

# %% [markdown]
# Top left: the decoder's mean $f(z)$; the red line is the chosen $x$. Wherever the blue band crosses
# the red line, that $z$ explains $x$ well: the integrand below has a bump there. Its curve folds back
# near $z = 0$, so an $x$ around $0.3$ has **three** explanations and the integrand three bumps; an $x$
# near $2$ has one, far out in the tail of $p(z)$. The shaded area is $p(x)$: the point on $p(x)$ drawn
# sideways, top right.
#
# - **x**: moves the red line; the bumps move to the $z$ that explain it.
# - **cells R**: the black rectangles are the midpoint rule. With few wide cells the rule misses or
#   overweights the narrow bumps (errors of 100%); once a cell is narrower than a bump, the error falls
#   extremely fast, bottom right, down to float64 round-off (dotted line).

# %%
# NBVAL_IGNORE_OUTPUT
nb03.integral_app(integral_pre, x=0.3, resolution=24)

# %% [markdown]
# **Check: quadrature converges.** For every $x$ on the slider the coarsest grid is visibly wrong, the
# finest agrees with the reference to round-off, and the converged $p(x)$ is a density in $x$. Where a
# closed form exists quadrature meets it: a *linear* decoder $f(z) = w z + b$ gives
# $p(x) = \mathcal N(x; b, w^2 + \sigma^2)$.

# %%
rel = integral_pre["rel_error"]                                   # [resolutions, x]
r256 = list(integral_pre["resolutions"]).index(256)
print(f"worst relative error over all x: R = 3: {rel[0].max():.2f},  R = 256: {rel[r256].max():.1e},  "
      f"R = 2048: {'< 1e-12 (round-off)' if rel[-1].max() < 1e-12 else rel[-1].max()}")
dxc = integral_pre["x_curve"][1] - integral_pre["x_curve"][0]
print(f"integral of p(x) dx over [-2.2, 2.6]: {integral_pre['p_curve'].sum() * dxc:.6f}")
linear = NonlinearLVM(1, 1, hidden=(), sigma=0.15, linear=True, generator=g, dtype=torch.float64)
_, x_lin = linear.sample(5, generator=g)
gap = (linear.log_marginal(x_lin, resolution=2001) - linear.as_linear_gaussian().log_marginal(x_lin)).abs().max()
print(f"linear decoder: |quadrature - closed form| in log p(x) {'< 1e-10 (round-off)' if gap < 1e-10 else gap.item()}")
assert rel[0].max() > 0.5 and rel[-1].max() < 1e-12
assert abs(integral_pre["p_curve"].sum() * dxc - 1) < 1e-4 and gap < 1e-10

# %% [markdown]
# Quadrature is cheap here because $z$ has one dimension: $R$ evaluations of the decoder. With $d$
# latent dimensions the grid has $R^d$ points: $100$ cells per axis and $d = 10$ is $10^{20}$ decoder
# evaluations. The same wall appears, even more plainly, for discrete latents.
#
# ## Why it is hard: n binary latents need 2^n terms
#
# Give the model $n$ binary latents $z_i \in \{0, 1\}$ (is there a stroke here? is the digit slanted?),
# independent with $p(z_i = 1) = 0.5$, and a decoder $x \mid z \sim \mathcal N\big(f(z), \sigma^2 I\big)$.
# The sum runs over every configuration of the bits:
#
# $$p(x) = \sum_{z \in \{0,1\}^n} p(z)\, p(x \mid z) \qquad (2^n \text{ terms}).$$
#
# `BinaryLatentModel.log_marginal` computes it exactly, in chunks, by brute force. Each added latent
# doubles the work. We time it once here, for $n = 2, 4, \dots, 16$ (float32, 8 data points of
# dimension 16); the timings differ from run to run and machine to machine, which is why this cell's
# output is not checked.

# %%
# NBVAL_IGNORE_OUTPUT
seconds = time_enumeration(nb03.ENUMERATION_NS, repeats=3, generator=g)
for n, s in seconds.items():
    print(f"n = {n:2d}: {2**n:6d} terms, {1000 * s:8.2f} ms")
rate = nb03.seconds_per_term(seconds)
print(f"about {rate:.2g} s per term at the largest n; cost x{nb03.doubling_factor(seconds):.2f} per added latent")

# %% [markdown]
# The slider extends the measured line: $n$ is the number of binary latents, the red point the time
# the exact sum would take at the measured rate (right axis: the number of terms). A modest $n = 30$
# is already hours; somewhere in the eighties it passes the age of the universe.

# %%
# NBVAL_IGNORE_OUTPUT
nb03.enumeration_app(seconds, n=20)

# %% [markdown]
# What that means for images: one binary latent per pixel of an 8x8 digit is $n = 64$, one per pixel of
# a 28x28 MNIST digit is $n = 784$.

# %%
for n, what in ((64, "8x8 image"), (784, "28x28 image")):
    print(f"n = {n:3d} ({what}): 2^{n} = {2.0**n:.3g} = 10^{n * math.log10(2):.1f} terms")
print("for comparison: about 10^80 atoms in the observable universe")

# %%
# NBVAL_IGNORE_OUTPUT
for n, what in ((20, "20 latents"), (64, "8x8 image"), (784, "28x28 image")):
    print(f"{what:12s}: about {nb03.human_time(rate * 2.0**n)} at the measured rate")

# %% [markdown]
# **Check: enumeration equals a closed form.** When all $n$ latents have the *same* effect $a$,
# $f(z) = c + a \sum_i z_i$, only the count $k = \sum_i z_i \sim \operatorname{Binomial}(n, p)$ matters,
# and the $2^n$ terms collapse into $n + 1$:
#
# $$p(x) = \sum_{k=0}^{n} \binom{n}{k} p^k (1-p)^{n-k}\, \mathcal N\big(x; c + k a, \sigma^2 I\big).$$
#
# Enumeration (4096 terms for $n = 12$) must agree with this 13-component mixture. And for a decoder
# with *different* effects per latent, the model is literally a mixture of $2^n$ Gaussians, one per
# configuration (weight $p(z)$, mean $f(z)$), which `MixtureOfGaussians` sums by another code path.

# %%
same = nb03.equal_effect_model(12, effect=[0.8, -0.5], offset=[-2.0, 1.0], sigma=0.5, prior_prob=0.3)
closed = nb03.binomial_mixture(12, effect=[0.8, -0.5], offset=[-2.0, 1.0], sigma=0.5, prior_prob=0.3)
_, x_bin = same.sample(6, generator=g)
diff_binomial = (same.log_marginal(x_bin) - closed.log_marginal(x_bin)).abs().max().item()

random_decoder = BinaryLatentModel(8, 3, hidden=(), sigma=0.4, generator=g, dtype=torch.float64)
_, x_rnd = random_decoder.sample(6, generator=g)
as_mixture = nb03.configuration_mixture(random_decoder)
diff_mixture = (random_decoder.log_marginal(x_rnd) - as_mixture.log_marginal(x_rnd)).abs().max().item()
print(f"n = 12, equal effects: enumeration over {2**12} terms vs binomial closed form ({closed.n_components} "
      f"terms): max |difference| in log p(x) {'< 1e-10' if diff_binomial < 1e-10 else diff_binomial}")
print(f"n = 8, random effects: enumeration vs a {as_mixture.n_components}-component MixtureOfGaussians: "
      f"max |difference| {'< 1e-10' if diff_mixture < 1e-10 else diff_mixture}")
assert diff_binomial < 1e-10 and diff_mixture < 1e-10

# %% [markdown]
# ## What to take away
#
# - $p(x)$ marginalizes the missing $z$: a sum of $K$ terms for a mixture, an integral for a continuous
#   latent. Compute it in log space (logsumexp).
# - With one latent dimension a grid computes the integral to round-off, once the cells are narrower
#   than the bumps of $p(x \mid z)\, p(z)$.
# - The exact sum needs $2^n$ terms for $n$ binary latents (and a grid $R^d$ points for $d$ continuous
#   ones): hopeless for image-sized latents. The next notebook replaces the sum by an average over a
#   few sampled $z$: naive Monte Carlo.
