# %% [markdown]
# # 04 · Naive Monte Carlo: sample z, average p(x | z)
#
# **About 50 minutes** (reading and the apps 30, exercises 20).
#
# **You will learn to**
# - write $p(x)$ as an expectation over the prior and estimate it by averaging $N$ weights, in log space,
#   with its standard error (Exercise 4.1);
# - check on the numbers that the estimate is unbiased and that its variance falls as $1/N$;
# - see why it fails: when the likelihood is peaked or $z$ has many dimensions, almost all the weight sits
#   on a vanishing fraction of the samples.
#
# **Before this notebook:** 03 (marginalization: $p(x)$ as a sum or an integral over $z$, logsumexp).
#
# **Exercises:** 4.1 is code (the estimate and its standard error from log-weights: 10 min, ★★☆); 4.2 is a
# prediction you commit to, then check with the slider (5 min, ★☆☆); 4.3 is a derivation (10 min, ★★☆). The code
# exercise has a check cell that names common mistakes and a ladder of hints, and **the notebook then runs your
# function**: the 200 repeated estimates at every $N$ (the app, the checks of unbiasedness and of the $1/N$
# variance) are reduced by it once it passes (by `lvmlib`'s until then, and the notebook says which).
#
# %% [markdown]
# Notebook 03 computed $p(x) = \sum_z p(x, z)$ exactly and saw the cost explode with the number of
# latents. The lecture's way out: the sum (or integral) is an **expectation**, and an expectation can
# be estimated by averaging over a few random draws.
#
# $$p(x) = \int p(z)\, p(x \mid z)\, dz = \mathbb E_{z \sim p(z)}\big[p(x \mid z)\big]
#   \;\approx\; \hat p_N(x) = \frac{1}{N} \sum_{k=1}^{N} p(x \mid z_k), \qquad z_k \sim p(z) .$$
#
# The lecture writes the same trick with a **uniform** distribution: for $z$ taking $|\mathcal Z|$
# values, $\sum_z p(x, z) = |\mathcal Z|\, \mathbb E_{z \sim \text{Uniform}}[p(x, z)]$; for a continuous $z$
# in a box of volume $V$, $p(x) \approx V\, \mathbb E_{z \sim \text{Uniform(box)}}[p(x, z)]$ (ignoring the
# prior mass outside the box).
#
# Both are averages of **weights** $w_k$ ($w = p(x \mid z)$ for the prior, $w = V p(x, z)$ for the box),
# so for $N$ independent draws
#
# $$\mathbb E\big[\hat p_N(x)\big] = p(x) \quad\text{(unbiased)}, \qquad
#   \operatorname{Var}\big[\hat p_N(x)\big] = \frac{\operatorname{Var}[w]}{N}, \qquad
#   \frac{\operatorname{std}(\hat p_N)}{p(x)} = \frac{\sqrt{\operatorname{Var}[w]}}{p(x)}\,\frac{1}{\sqrt N}.$$
#
# Unbiased, and the error shrinks like $1/\sqrt N$, whatever the dimension of $z$. The catch is the
# constant $\sqrt{\operatorname{Var}[w]} / p(x)$: this notebook measures it, and then makes it explode.

# %%
import math

import numpy as np
import torch

import lvmlib
from lvmlib import exercises
from lvmlib.inference import log_weights, naive_monte_carlo, relative_std_one_sample, repeated_estimates
from lvmlib.distributions import uniform_box
from lvmlib.lessons import nb04

lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

# %% [markdown]
# ## The estimator on a model with a known answer
#
# To judge an estimator we need the truth. The model here is linear-Gaussian,
# $z \sim \mathcal N(0, 1)$ and $x \mid z \sim \mathcal N(1.5 z, 0.3^2)$, so
# $p(x) = \mathcal N(x; 0, 1.5^2 + 0.3^2)$ exactly. Five draws from the prior for the point $x = 1$:
# most $z_k$ explain $x$ badly and contribute almost nothing; the average still lands near $p(x)$.

# %%
model = nb04.demo_model()
x = torch.tensor([[nb04.DEMO_X]], dtype=torch.float64)
p_exact = model.log_marginal(x).exp().item()
log_w, z = log_weights(x, model, model.prior(), 5, generator=g, return_samples=True)   # [5, 1], [5, 1, 1]
for zk, wk in zip(z.ravel(), log_w.exp().ravel()):
    print(f"z = {zk.item():+.3f}   p(x | z) = {wk.item():.4f}")
print(f"average of the 5 weights = {log_w.exp().mean().item():.4f};  exact p(x) = {p_exact:.4f}")

# %% [markdown]
# ### Exercise 4.1: the naive Monte Carlo estimate and its standard error (10 min, ★★☆)
#
# You get the log-weights `log_w` of shape `[N, B]`: `log_w[k, b]` $= \log p(x_b \mid z_k)$ for $N$ samples
# $z_k \sim p(z)$ and $B$ data points. Return, for every data point,
#
# - `log_p_hat` $= \log \frac1N \sum_k w_k$, computed in log space (`torch.logsumexp`, then $-\log N$): the weights
#   of a real model are often $e^{-2000}$, which is 0 in floating point;
# - `rel_se`, the standard error of $\hat p_N$ relative to $\hat p_N$: $\operatorname{std}(w) / (\sqrt N\, \hat p_N)$. Compute it
#   from the ratios $w_k / \hat p_N = \exp(\text{log\_w} - \text{log\_p\_hat})$, which never underflow
#   (`torch.std`'s default, dividing by $N - 1$, is what the check expects; dividing by $N$ passes too).

# %%
def naive_mc(log_w):
    """log_w [N, B] (log p(x_b | z_k), z_k ~ p(z)) -> log p-hat [B], relative standard error [B]."""
    ### BEGIN SOLUTION
    n = log_w.shape[0]
    log_p_hat = torch.logsumexp(log_w, dim=0) - math.log(n)            # log of the average weight
    rel_se = torch.exp(log_w - log_p_hat).std(dim=0) / math.sqrt(n)    # std(w / p-hat) / sqrt(N)
    return log_p_hat, rel_se
    ### END SOLUTION

# %%
exercises.check_naive_mc(naive_mc)

# %%
# NBVAL_IGNORE_OUTPUT
exercises.hints(
    "Reduce over the samples, `dim=0`: the answer has one entry per data point, shape `[B]`. "
    "`torch.logsumexp(log_w, dim=0)` is the log of the SUM of the weights; the average is $N$ times smaller.",
    "`log_p_hat = torch.logsumexp(log_w, dim=0) - math.log(N)`. The ratios $w_k / \\hat p_N$ are "
    "`torch.exp(log_w - log_p_hat)`: `[N, B]`, each column averaging to 1.",
    "`rel_se = torch.exp(log_w - log_p_hat).std(dim=0) / math.sqrt(N)`; return `(log_p_hat, rel_se)`.")

# %%
naive_mc_used = exercises.choose(exercises.check_naive_mc(naive_mc), naive_mc, nb04.naive_mc)
naive_mc_used

# %% [markdown]
# The estimator on the five weights above; its standard error says how far to trust it:

# %%
est, rel_se = naive_mc_used(log_w)                                                  # log_w: [5, 1]
print(f"N = 5: p-hat = {est.exp().item():.4f} +- {100 * rel_se.item():.0f}% (standard error; exact p(x) {p_exact:.4f})")
assert torch.allclose(est, torch.logsumexp(log_w, 0) - math.log(5))

# %% [markdown]
# ## Many repeated estimates, for every N
#
# One estimate says little about an estimator; its distribution over many runs says everything. The
# cell below runs naive Monte Carlo **200 times** for each $N$ on the slider ($10, 18, 32, \dots, 10^5$),
# vectorized: each run draws $10^5$ samples once, and its estimate at $N$ averages its first $N$
# weights, reduced by your `naive_mc` (once it passed). The exact relative error of one weight,
# $\sqrt{\operatorname{Var}[w]}/p(x)$, comes from a quadrature of $\mathbb E[w^2] = \int p(z)\, p(x \mid z)^2\, dz$.

# %%
calls = naive_mc_used.calls
log_p_hat = repeated_estimates(x, model, nb04.N_GRID, 200, generator=g, estimate=naive_mc_used)  # [17 N's, 200 runs]
print(f"{'your' if naive_mc_used.student else 'lvmlib' + chr(39) + 's'} naive_mc reduced the runs: "
      f"{naive_mc_used.calls - calls} calls (17 N's x 10 blocks of 20 runs)")
rel_std_one = relative_std_one_sample(x, model)
samples_pre = nb04.num_samples_precompute(log_p_hat, nb04.N_GRID, math.log(p_exact), rel_std_one)
print(f"exact p(x) = {p_exact:.5f};  sqrt(Var[w]) / p(x) = {rel_std_one:.3f} for one weight")

# %% [markdown]
# Left: where the 200 estimates $\hat p_N$ fall, in units of the exact $p(x)$ (red line; the dashed line is
# their mean). Right: their spread against $N$, with the $1/\sqrt N$ line of the formula above. Move
# **N**: with 10 samples estimates are off by about half of $p(x)$ in either direction; every factor of
# 100 in $N$ buys one more correct digit, no more.

# %%
# NBVAL_IGNORE_OUTPUT
nb04.num_samples_app(samples_pre, num_samples=100)

# %% [markdown]
# ### Exercise 4.2: predict, then move the slider (5 min, ★☆☆)
#
# At $N = 100$ the estimates have a standard deviation of about $19\%$ of $p(x)$ ($1.87 / \sqrt{100}$). (a) **Commit
# to a prediction below**: what is it at $N = 10\,000$? And how many samples would you need for $0.2\%$? (b) Move
# **N** and check. (c) Averaging the *log*-weights instead (the mistake Exercise 4.1 warns about): would more
# samples fix it?

# %%
# NBVAL_IGNORE_OUTPUT
exercises.predict("The spread of p-hat at N = 10 000, in % of p(x) (it is 19% at N = 100)?", float, 1.87,
                  "About 2%: the spread falls as 1/sqrt(N), so 100 times more samples make it 10 times narrower "
                  "(1.87 / sqrt(10 000) = 1.9%). 0.2% needs about N = 10^6, another factor 100.", tolerance=0.2)

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# (a) The spread falls as $1/\sqrt N$: 100 times more samples, 10 times narrower, about $2\%$ at $N = 10^4$;
# $0.2\%$ needs about $N = 10^6$ (another factor 100). (b) The histogram narrows and the right panel follows the $1/\sqrt N$ line.
# (c) No: $\frac1N \sum_k \log w_k$ converges to $\mathbb E[\log w] < \log \mathbb E[w] = \log p(x)$ (Jensen's
# inequality, strict unless $w$ is constant): more samples make it precise about the wrong number.
#
# </details>

# %% [markdown]
# **Check: unbiased.** At every $N$, the mean of the 200 estimates is within a few standard errors of
# $p(x)$ (a standard error is the spread of the estimates divided by $\sqrt{200}$).

# %%
z_scores = (samples_pre.mean - p_exact) / samples_pre.se
for i in (0, 4, 8, 12, 16):
    print(f"N = {nb04.N_GRID[i]:6d}: mean of p-hat = {samples_pre.mean[i]:.5f} +- {samples_pre.se[i]:.5f}  "
          f"(exact {p_exact:.5f}, {z_scores[i]:+.2f} standard errors)")
print(f"largest |mean - p(x)| over all {len(nb04.N_GRID)} N: {np.abs(z_scores).max():.2f} standard errors")
assert np.abs(z_scores).max() < 4

# %% [markdown]
# **Check: the variance falls as 1/N.** On log-log axes the variance of $\hat p_N$ against $N$ is a line of
# slope $-1$, at the height $\operatorname{Var}[w]$ the formula predicts.

# %%
variance = samples_pre.std ** 2
slope = np.polyfit(np.log(nb04.N_GRID), np.log(variance), 1)[0]
ratio = variance * np.array(nb04.N_GRID) / (rel_std_one * p_exact) ** 2   # measured / predicted Var
print(f"log-log slope of Var[p-hat] against N: {slope:.3f}  (theory: -1)")
print(f"measured / predicted variance: median {np.median(ratio):.2f}, range {ratio.min():.2f} .. {ratio.max():.2f}")
assert abs(slope + 1) < 0.1 and 0.8 < np.median(ratio) < 1.25

# %% [markdown]
# ## The lecture's uniform version
#
# Sampling $z$ uniformly over the box $[-5, 5]$ (volume $V = 10$) and averaging $V\, p(x, z)$ is
# `naive_monte_carlo(..., proposal=uniform_box(-5, 5, dim=1))`. It is unbiased too, but its variance is
# a different constant, $\operatorname{Var}[w] = V \int_{\text{box}} p(x, z)^2\, dz - p(x)^2$. Here, 4000 runs
# of each with $N = 100$:

# %%
box = uniform_box(-5.0, 5.0, dim=1, dtype=torch.float64)
runs = x.expand(4000, 1)                                              # 4000 copies: each its own samples
for label, proposal, limits in (("prior p(z)", None, (-10.0, 10.0)), ("uniform on [-5, 5]", box, (-5.0, 5.0))):
    ratio_hat = (naive_monte_carlo(runs, model, 100, proposal=proposal, generator=g) - math.log(p_exact)).exp()
    mean, se = ratio_hat.mean().item(), ratio_hat.std().item() / math.sqrt(len(ratio_hat))
    theory = relative_std_one_sample(x, model, proposal, low=limits[0], high=limits[1]) / 10
    print(f"{label:20s}: mean p-hat / p = {mean:.4f} +- {se:.4f};  relative error {ratio_hat.std().item():.3f} "
          f"(formula: {theory:.3f})")
    assert abs(mean - 1) < 4 * se and abs(ratio_hat.std().item() / theory - 1) < 0.1

# %% [markdown]
# The uniform box spends most of its samples where neither the prior nor the likelihood has mass, and
# is noisier here. Neither proposal looks at $x$: that is what makes them naive.
#
# ## Why it fails: a peaked likelihood
#
# The constant $\sqrt{\operatorname{Var}[w]}/p(x)$ is large when $p(x \mid z)$ is large only on a
# small part of the prior: then almost every $z_k$ "explains $x$ badly" (the lecture's words), gets a
# weight near zero, and the estimate rests on the rare sample that lands in the right place.
#
# To see it, take $z \sim \mathcal N(0, I_d)$ and $x \mid z \sim \mathcal N(z, \sigma^2 I_d)$: the likelihood
# is a bump of width $\sigma$ around $x$ in each of the $d$ latent directions. A prior sample lands under
# it with a probability of roughly $(c\,\sigma)^d$: small noise and more dimensions both shrink it, the
# second exponentially. For every $\sigma$ and $d$ on the sliders, the cell below runs 400 estimates with
# $N = 100$ samples each.

# %%
peaked_pre = nb04.peaked_precompute(nb04.PEAKED_X, num_samples=100, repetitions=400, generator=g)
print("sigma on the slider:", nb04.SIGMAS, "  d on the slider:", nb04.DIMS)

# %% [markdown]
# - **noise σ**: the red bump (left) narrows; fewer prior samples (ticks) land under it.
# - **latent dim d**: each added coordinate must *also* land under its bump.
#
# Middle: the share of the total weight carried by the heaviest samples; the red point is how few of
# the 40 000 samples carry 99% of it (all of them would sit on the dotted line if the weights were
# equal). Right: the 400 estimates on a log scale. When the likelihood is peaked, most estimates are
# near zero (many orders of magnitude below $p(x)$) and a rare run that hit the bump gives a huge value:
# the average is still unbiased, but a single run is almost always far off.

# %%
# NBVAL_IGNORE_OUTPUT
nb04.peaked_app(peaked_pre, sigma=0.1, dim=2)

# %% [markdown]
# **Check: the weight collapses, the estimates become near-zeros with rare huge values.**

# %%
settings = peaked_pre.settings
for s, d in ((1.0, 1), (0.1, 1), (0.1, 2), (0.1, 4), (0.0316, 4)):
    st = settings[(s, d)]
    print(f"sigma = {s:<6} d = {d}: 99% of the weight on {100 * st.fraction99:7.3f}% of the samples; "
          f"p-hat / p: median {st.median:8.2g}, {100 * st.below:3.0f}% below 0.01, largest {st.max:8.3g}")
broad, peaked = settings[(1.0, 1)], settings[(0.1, 4)]
assert broad.fraction99 > 0.5 and peaked.fraction99 < 0.01 * broad.fraction99
assert peaked.median < 0.01 and peaked.max > 1          # mostly near zero, rarely huge

# %% [markdown]
# ### Exercise 4.3: derive the mean and variance, and the bias of the log (10 min, ★★☆)
#
# For i.i.d. weights $w_1, \dots, w_N$ with $\mathbb E[w] = p(x)$, show that $\mathbb E[\hat p_N] = p(x)$ and
# $\operatorname{Var}[\hat p_N] = \operatorname{Var}[w] / N$. Then show that $\mathbb E[\log \hat p_N] \le \log p(x)$: the log of an
# unbiased estimate is biased low. Which of the two does training by maximum likelihood need? (Write your
# answer down; the solutions edition has ours.)

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# Linearity: $\mathbb E[\hat p_N] = \frac1N \sum_k \mathbb E[w_k] = p(x)$. Independence: the variances add,
# $\operatorname{Var}[\hat p_N] = \frac{1}{N^2} \sum_k \operatorname{Var}[w_k] = \operatorname{Var}[w] / N$. $\log$ is concave, so by Jensen
# $\mathbb E[\log \hat p_N] \le \log \mathbb E[\hat p_N] = \log p(x)$; the gap shrinks as $\hat p_N$ concentrates (about
# $\operatorname{Var}[w] / (2 N p(x)^2)$ for large $N$, by a second-order Taylor expansion). Maximum likelihood needs $\log p(x)$,
# so a plug-in $\log \hat p_N$ is a biased (low) estimate of the objective: the starting point of the ELBO (notebook 06).
#
# </details>

# %% [markdown]
# ## What to take away
#
# - $p(x) = \mathbb E_{p(z)}[p(x \mid z)]$ (or $V\, \mathbb E_{\text{uniform}}[p(x, z)]$): average the weights of
#   $N$ random $z$. Unbiased, variance $\operatorname{Var}[w]/N$, relative error $\propto 1/\sqrt N$.
# - The constant is the problem: when few $z$ explain $x$ (a peaked likelihood, many latent dimensions,
#   real data), nearly all the weight sits on a vanishing fraction of the samples, and a typical
#   estimate is far too small. Averaging more samples only helps at the rate $1/\sqrt N$.
# - The fix is to sample $z$ where $p(x \mid z)$ is large, which depends on $x$: a proposal $q(z \mid x)$,
#   importance sampling (notebook 05).

# %% [markdown]
# ## Instructor notes
#
# - The student edition leaves Exercise 4.1 to fill in; `notebooks/solutions/04_naive_monte_carlo.ipynb` has it
#   solved (both built from `tools/notebook_src/04_naive_monte_carlo.py` by `tools/nbbuild.py`, nbgrader markers).
#   `lvmlib.exercises.check_naive_mc` names the usual mistakes: averaging the log-weights (Jensen), a missing
#   $-\log N$, exponentiating before averaging (underflow at $-2000$), a standard error divided by $N$ or not
#   by $\sqrt N$, the spread of the log-weights instead of the weights. `exercises.choose` hands the
#   student's function to `repeated_estimates(..., estimate=)`, which reduces every run's first $N$ weights
#   with it (the samples are the same as with lvmlib's reduction).
# - There are no timings or library comparisons in this notebook; every Monte Carlo claim is asserted with a
#   margin of several standard errors from a seeded generator.
