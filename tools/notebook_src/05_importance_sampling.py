# %% [markdown]
# # 05 · Importance sampling: sample where the integrand lives
#
# **About 65 minutes** (reading and the app 30, exercises 35).
#
# **You will learn to**
# - write $p(x)$ as an expectation under a proposal $q$ and estimate it from importance weights, in log space;
# - measure how many samples an estimate is worth with the effective sample size (ESS);
# - explain why the posterior is the perfect proposal, why a too-narrow $q$ is worse than a too-wide one, and
#   why $\log \hat p$ is biased low although $\hat p$ is not.
#
# **Before this:** notebook 04 (naive Monte Carlo); the Gaussian densities and `logsumexp` of notebook 03.
# **Exercises:** 5.1 is code (the log-weights of a model and a proposal, and their reduction to $\log \hat p$, whose
# formula you work out yourself: 15 min, ★★☆); 5.2 is code, a bug hunt (a draft of the effective sample size with two
# planted bugs to find and fix: 12 min, ★★☆); 5.3 is a prediction you
# commit to, then check with the sliders (5 min, ★☆☆); 5.4 is a short derivation (5 min, ★★☆). Each code
# exercise has a check cell that names common mistakes and a ladder of hints, and **the notebook then runs
# your functions**: every estimate, the app's statistics and the figures below are computed with them once
# their checks pass (with `lvmlib`'s until then, and the notebook says which).
#
# Notebook 04 estimated the marginal likelihood by naive Monte Carlo,
# $p(x) = \mathbb E_{z \sim p(z)}\big[p(x \mid z)\big]$: unbiased, but most latents drawn from the prior
# explain $x$ badly, so a handful of lucky samples carry the whole estimate. The lecture's fix is to draw
# $z$ from a **proposal** $q(z)$ that puts its samples where $p(x, z)$ is large, and to correct for it.
# Multiply and divide by $q$:
#
# $$p(x) = \int p(x, z)\, dz = \int q(z)\, \frac{p(x, z)}{q(z)}\, dz
#        = \mathbb E_{z \sim q}\big[w(z)\big], \qquad w(z) = \frac{p(x, z)}{q(z)} \quad\text{(the importance weight)}.$$
#
# The importance-sampling estimate averages $N$ weights,
#
# $$\hat p_N(x) = \frac1N \sum_{k=1}^N w(z_k), \quad z_k \sim q, \qquad
#   \mathbb E[\hat p_N] = p(x), \qquad \operatorname{Var}[\hat p_N] = \frac{\mathbb E_q[w^2] - p(x)^2}{N}.$$
#
# It is unbiased for **any** $q$ that is positive wherever $p(x, z)$ is; $q$ only changes the variance,
# and that is the whole game. `lvmlib.inference` computes everything in log space
# ($\log w_k = \log p(z_k) + \log p(x \mid z_k) - \log q(z_k)$, and $\log \hat p_N$ from those, never from $w_k$
# itself), because for real data $p(x)$ is far too small for a float.

# %%
import math

import numpy as np
import torch

import lvmlib
from lvmlib import inference as est
from lvmlib import exercises
from lvmlib.lessons import nb05
from lvmlib.distributions import gaussian_proposals, sample
from lvmlib.models.toy import second_moment_of_weights, toy_problem

lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

# %% [markdown]
# ## A toy problem whose answer we know
#
# A linear Gaussian model with one latent and one observed number, in float64:
# $z \sim \mathcal N(0, 1)$, $x \mid z \sim \mathcal N(w z, \sigma^2)$. Everything is Gaussian, so the
# marginal $p(x) = \mathcal N(x; 0, w^2 + \sigma^2)$ and the posterior $p(z \mid x)$ are exact. We observe an
# $x$ whose posterior is $\mathcal N(1.5, 0.25^2)$: four times narrower than the prior and 1.5 prior standard
# deviations away from its mean, the situation in which naive Monte Carlo struggles.

# %%
model, x = toy_problem()   # LinearGaussian with a 1-D z and a 1-D x, and the observed x [1, 1]
log_p = model.log_marginal(x)[0].item()
post = model.posterior(x)       # exact p(z | x), a Gaussian
print(f"x = {x.item():.4f},  exact log p(x) = {log_p:.4f}  (p(x) = {math.exp(log_p):.4f})")
print(f"posterior p(z | x) = N({post.loc.item():.3f}, {post.stddev.item():.3f}^2);  prior p(z) = N(0, 1)")

# %% [markdown]
# ### Exercise 5.1: the log-weights of a model and a proposal (15 min, ★★☆)
#
# Every estimator of this notebook and the next starts from the same tensor: $K$ samples $z_k \sim q$ for each
# of $B$ data points, and their log-weights
#
# $$\log w_k = \log p(z_k) + \log p(x \mid z_k) - \log q(z_k), \qquad \texttt{log\_w} \text{ of shape } [K, B].$$
#
# Write `log_weights(x, model, q, K, generator)`. The pieces are `torch.distributions` objects:
# `model.prior()` is $p(z)$, `model.likelihood(z)` is $p(x \mid z)$ for a batch of $z$, and `q` is the proposal,
# either one per data point (batch shape `[B]`) or one shared by all of them (batch shape `[]` or `[1]`).
# Draw the samples with `sample(q, (K,), generator)` (from `lvmlib.distributions`: `torch.distributions` cannot
# take a generator; the samples are reparameterized, $z = \mu + t\, \varepsilon$, so gradients flow through them).
# Every data point must get its **own** samples, also when $q$ is shared.
#
# Then build the estimate itself, `log_p_hat(log_w)`: the log of $\hat p_K = \frac1K \sum_k w_k$ for every data point,
# from the log-weights alone. No formula is given this time: work it out from what notebook 03 showed about sums of
# exponentials. It must stay finite where a real image puts it: $\log w$ around $-2000$, where $e^{-2000}$ is $0$ in
# any float.
#
# The check compares your log-weights with `lvmlib.inference.log_weights`: exactly when you draw from the
# generator as above, statistically (means, variances and the correlation between points, at 6 standard
# errors) when you draw another way. It uses the toy model, a 2-D latent, a mixture with a categorical $z$,
# float32, and $q$ = the exact posterior (then every log-weight must equal $\log p(x)$); it checks that a
# gradient reaches $q$'s parameters through your samples, then runs your `log_p_hat` on log-weights near $-2000$,
# $K = 1$ and a single data point.

# %%
def log_weights(x, model, q, K, generator=None):
    """log w_k = log p(z_k) + log p(x | z_k) - log q(z_k), z_k ~ q: x [B, Dx] -> log_w [K, B]."""
    B = x.shape[0]
    # 1. one proposal per data point (batch shape [B]), 2. K samples of it from the generator,
    # 3. the three log-densities at the samples, each of shape [K, B]
    ### BEGIN SOLUTION
    q = q.expand(torch.Size([B]))                  # batch [] or [1] -> [B]: every point its own samples
    z = sample(q, (K,), generator)                 # [K, B, Dz] ([K, B] for a categorical z)
    return model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z)   # [K, B]
    ### END SOLUTION


def log_p_hat(log_w):
    """log of the importance-sampling estimate: log_w [K, B] -> [B]."""
    ### BEGIN SOLUTION
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])
    ### END SOLUTION

# %%
exercises.check_log_weights(log_weights, log_p_hat)

# %%
# NBVAL_IGNORE_OUTPUT
exercises.hints(
    "A proposal of batch shape `[]` or `[1]` gives samples of shape `[K, Dz]` or `[K, 1, Dz]`: every point would "
    "share them. Expanding `q` to batch shape `[B]` (`Distribution.expand`) makes one (identical) proposal per "
    "point; `K` samples of it from the generator (the `sample` helper) then have shape `[K, B, Dz]`.",
    "Each `log_prob` sums over the event (the coordinates of z or x) by itself and returns `[K, B]`: "
    "`model.prior().log_prob(z)`, `model.likelihood(z).log_prob(x)` (x `[B, Dx]` broadcasts against the "
    "`[K, B]` batch) and `q.log_prob(z)` of the expanded q. No `.sum` is needed.",
    "`return model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z)`.")

# %%
# NBVAL_IGNORE_OUTPUT
exercises.hints(
    "For `log_p_hat`: write $\\hat p_K$ with $w_k = e^{\\log w_k}$, then take its log. Which function of notebook 03 "
    "turns a sum of exponentials into a number without ever computing them?",
    "$\\log \\frac1K \\sum_k e^{a_k}$ is that log of a sum plus the log of the constant $\\frac1K$. The K samples are "
    "along dim 0 of `log_w`.",
    "`torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])`")

# %%
log_weights_used = exercises.choose(exercises.check_log_weights(log_weights), log_weights, est.log_weights)
log_p_hat_used = exercises.choose(exercises.check_log_p_hat(log_p_hat), log_p_hat, est.log_mean_exp)
display(log_weights_used, log_p_hat_used)

# %% [markdown]
# ### Exercise 5.2: find the two bugs in an effective sample size (12 min, ★★☆)
#
# How many samples is an estimate really worth? The **effective sample size**
# $\mathrm{ESS} = (\sum_k w_k)^2 / \sum_k w_k^2$ lies between 1 (one sample carries all the weight) and $K$ (all
# weights equal). Written with the **normalised** weights $\bar w_k = w_k / \sum_j w_j$ (which sum to 1) it is
# $1 / \sum_k \bar w_k^2$, for every data point: `log_w` of shape `[K, B]` gives an ESS of shape `[B]`.
#
# A colleague wrote the draft below. It reads like the formula, and on the first few log-weights you try it may
# even look right, but it has **two bugs**. Run it (the cell runs the check on it), find both, and write the fixed
# function in the cell after it. The check says how many of the two are still there and on which case a
# remaining one shows, not what to change. (Try the draft on small tensors of your own: what should the ESS of
# one data point depend on? What happens to log-weights like those of a real image?)

# %%
def ess_draft(log_w):
    """A first try at the ESS: log_w [K, B] -> [B]. It has two bugs."""
    w = torch.exp(log_w)                          # the weights, [K, B]
    w_bar = w / w.sum(dim=1, keepdim=True)        # normalised
    return 1 / (w_bar ** 2).sum(dim=0)            # ESS = 1 / sum_k w_bar_k^2


exercises.check_ess(ess_draft)

# %% [markdown]
# Your fixed version (both bugs gone; the check below then passes):

# %%
def effective_sample_size(log_w):
    """ESS of importance weights given in log space: log_w [K, B] -> [B]."""
    ### BEGIN SOLUTION
    log_w_bar = log_w - torch.logsumexp(log_w, dim=0, keepdim=True)  # normalised over the K samples, [K, B]
    return torch.exp(-torch.logsumexp(2 * log_w_bar, dim=0))
    ### END SOLUTION

# %%
exercises.check_ess(effective_sample_size)

# %%
# NBVAL_IGNORE_OUTPUT
exercises.hints(
    "Give the draft `log_w = torch.tensor([[0.0, 0.0], [0.0, 5.0]])`: two points, two samples each. The first point's "
    "weights are equal, so its ESS must be 2 whatever the second point's are. Is it? Which line lets the points mix?",
    "Now give it `log_w - 2000`: the ESS must not change (normalising removes any common factor). The draft leaves log "
    "space on its first line; normalise while still in log space (subtract a `torch.logsumexp` over the samples, "
    "`keepdim=True`), and take the sum of squares there too.",
    "`log_w_bar = log_w - torch.logsumexp(log_w, dim=0, keepdim=True)`, then "
    "`return torch.exp(-torch.logsumexp(2 * log_w_bar, dim=0))`")

# %%
ess_used = exercises.choose(exercises.check_ess(effective_sample_size), effective_sample_size,
                            est.effective_sample_size)
ess_used

# %% [markdown]
# ## One estimate, with your functions
#
# One estimate with $N = 1000$ samples, from the prior (naive Monte Carlo) and from a Gaussian proposal
# placed by eye near the posterior, computed with the functions chosen above.

# %%
q = gaussian_proposals([1.25], [0.5])   # q(z) = N(1.25, 0.5^2), batch [1]
for name, proposal in [("naive MC, q = prior", model.prior()), ("IS, q = N(1.25, 0.5^2)", q)]:
    log_w = log_weights_used(x, model, proposal, 1000, generator=g)   # [1000, 1]
    estimate = log_p_hat_used(log_w).item()
    ess = ess_used(log_w).item()
    print(f"{name:24s}: log p-hat = {estimate:.4f} (exact {log_p:.4f}),  ESS = {ess:6.1f} of 1000")

# %% [markdown]
# ## Pick the proposal yourself
#
# The proposal is a Gaussian $q(z) = \mathcal N(\mu, t^2)$; the sliders set its mean $\mu$, its scale $t$ and
# the number of samples $N$ per estimate. The four panels update together:
#
# - **integrand** $p(x, z)$ (grey, its area is $p(x)$) against $p(x)\, q(z)$ (blue), with the $N$ samples
#   of one run as ticks. Where the blue curve is below the grey one, samples get a weight above $p(x)$.
# - **weights** $w(z)/p(x)$ on a log scale: the curve for every $z$, and the dots of the run.
# - **repeated estimates**: the histogram of $\hat p_N / p(x)$ over many independent runs, against the
#   exact value 1 and the mean of the runs.
# - **ESS / N** for every proposal on the slider grid at once (mean over the runs), the current $q$ circled.
#
# Things to try: start at the prior ($\mu = 0, t = 1$: naive Monte Carlo) and watch the weights span
# many orders of magnitude; move $q$ onto the posterior ($\mu = 1.5, t = 0.25$); then make $q$ too narrow
# ($t = 0.125$) and too wide ($t = 1$) and compare the histograms and the ESS as $N$ grows.
#
# Everything the sliders show is computed in the next cell, with your `log_weights`, `log_p_hat` and
# `effective_sample_size` (once they passed): for each of the $13 \times 9$ proposals, 100 000 samples, cut
# into $100\,000 / N$ disjoint runs of $N$ samples for each $N$ (so each histogram holds independent estimates).
# The sliders then only pick and redraw. (The one run drawn as ticks and dots is a separate draw of `lvmlib`'s,
# which also returns its samples.)

# %%
grid = nb05.precompute(model, x, generator=g, log_weights=log_weights_used, log_p_hat=log_p_hat_used,
                       ess=ess_used)
print(f"{len(grid.means)} means x {len(grid.scales)} scales, {grid.total} samples each; N in {grid.counts}")

# %%
# NBVAL_IGNORE_OUTPUT
nb05.proposal_app(grid, mean=0.0, scale=1.0, samples=100)

# %% [markdown]
# ### Exercise 5.3: predict, then move the sliders (5 min, ★☆☆)
#
# Centre $q$ on the posterior's mean, $\mu = 1.5$, and take $N = 10$. Compare a too-narrow proposal,
# $t = 0.125$ (half the posterior's scale), with a too-wide one, $t = 0.5$ (twice it). **Before you move the
# sliders, commit to a prediction below**; the answer and the why appear once you have. Then check it in the
# app, and move $N$ up to 1000 for both: whose histogram of $\hat p_N / p(x)$ has its typical (median) run
# further below 1?

# %%
# NBVAL_IGNORE_OUTPUT
exercises.predict("5.3")

# %% [markdown]
# ## The best proposal is the posterior: zero variance
#
# Put $q(z) = p(z \mid x)$. Then every weight is the same number,
#
# $$w(z) = \frac{p(x, z)}{p(z \mid x)} = \frac{p(x)\, p(z \mid x)}{p(z \mid x)} = p(x) \quad\text{for every } z,$$
#
# so a single sample gives the exact answer, the variance is zero and ESS $= N$. The catch, as the lecture
# says: the posterior is exactly what we cannot compute for an interesting model (it needs $p(x)$). Still, it
# tells us what to aim for: a $q$ as close to $p(z \mid x)$ as we can make it.
#
# ### Exercise 5.4: a short derivation (5 min, ★★☆)
#
# (a) Show that $\mathbb E_{z \sim q}[w(z)] = p(x)$ for any $q$ that is positive wherever $p(x, z)$ is.
# (b) Suppose instead that $q(z) = 0$ on a region $A$ where $p(x, z) > 0$. What does $\mathbb E_q[w]$ become, and
# is the estimate then biased up or down? (c) Why is the ESS equal to $N$ when $q$ is the posterior?
# (Write your answer down; the solutions edition has ours.)

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# (a) $\mathbb E_q[w] = \int q(z)\, \frac{p(x, z)}{q(z)}\, dz = \int p(x, z)\, dz = p(x)$; the division is allowed
# because $q > 0$ wherever the integrand is non-zero.
# (b) Samples never land in $A$, so the integral only runs over where $q > 0$:
# $\mathbb E_q[w] = \int_{A^c} p(x, z)\, dz = p(x) - \int_A p(x, z)\, dz < p(x)$. The estimate is biased **down**, by
# the mass it cannot see, and no number of samples fixes it.
# (c) Every weight equals $p(x)$ (shown above), so all normalised weights are $1/N$ and
# $\mathrm{ESS} = 1 / \sum_k (1/N)^2 = N$.
#
# </details>

# %%
for n in (1, 10, 1000):                                                    # your functions, once they passed
    log_w = log_weights_used(x, model, post, n, generator=g)                 # q = the exact posterior
    err = abs(log_p_hat_used(log_w).item() - log_p)
    ess = ess_used(log_w).item()
    print(f"q = posterior, N = {n:4d}: |log p-hat - log p(x)| < 1e-12: {err < 1e-12},  ESS = {ess:.4f}")
    assert err < 1e-12 and abs(ess - n) < 1e-9 * n
i, j = grid.index(1.5, 0.25)                                                # the same q on the slider grid
sd_at_post = grid.stats["ratio_sd"][i, j].max()
print(f"slider grid at the posterior: sd of p-hat / p(x) < 1e-12 for every N: {sd_at_post < 1e-12}")
assert sd_at_post < 1e-12
assert np.allclose(grid.stats["ess_mean"][i, j], grid.counts, rtol=1e-12)

# %% [markdown]
# ## Unbiased $\hat p$, biased $\log \hat p$
#
# $\hat p_N$ is unbiased: $\mathbb E[\hat p_N] = \mathbb E_q[w] = p(x)$ for every $N$. Below, for every proposal
# on the slider grid whose weights have a moderate variance ($\mathbb E_q[(w/p)^2] < 10$, computed exactly),
# the average of its 100 000 weights must match $p(x)$ within a few standard errors.

# %%
moment = second_moment_of_weights(grid.means[:, None], grid.scales[None, :])    # E_q[(w/p)^2], [13, 9]
ok = moment < 10
mean_ratio = grid.stats["ratio_mean"][:, :, 0]                   # N = 1: the mean of all 100 000 weights / p(x)
z_score = (mean_ratio - 1) / (grid.stats["ratio_sd"][:, :, 0] / math.sqrt(grid.total))
print(f"{ok.sum()} proposals: mean of w / p(x) from {mean_ratio[ok].min():.4f} to {mean_ratio[ok].max():.4f}, "
      f"largest |z-score| {np.abs(z_score[ok]).max():.2f}")
assert np.all(np.abs(z_score[ok]) < 4.5)

# %% [markdown]
# What we will optimize later, though, is a **log**-likelihood, and $\log$ is concave. By Jensen's inequality
#
# $$\mathbb E\big[\log \hat p_N(x)\big] \;\le\; \log \mathbb E\big[\hat p_N(x)\big] = \log p(x),$$
#
# so $\log \hat p_N$ is biased **low**. The distribution of $\hat p_N$ is skewed: most runs fall below $p(x)$
# and a few land far above it, which keeps the mean right but pulls the typical (median) run and the
# average log down. For large $N$ a second-order expansion gives the size of the bias,
# $\log p(x) - \mathbb E[\log \hat p_N] \approx \operatorname{Var}_q(w / p(x)) / (2N)$: it shrinks like $1/N$
# **when the weights have a finite variance**. The figure shows it for naive Monte Carlo, a too-wide and a
# too-narrow proposal. The too-narrow one is the exception: its weights have infinite variance (next section), the
# expansion does not apply, and its bias falls far more slowly than $1/N$ (compare its printed row over a 100-fold
# $N$ with the others).

# %%
cases = [("naive MC", 0.0, 1.0), ("too wide", 1.5, 0.5), ("too narrow", 1.5, 0.125)]
fig = nb05.jensen_figure(grid, cases)
lvmlib.plotting.savefig(fig, "05_jensen")

# %%
for label, m, t in cases:
    i, j = grid.index(m, t)
    bias = log_p - grid.stats["log_mean"][i, j]                                   # [len(counts)]
    se = grid.stats["log_sd"][i, j] / np.sqrt(grid.total // np.array(grid.counts))
    print(f"{label:10s}: log p(x) - E[log p-hat] for N = {grid.counts[:5]}: {np.round(bias[:5], 4)}")
    assert np.all(bias[:3] > 4 * se[:3]), "biased low, by many standard errors, for N = 1, 3, 10"
    assert bias[0] > bias[2] > bias[4] > 0, "and the bias shrinks with N (N = 1, 10, 100)"

# %% [markdown]
# ## Too narrow is worse than too wide
#
# How bad a proposal is shows in the second moment of its weights. With $q = \mathcal N(\mu, t^2)$ and the
# posterior $\mathcal N(m, s^2)$,
#
# $$\frac{\mathbb E_q[w^2]}{p(x)^2} = \int \frac{p(z \mid x)^2}{q(z)}\, dz
#   = \frac{t^2}{s \sqrt{2t^2 - s^2}} \exp\!\Big(\frac{(m - \mu)^2}{2t^2 - s^2}\Big)
#   \quad\text{if } t > s / \sqrt 2, \qquad \text{and } \infty \text{ otherwise.}$$
#
# - **Too narrow** ($t < s/\sqrt2$): the posterior has mass where $q$ has almost none. The weight
#   $p(z \mid x)/q(z)$ grows like $e^{c z^2}$ in the tails; the rare samples that land there carry enormous
#   weights, and the variance is **infinite**. Most runs never draw such a sample, so they underestimate
#   $p(x)$ while looking deceptively stable, and the ESS per sample keeps falling as $N$ grows.
# - **A little narrower than the posterior** ($s/\sqrt2 < t < s$): the variance is finite, and for $t$ near
#   $s$ barely worse than at the posterior, but it grows without bound as $t$ falls towards $s/\sqrt2$
#   (the factor $1/\sqrt{2t^2 - s^2}$). The printout below has the numbers for centred proposals: $t = 0.8\,s$
#   costs about as much as $t = 1.6\,s$, and $t = 0.71\,s$ (just above $s/\sqrt2 \approx 0.707\,s$) twice as
#   much as $t = 4s$. Between the two regimes there is
#   no cliff, only a steep slope: on the slider grid ($t = s/2$, $s/\sqrt2$, $s$, ...) this stretch falls between
#   two grid points.
# - **Too wide**: many samples land where the posterior has no mass and get weights near 0: they are
#   wasted. But the weights are bounded (by $t/s$ times $p(x)$ when centred), so the variance stays finite and
#   grows only about linearly with $t$. You pay for a wide $q$ in samples, not in reliability.
#
# The right panel compares the exact variance of one weight with the sample variance of 100 000 weights,
# for $q$ centred on the posterior: where the exact variance is infinite, the sample variance is finite but
# meaningless (it would keep growing with more samples). The printout below shows the trap in numbers: at
# $N = 10$ the narrow $q$ even has the *larger* ESS. The ESS is computed from the weights that were drawn,
# and it cannot see the tail samples that were not; only as $N$ grows do they show up, and the narrow
# $q$'s ESS per sample keeps falling while the wide one's settles at $p(x)^2 / \mathbb E_q[w^2]$.

# %%
ratios = [0.5, 0.70, 0.71, 0.75, 0.8, 1.0, 1.25, 1.6, 2.0, 4.0]          # t / s, q centred on the posterior
second = {r: second_moment_of_weights(1.5, r * 0.25) for r in ratios}
print("exact E_q[(w/p)^2] for t/s =", ", ".join(f"{r:g}: {second[r]:.3g}" for r in ratios))
assert math.isinf(second[0.5]) and math.isinf(second[0.70]) and math.isfinite(second[0.71])
assert abs(second[0.8] - second[1.6]) < 0.1 and second[0.71] > 1.5 * second[4.0] and second[1.0] == 1.0

# %%
fig = nb05.narrow_wide_figure(grid, narrow=0.125, wide=0.5)
lvmlib.plotting.savefig(fig, "05_narrow_vs_wide")

# %%
i, j_narrow = grid.index(1.5, 0.125)
_, j_wide = grid.index(1.5, 0.5)
k = grid.counts.index(1000)
for label, j in (("too narrow, t = s/2", j_narrow), ("too wide,   t = 2s ", j_wide)):
    ess_frac = grid.stats["ess_mean"][i, j] / np.array(grid.counts)
    print(f"{label}: exact E[(w/p)^2] = {second_moment_of_weights(1.5, grid.scales[j]):.4g};  "
          f"N = 1000: sd of p-hat/p = {grid.stats['ratio_sd'][i, j, k]:.4f}, "
          f"median = {grid.stats['ratio_median'][i, j, k]:.4f};  "
          f"ESS/N at N = 10, 100, 1000: {np.round(ess_frac[[2, 4, 6]], 3)}")
narrow, wide = grid.stats["ess_mean"][i, j_narrow], grid.stats["ess_mean"][i, j_wide]
assert math.isinf(second_moment_of_weights(1.5, 0.125)) and second_moment_of_weights(1.5, 0.5) < 2
assert np.all(narrow[4:] < wide[4:]), "the narrow q has the smaller ESS at every N >= 100"
assert narrow[6] / 1000 < 0.5 * narrow[2] / 10, "its ESS per sample keeps falling as N grows (infinite variance)"
assert abs(wide[6] / 1000 - wide[4] / 100) < 0.01, "the wide q's ESS per sample has settled"
assert grid.stats["ratio_sd"][i, j_narrow, k] > 3 * grid.stats["ratio_sd"][i, j_wide, k]

# %% [markdown]
# ## Naive Monte Carlo against importance sampling, at the same number of samples
#
# Same budget, $N = 100$ samples per estimate, 2000 independent estimates each, with your `log_weights` and
# `log_p_hat` (not from the slider grid): naive Monte Carlo is the same function with the prior as $q$. The exact variance of
# $\hat p_N / p(x)$ is $(\mathbb E_q[(w/p)^2] - 1)/N$, from the formula above (the prior is $\mathcal N(0, 1)$).

# %%
n, reps = 100, 2000
xs = x.expand(reps, -1)                            # 2000 copies of the point: each gets its own samples
runs = {"naive MC, q = prior N(0, 1)": (log_p_hat_used(log_weights_used(xs, model, model.prior(), n, generator=g)),
                                        0.0, 1.0)}
for m, t in [(1.5, 0.5), (1.25, 0.35)]:
    q = gaussian_proposals([m], [t])        # batch [1]: shared by the 2000 copies, each drawing its own samples
    runs[f"IS, q = N({m}, {t}^2)"] = (log_p_hat_used(log_weights_used(xs, model, q, n, generator=g)), m, t)
var = {}
for name, (log_p_hat, m, t) in runs.items():
    var[name] = torch.exp(log_p_hat - log_p).var().item()
    exact = (second_moment_of_weights(m, t) - 1) / n
    print(f"{name:28s}: Var(p-hat / p(x)) = {var[name]:.5f}  (exact {exact:.5f})")
    assert abs(var[name] / exact - 1) < 0.25
naive = var["naive MC, q = prior N(0, 1)"]
for name in list(var)[1:]:
    print(f"variance ratio naive / ({name}) = {naive / var[name]:.0f}")
    assert naive / var[name] > 10

# %% [markdown]
# A proposal placed roughly near the posterior buys a variance about 15 times smaller: naive Monte Carlo would
# need about 15 times more samples for the same precision. Here the latent has one dimension; with $d$
# latent dimensions the factors multiply, and the gap grows exponentially with $d$.
#
# ## What to take away
#
# - Importance sampling rewrites $p(x)$ as an expectation under any proposal $q$:
#   $p(x) = \mathbb E_q[p(x, z)/q(z)]$. The estimate is unbiased for every $q$; $q$ sets the variance.
# - The ideal proposal is the posterior $p(z \mid x)$: all weights equal $p(x)$, zero variance, ESS $= N$.
# - A proposal narrower than the posterior can have infinite variance (rare, huge weights); a wider one
#   only wastes samples. When in doubt, err wide.
# - $\hat p$ is unbiased but $\log \hat p$ is biased low (Jensen), by about $\operatorname{Var}(w/p)/2N$. Taking
#   that lower bound seriously, with $N = 1$ and a $q$ that we optimize, gives the **ELBO**: notebook 06.
#
# ## Instructor notes
#
# - The solved notebook is `notebooks/solutions/05_importance_sampling.ipynb`; both editions are built from
#   `tools/notebook_src/05_importance_sampling.py` by `tools/nbbuild.py` (the solution lines sit between
#   nbgrader's begin/end-solution markers; `make nbgrader` builds the nbgrader assignment). The checks are
#   `lvmlib.exercises.check_log_weights` (with `check_log_p_hat` for the reduction) and `check_ess`; each names
#   the mistakes it knows (forgetting $\log q$, the prior's density in its place, points sharing their samples,
#   a detached $z$, averaging the log-weights, forgetting $-\log K$, exponentiating first, an ESS from
#   unnormalised weights, ...). The text gives no formula for $\log \hat p$ (the student derives it from notebook
#   03's logsumexp; the last hint rung has it). 5.2 is a bug hunt: `ess_draft` (the same function as
#   `lvmlib.exercises.nb05.ess_draft`, which a test keeps equal) exponentiates first and normalises over the data
#   points; `check_ess` says "both planted bugs are still there", or which one remains by where it shows (NaN
#   near $-2000$; one point's ESS depending on another's), without naming the fix
#   (`lvmlib.exercises._planted`). `exercises.choose` hands the student's functions to every later cell once
#   their checks passed: the estimates, the app's statistics (`nb05.precompute(..., log_weights=, log_p_hat=,
#   ess=)`) and the figures.
# - Equivalence check: on this toy problem $p(x) \approx 0.06$ is large enough to work in linear space, so
#   `lvmlib`'s log-space estimate and ESS must agree with the textbook formulas applied to $w = e^{\log w}$.

# %%
log_w = est.log_weights(x, model, gaussian_proposals([1.25], [0.5]), 1000, generator=g)   # [1000, 1]
w = log_w.exp()
diff_p = abs(est.log_mean_exp(log_w, 0).item() - math.log(w.mean().item()))
diff_ess = abs(est.effective_sample_size(log_w).item() - (w.sum() ** 2 / (w ** 2).sum()).item())
print(f"log p-hat: max abs difference < 1e-12: {diff_p < 1e-12};  ESS: max abs difference < 1e-9: {diff_ess < 1e-9}")
assert diff_p < 1e-12 and diff_ess < 1e-9
