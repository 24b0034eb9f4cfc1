# %% [markdown]
# # 06 · The ELBO and its gap
#
# **You will learn to**
# - derive the evidence lower bound (ELBO) from Jensen's inequality and compute it from log-weights;
# - show that its gap is exactly $\mathrm{KL}(q \,\|\, p(z \mid x))$, so the bound is tight at the posterior;
# - tighten it with the importance-weighted bound $L_K$, and say what that costs;
# - recognise when no $q$ in the family can close the gap (a two-mode posterior).
#
# **Before this:** notebook 05 (importance sampling, the bias of $\log \hat p$).
# **Exercises:** 6.1 and 6.2 are code (the ELBO and the IWAE bound from log-weights, with check cells that
# name common mistakes); 6.3 is "predict, then move the sliders"; 6.4 is a short derivation.
#
# Notebook 05 ended on a warning: the importance-sampling estimate $\hat p_N(x)$ is unbiased, but its log,
# the quantity maximum likelihood needs, is biased low. Here we take that lower bound seriously and make
# it exact: the gap between $\log p(x)$ and the bound is a KL divergence that we can compute and see.
#
# Start from the importance-sampling identity and apply Jensen's inequality ($\log$ is concave):
#
# $$\log p(x) = \log \mathbb E_{z \sim q}\Big[\frac{p(x, z)}{q(z)}\Big]
#   \;\ge\; \mathbb E_{z \sim q}\Big[\log \frac{p(x, z)}{q(z)}\Big] =: \mathrm{ELBO}(q),$$
#
# the **evidence lower bound**. It holds for every $q$, it is an expectation (so one sample gives an unbiased
# estimate of it), and it is what a VAE maximizes. How loose is it? Write $p(x, z) = p(x)\, p(z \mid x)$:
#
# $$\log p(x) - \mathrm{ELBO}(q) = \mathbb E_q\big[\log p(x) - \log p(x, z) + \log q(z)\big]
#   = \mathbb E_q\Big[\log \frac{q(z)}{p(z \mid x)}\Big] = \mathrm{KL}\big(q(z) \,\|\, p(z \mid x)\big) \;\ge\; 0 .$$
#
# So **log p(x) = ELBO(q) + KL(q ‖ p(z | x))**, exactly: the bound is tight if and only if $q$ is the posterior,
# and maximizing the ELBO over $q$ is the same as pulling $q$ towards the posterior. (Expanding
# $p(x, z) = p(z)\, p(x \mid z)$ instead gives the form used for training:
# $\mathrm{ELBO} = \mathbb E_q[\log p(x \mid z)] - \mathrm{KL}(q(z) \,\|\, p(z))$.)

# %%
import math
import time

import numpy as np
import torch
from torch.distributions import kl_divergence

import lvmlib
from lvmlib import inference as est
from lvmlib import exercises
from lvmlib.lessons import nb06
from lvmlib.distributions import gaussian_mvn, gaussian_proposals
from lvmlib.inference import block_estimates
from lvmlib.models import best_gaussian
from lvmlib.lessons.toy import toy_problem

lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

# %% [markdown]
# ## A model with an exact posterior
#
# Notebook 05's linear Gaussian model (float64): $z \sim \mathcal N(0, 1)$, $x \mid z \sim \mathcal N(w z, \sigma^2)$,
# and an observed $x$ whose posterior is $\mathcal N(1.5, 0.25^2)$. For a Gaussian $q$, the KL to the posterior
# has a closed form (`torch.distributions.kl_divergence`), while the ELBO is estimated by Monte Carlo with
# `est.elbo`, which knows nothing about the posterior. If the identity holds, the two must add up to the exact
# $\log p(x)$.

# %%
model, x = toy_problem()
log_p = model.log_marginal(x)[0].item()
post = model.posterior(x)                                     # exact p(z | x), a MultivariateNormal
print(f"exact log p(x) = {log_p:.4f};  posterior N({post.loc.item():.2f}, {post.stddev.item():.2f}^2)")
for m, t in [(0.5, 0.7), (1.2, 0.15), (1.5, 0.25)]:
    q = gaussian_mvn([m], [t])                           # q(z) = N(m, t^2), batch [1]
    log_w = est.log_weights(x, model, q, 200_000, generator=g)  # [200000, 1]
    elbo, se = log_w.mean().item(), (log_w.std() / math.sqrt(log_w.shape[0])).item()
    kl = kl_divergence(q, post).item()
    print(f"q = N({m}, {t}^2): ELBO = {elbo:8.4f} ± {se:.4f} (MC),  KL = {kl:7.4f} (exact),  "
          f"ELBO + KL = {elbo + kl:.4f}")

# %% [markdown]
# ### Exercise 6.1: the ELBO from log-weights
#
# The cell above estimated the ELBO as `log_w.mean()`. Write the estimator for a batch: given log-weights
# `log_w` of shape `[K, B]` ($K$ samples $z_k \sim q$ for each of $B$ data points,
# $\log w_k = \log p(x, z_k) - \log q(z_k)$), return the Monte Carlo ELBO of every point, shape `[B]`:
#
# $$\widehat{\mathrm{ELBO}} = \frac1K \sum_{k=1}^K \log w_k .$$
#
# The check runs it on known cases (log-weights near $-2000$, $K = 1$, one data point) and names the usual
# mistakes. The notebook itself keeps using `lvmlib`, so it runs whether or not you do this.

# %%
def elbo_from_log_weights(log_w):
    """Monte Carlo ELBO: log_w [K, B] -> [B]."""
    ### BEGIN SOLUTION
    return log_w.mean(dim=0)
    ### END SOLUTION

# %%
exercises.check_elbo(elbo_from_log_weights)

# %% [markdown]
# ## Move q and watch the bound
#
# The sliders set $q = \mathcal N(\mu, t^2)$ and the number $K$ of samples of the importance-weighted bound
# (last section). The panels:
#
# - **q against the posterior** (grey) and the prior (dotted).
# - **the split**: bars hang down from 0 because log-likelihoods are negative. The grey bar is the exact
#   $\log p(x)$; the middle bar is the Monte Carlo ELBO (blue, down to the ELBO) with the exact KL stacked on it
#   in red. The red part must end on the dashed $\log p(x)$ line (the black tick marks ELBO + KL). The right bar
#   is the IWAE bound $L_K$ with its remaining gap hatched.
# - **the ELBO surface** over $(\mu, \log t)$, estimated by Monte Carlo on a grid twice as fine as the
#   sliders'; its maximum (the star) is the posterior. The red ring is the current $q$.
# - **IWAE**: how much of the ELBO's gap the bound $L_K$ closes, against $K$.
#
# Try: a $q$ far from the posterior (the gap is tens of nats); slide onto the posterior (the red part
# vanishes); compare a too-narrow and a too-wide $q$ at the same KL.
#
# The next cell computes everything the sliders show: for each of the $13 \times 9$ proposals, the exact KL,
# and 100 000 samples of `est.log_weights` giving the ELBO and, cut into runs of $K$, the IWAE bounds.

# %%
grid = nb06.precompute(model, x, generator=g)
print(f"{len(grid.means)} means x {len(grid.scales)} scales, {grid.total} samples each; "
      f"surface {grid.surface.shape[0]} x {grid.surface.shape[1]}, {grid.surface_samples} samples each")

# %%
# NBVAL_IGNORE_OUTPUT
nb06.gap_app(grid, mean=0.5, scale=2**-0.5, k=1)

# %% [markdown]
# ### Exercise 6.3: predict, then move the sliders
#
# Put $q$ at $\mathcal N(1.5, 0.5^2)$: the posterior's mean, twice its scale. **Before you move $K$, predict:**
# as $K$ goes from 1 to 10 to 100, how does the hatched gap $\log p(x) - L_K$ of the right bar change: not at
# all, shrinking like $1/K$, or shrinking like $1/\sqrt K$? Can $L_K$ ever end above the dashed $\log p(x)$
# line? Then do the same for a $q$ far off, $\mathcal N(0, 1)$ (the prior).
#
# <details><summary>Answer</summary>
#
# For $\mathcal N(1.5, 0.5^2)$ the gap shrinks about like $1/K$: roughly 0.8 nats at $K = 1$, 0.03 at $K = 10$, and
# too small to see at $K = 100$ (the printout in the section on $L_K$ below has the numbers; for large $K$ the gap
# is about $\operatorname{Var}_q(w/p(x)) / 2K$). $L_K$ stays below $\log p(x)$ in expectation for every $K$; on
# screen it can only touch the line within Monte Carlo noise. For the prior the gap starts at about 24 nats
# (the KL to the posterior) and falls fast, to about 1 nat at $K = 10$ and 0.05 at $K = 100$ (notebook 05's
# bias of naive Monte Carlo: the same numbers): the best of $K$ samples dominates the average, and a few of
# them land near the posterior. At every $K$ its gap stays far larger than for the nearby $q$.
#
# </details>

# %% [markdown]
# ## The identity, checked for every q the sliders can show
#
# For each $q$ on the slider grid, the Monte Carlo ELBO plus the exact KL must equal $\log p(x)$ within the
# Monte Carlo error of the ELBO (at the posterior every weight equals $p(x)$, so there it is exact to
# floating-point precision).

# %%
i0, j0 = grid.index(0.5, 2**-0.5)                        # the q the app opens with
print(f"q on screen, N(0.50, 0.707^2): ELBO {grid.elbo[i0, j0]:.4f} ± {grid.elbo_se[i0, j0]:.4f} "
      f"+ KL {grid.kl[i0, j0]:.4f} = {grid.elbo[i0, j0] + grid.kl[i0, j0]:.4f};  log p(x) = {log_p:.4f}")
ip, jp = grid.index(1.5, 0.25)                           # the posterior
off = np.ones_like(grid.kl, dtype=bool)
off[ip, jp] = False
z_score = (grid.elbo + grid.kl - log_p)[off] / grid.elbo_se[off]
print(f"{off.sum()} proposals off the posterior: largest |ELBO + KL - log p(x)| / se = {np.abs(z_score).max():.2f}; "
      f"KL from {grid.kl[off].min():.3f} to {grid.kl.max():.1f} nats")
print(f"at the posterior: |ELBO - log p(x)| < 1e-12 and |KL| < 1e-12: "
      f"{abs(grid.elbo[ip, jp] - log_p) < 1e-12 and abs(grid.kl[ip, jp]) < 1e-12}")
assert np.all(np.abs(z_score) < 4)
assert abs(grid.elbo[ip, jp] - log_p) < 1e-12 and abs(grid.kl[ip, jp]) < 1e-12

# %% [markdown]
# ## The ELBO is maximal, and tight, at the posterior
#
# Since $\mathrm{ELBO}(q) = \log p(x) - \mathrm{KL}(q \,\|\, p(z \mid x))$ and the KL is zero only at $q = p(z \mid x)$,
# the ELBO surface peaks at the posterior, and its height there is $\log p(x)$. Both the slider grid and the
# finer surface are Monte Carlo estimates; their maxima must sit on the posterior.

# %%
i, j = np.unravel_index(grid.elbo.argmax(), grid.elbo.shape)
si, sj = np.unravel_index(grid.surface.argmax(), grid.surface.shape)
print(f"slider grid: max ELBO at q = N({grid.means[i]:.2f}, {grid.scales[j]:.3g}^2), "
      f"|max - log p(x)| < 1e-12: {abs(grid.elbo[i, j] - log_p) < 1e-12}")
print(f"fine surface: max ELBO at q = N({grid.surface_means[si]:.4f}, {2 ** grid.surface_log2_scales[sj]:.4f}^2)")
assert (i, j) == (ip, jp)
assert grid.surface_means[si] == 1.5 and 2 ** grid.surface_log2_scales[sj] == 0.25
assert np.all(grid.kl[off] > 0) and np.all(grid.elbo[off] < log_p)

# %% [markdown]
# ## Tightening the bound: the importance-weighted bound $L_K$
#
# The ELBO uses one sample inside the log. Average $K$ weights inside it instead (Burda, Grosse and
# Salakhutdinov 2016):
#
# $$L_K = \mathbb E_{z_1, \dots, z_K \sim q}\Big[\log \frac1K \sum_{k=1}^K \frac{p(x, z_k)}{q(z_k)}\Big]
#     = \mathbb E[\log \hat p_K(x)],$$
#
# which is exactly notebook 05's $\mathbb E[\log \hat p_K]$. $L_1$ is the ELBO, $L_K \le L_{K+1} \le \log p(x)$, and
# $L_K \to \log p(x)$ as $K$ grows; for large $K$ the remaining gap is about $\operatorname{Var}_q(w/p(x)) / 2K$. The
# price is $K$ evaluations of $p(x, z)$ (in a VAE: $K$ decoder passes) per data point, so each halving of the
# gap costs about twice the compute (the instructor notes at the end time it). In the app, the last panel shows
# $L_K$ for the $q$ on screen; the check below covers every $q$ of the slider grid.
#
# ### Exercise 6.2: the IWAE bound from log-weights
#
# Given log-weights `log_w` of shape `[K, B]`, return the estimate of $L_K$ for every data point, shape `[B]`:
#
# $$\hat L_K = \log \frac1K \sum_{k=1}^K w_k = \operatorname{logsumexp}_k(\log w_k) - \log K .$$
#
# Compare with exercise 6.1: the only difference is where the average sits, inside or outside the log. The
# check names the mistakes that turn one into the other, and the ones that break on log-weights near $-2000$.

# %%
def iwae_bound(log_w):
    """Importance-weighted bound L_K: log_w [K, B] -> [B]."""
    ### BEGIN SOLUTION
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])
    ### END SOLUTION

# %%
exercises.check_iwae_bound(iwae_bound)

# %%
rise = np.diff(grid.iwae, axis=2)[off]                                           # L_{K'} - L_K, [116, 9]
rise_se = np.hypot(grid.iwae_se[:, :, 1:], grid.iwae_se[:, :, :-1])[off]
above = (grid.iwae[off] - log_p) / grid.iwae_se[off]                               # > 0 would break the bound
span, span_se = grid.iwae[:, :, -1] - grid.iwae[:, :, 0], np.hypot(grid.iwae_se[:, :, -1], grid.iwae_se[:, :, 0])
total_rise = span[off] / span_se[off]                                              # (L_1000 - L_1) / se
print(f"L_K between consecutive K: smallest rise {rise.min():.2e} nats ({(rise / rise_se).min():.2f} se)")
print(f"L_1000 - L_1: at least {total_rise.min():.1f} se;  largest (L_K - log p(x)) / se = {above.max():.2f}")
assert np.all(rise > -3 * rise_se), "L_K does not decrease with K"
assert np.all(total_rise > 5), "and L_1000 is clearly above the ELBO"
assert np.all(above < 3), "L_K stays below log p(x)"
assert np.allclose(grid.iwae[ip, jp], log_p, rtol=0, atol=1e-12), "at the posterior, L_K = log p(x) for every K"

# %% [markdown]
# What it buys, for one $q$ a bit too wide ($\mathcal N(1.5, 0.5^2)$, with $\operatorname{Var}_q(w/p(x)) = 0.512$ from
# notebook 05's formula): the gap $\log p(x) - L_K$ falls about like $1/K$, so $K \times$ gap approaches
# $0.512 / 2 = 0.256$. Beyond $K \approx 50$ the gap is smaller than the Monte Carlo error of our 100 000 samples.

# %%
i, j = grid.index(1.5, 0.5)
for c, k in enumerate(grid.ks[:6]):
    gap, se = log_p - grid.iwae[i, j, c], grid.iwae_se[i, j, c]
    print(f"K = {k:3d}: L_K = {grid.iwae[i, j, c]:.4f},  gap = {gap:.4f} ± {se:.4f},  "
          f"K x gap = {k * gap:.3f} ± {k * se:.3f}")

# %% [markdown]
# ### Exercise 6.4: a short derivation
#
# (a) Show that $L_1$ is the ELBO. (b) Show that $L_K \le \log p(x)$ for every $K$, using only that
# $\hat p_K = \frac1K \sum_k w_k$ is unbiased (notebook 05) and that $\log$ is concave. (c) Expand
# $\log p(x, z) = \log p(z) + \log p(x \mid z)$ in the ELBO to get the form used for training,
# $\mathbb E_q[\log p(x \mid z)] - \mathrm{KL}(q(z) \,\|\, p(z))$.
#
# <details><summary>Answer</summary>
#
# (a) With $K = 1$, $\log \frac11 w_1 = \log w_1 = \log p(x, z_1) - \log q(z_1)$, whose expectation under $q$ is the ELBO.
# (b) Jensen: $L_K = \mathbb E[\log \hat p_K] \le \log \mathbb E[\hat p_K] = \log p(x)$, since $\mathbb E[\hat p_K] = p(x)$
# for every $K$.
# (c) $\mathbb E_q[\log p(z) + \log p(x \mid z) - \log q(z)] = \mathbb E_q[\log p(x \mid z)] - \mathbb E_q[\log q(z) - \log p(z)]$,
# and the last expectation is $\mathrm{KL}(q \,\|\, p(z))$ by definition.
#
# </details>
#
# %% [markdown]
# ## When no q in the family is the posterior
#
# The linear Gaussian model is the friendly case: its posterior is Gaussian, so a Gaussian $q$ can close the gap.
# A neural decoder's posterior need not be. Take the 1-D `NonlinearLVM` (a small tanh network maps $z$ to the mean
# of a 2-D $x$) and an $x$ that two regions of latent space explain: its posterior, computed on a grid
# (quadrature, `model.grid_posterior`), has two modes. The identity still holds, with the KL now a sum over the
# grid; but the best Gaussian $q$ (the largest ELBO, found by scanning a grid of means and scales) keeps a gap.
# Note which Gaussian wins: it centres on the broad mode and leaves much of the sharp peak uncovered.
# $\mathrm{KL}(q \,\|\, p)$ punishes $q$ for putting mass where $p$ has little, much more than for missing some of
# $p$'s mass, so the best $q$ does not stretch to cover both modes.

# %%
nl_model, xn = nb06.nonlinear_problem()                       # NonlinearLVM(latent 1, data 2), x [1, 2]
gp = nl_model.grid_posterior(xn, resolution=2001)              # p(z | x) on 2001 points of [-7, 7]
nl_log_p = gp.log_marginal[0].item()
m, t, best_kl = best_gaussian(gp, np.linspace(-2.5, 1.0, 71), np.geomspace(0.05, 2.0, 81))
q_best = gaussian_proposals([m], [t])
log_w = est.log_weights(xn, nl_model, q_best, 200_000, generator=g)
nl_elbo, nl_se = log_w.mean().item(), (log_w.std() / math.sqrt(log_w.shape[0])).item()
print(f"log p(x) by quadrature = {nl_log_p:.4f}")
print(f"best Gaussian q = N({m:.2f}, {t:.3f}^2): ELBO = {nl_elbo:.4f} ± {nl_se:.4f} (MC), KL = {best_kl:.4f} (grid), "
      f"sum = {nl_elbo + best_kl:.4f}")
assert abs(nl_elbo + best_kl - nl_log_p) < 4 * nl_se, "log p(x) = ELBO + KL, with the KL on a grid"
assert best_kl > 0.3, "no Gaussian q closes the gap"

# %%
# NBVAL_TOLERANCE abs=0.01
# (Monte Carlo: the standard errors of these gaps are 0.002-0.006 nats; the test compares within 0.01)
iw = block_estimates(xn, nl_model, q_best, nb06.K_VALUES, 100_000, generator=g)   # L_K for every K
nl_iwae, nl_iwae_se = iw["log_mean"][:, 0], iw["log_sd"][:, 0] / np.sqrt(iw["runs"])
nl_gap = nl_log_p - nl_iwae
print("gap log p(x) - L_K for K =", nb06.K_VALUES, ":", np.round(nl_gap, 3))
assert np.all(np.diff(nl_iwae) > 0) and np.all(nl_iwae < nl_log_p + 3 * nl_iwae_se)
k20, k100 = nb06.K_VALUES.index(20), nb06.K_VALUES.index(100)
assert nl_gap[k20] < 0.2 * nl_gap[0], "by K = 20 less than a fifth of the ELBO's gap is left"
assert nl_gap[k100] < 0.05 * nl_gap[0], "by K = 100 less than a twentieth"
fig = nb06.nonlinear_figure(gp, m, t, nb06.K_VALUES, nl_iwae, nl_log_p, nl_elbo)
lvmlib.plotting.savefig(fig, "06_two_mode_posterior")

# %% [markdown]
# The best Gaussian leaves about half a nat on the table. The importance-weighted bound recovers most of it
# with a few tens of samples: by $K = 20$ less than a fifth of the gap is left, by $K = 100$ less than a
# twentieth (both asserted above), at $K$ times the cost. (From $K \approx 200$ on, the remaining gap is smaller
# than the Monte Carlo error of these estimates, 100 000 samples cut into runs of $K$, so a printed gap there can
# come out slightly negative; the assert allows $L_K$ above $\log p(x)$ by 3 standard errors only.) A richer $q$
# family would close the gap for one sample.
#
# ## What to take away
#
# - Jensen turns the importance-sampling identity into a lower bound: $\log p(x) \ge \mathrm{ELBO}(q)$ for every $q$.
# - The gap is exactly $\mathrm{KL}(q \,\|\, p(z \mid x))$: $\log p(x) = \mathrm{ELBO}(q) + \mathrm{KL}$. Maximizing the
#   ELBO over $q$ pulls $q$ towards the posterior, and the bound is tight exactly at the posterior.
# - The IWAE bound $L_K$ uses $K$ samples inside the log; it rises with $K$ towards $\log p(x)$, the gap shrinking
#   about like $1/K$, for $K$ times the compute.
# - When the posterior is not in $q$'s family, even the best $q$ keeps a gap. Notebook 07 trains a VAE: a
#   decoder $p_\theta(x \mid z)$ and an encoder $q_\phi(z \mid x)$, maximizing the ELBO over both at once.
#
# ## Instructor notes
#
# - The solved notebook is `notebooks/solutions/06_elbo_and_its_gap.ipynb`, built with this one from
#   `tools/notebook_src/06_elbo_and_its_gap.py` by `tools/nbbuild.py`. The checks are
#   `lvmlib.exercises.check_elbo` and `check_iwae_bound`; they name averaging where a logsumexp is needed
#   (the ELBO instead of $L_K$) and the reverse, a missing $-\log K$, exponentiating first (underflow at
#   $-2000$), and reducing over the wrong dimension.
# - What $L_K$ costs: $L_K$ runs the decoder $K$ times per data point. Below, one call of `est.iwae_bound` on a
#   batch of 256 points of a small neural-decoder model, for growing $K$. The times depend on the machine; at
#   small $K$ a fixed overhead dominates, and from there the time grows with $K$, towards proportionally as
#   $K \times$ batch gets large. In training, that is the price of every gradient step.

# %%
# NBVAL_IGNORE_OUTPUT
timing_model, _ = nb06.nonlinear_problem()
_, xb = timing_model.sample(256, generator=g)
q_wide = gaussian_proposals(np.zeros(256), np.ones(256))            # any q works for timing
with torch.no_grad():
    est.iwae_bound(xb, timing_model, q_wide, 1, generator=g)               # warm-up
    for k in (1, 10, 100, 1000):
        t0 = time.perf_counter()
        est.iwae_bound(xb, timing_model, q_wide, k, generator=g)
        print(f"K = {k:4d}: {1000 * (time.perf_counter() - t0):7.1f} ms")
