# %% [markdown]
# # 02 · Mixtures of Gaussians and EM
#
# **About 80 minutes** (reading and the apps 35, exercises 45).
#
# **You will learn to**
# - read a mixture of Gaussians as a latent variable model (a categorical $z$, a Gaussian per value);
# - write EM yourself: the E-step (responsibilities, normalised per point in log space; Exercise 2.1),
#   the M-step (weights, means and covariances from the responsibilities; Exercise 2.2) and the loop
#   with its stopping rule on the bound (Exercise 2.3), and say why the likelihood never goes down;
# - choose the number of components on held-out data or by BIC;
# - cluster digit images and see why clusters need not be classes.
#
# **Before this notebook:** 01 (the generative story $z \sim p(z)$, $x \sim p(x \mid z)$, and the discrete case).
#
# **Exercises:** 2.1 is code (the E-step: 10 min, ★★☆); 2.2 is code (the M-step: 12 min, ★★☆); 2.3 is code
# (the EM loop and its stopping rule, from a skeleton: 12 min, ★★☆); 2.4 is a prediction you commit to, then
# check with the slider (5 min, ★☆☆); 2.5 is a derivation (8 min, ★★★). Each code exercise has a check cell
# that names common mistakes and a ladder of hints, and **the notebook then runs your functions**: the EM
# app below steps with your E-step, your M-step and your loop once their checks pass (with `lvmlib`'s until
# then, and the notebook says which).
#
# %% [markdown]
# The simplest latent variable model with a useful latent: $z$ is **categorical**, it picks one of $K$
# components, and given $z$ the data point is Gaussian (CS236, lecture 5):
#
# $$z \sim \operatorname{Categorical}(\pi_1, \dots, \pi_K), \qquad x \mid z = k \sim \mathcal N(\mu_k, \Sigma_k),
#   \qquad p(x) = \sum_{k=1}^{K} \pi_k\, \mathcal N(x; \mu_k, \Sigma_k).$$
#
# There is no neural network here: $p(x \mid z)$ is a **lookup table** from $z$ to a mean and a covariance.
# Sampling follows the story (first $z \sim p(z)$, then $x \sim p(x \mid z)$), and the posterior
#
# $$p(z = k \mid x) = \frac{\pi_k\, \mathcal N(x; \mu_k, \Sigma_k)}{\sum_j \pi_j\, \mathcal N(x; \mu_j, \Sigma_j)}$$
#
# is a *soft clustering*: how responsible component $k$ is for $x$. This notebook fits mixtures by
# maximum likelihood with **EM** and watches it work step by step on 2-D data, asks how many components
# to use, and clusters images of handwritten digits: reasonable, but not the classes.

# %% tags=["parameters"]
# The lecture's scale is one switch away (a GPU or Colab's helps): dataset = "fashion-mnist" (28x28, 60,000 images;
# offline from Debian's dataset-fashion-mnist package, else OpenML) or "mnist" (OpenML). n_images keeps the first n
# training images (and n // 4 test images; None: all); the EM fits of the digits section run to convergence. Numbers
# quoted in the text are those of the default, the 8x8 digits.
dataset = "digits"
n_images = None

# %%
import warnings

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_limits

import lvmlib
from lvmlib import exercises
from lvmlib.mixtures import GaussianMixture, reference   # reference: lvmlib's textbook EM steps
from lvmlib.models import MixtureOfGaussians
from lvmlib.lessons import nb02
from lvmlib.lessons.nb02.digits import cluster_app, cluster_means_figure, cluster_summary, digits_clusters, fit_restarts, restarts_figure
from lvmlib.mixtures import em_bound

lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

# %% [markdown]
# ## One Gaussian or a mixture?
#
# The data: 1500 points from four Gaussian blobs of different shapes, two of them overlapping; we fit on
# 1000 and keep 500 aside. `lvmlib.mixtures.GaussianMixture` has scikit-learn's API (`fit`, `score`,
# `predict_proba`, `bic`, the fitted `weights_`, `means_`, `covariances_`) and runs on torch.
# We fit one Gaussian ($K = 1$) and a mixture of $K = 4$, turn both into latent variable models
# (`MixtureOfGaussians.from_gmm`: `prior()` is $p(z)$, `likelihood(z)` is $p(x \mid z)$), score the
# held-out points and draw samples by ancestral sampling.

# %%
x_train, x_test, y_train = nb02.blobs_data()          # [1000, 2], [500, 2] float64; y: the blob of each point
one = GaussianMixture(1, random_state=0).fit(x_train)
four = GaussianMixture(4, random_state=0).fit(x_train)
models = {"one Gaussian": MixtureOfGaussians.from_gmm(one), "mixture of 4": MixtureOfGaussians.from_gmm(four)}
held_out = {name: m.log_marginal(x_test).mean().item() for name, m in models.items()}
samples = {name: m.sample(1000, generator=g) for name, m in models.items()}   # (z, x): z ~ p(z), x ~ p(x | z)
for name, v in held_out.items():
    print(f"{name:13s}: held-out mean log p(x) = {v:.3f} nats per point")
print("mixture weights pi =", np.round(four.weights_.numpy(), 3))

# %%
fig = nb02.one_vs_many_figure(x_train, models, samples, held_out)
lvmlib.plotting.savefig(fig, "02_one_vs_many")

# %% [markdown]
# One Gaussian has one ellipse to cover four blobs: it spreads its mass over the empty space between
# them, and its samples (bottom left) land there. The mixture puts a Gaussian on each blob; its samples,
# coloured by the $z$ drawn first, look like the data. On held-out points the mixture's density is
# higher by more than a nat per point on average (a factor $e^{1.3} \approx 3.7$).
#
# **Check.** The mixture wins on held-out data; the sampled $z$ follow the weights $\pi$; and
# `MixtureOfGaussians.log_marginal` (a `torch.distributions.MixtureSameFamily`) agrees with
# `GaussianMixture.score_samples` (scikit-learn's formulas), two code paths for the same sum.

# %%
gain = held_out["mixture of 4"] - held_out["one Gaussian"]
z_many, _ = models["mixture of 4"].sample(20000, generator=g)
freq = torch.bincount(z_many, minlength=4).double() / 20000
pi = four.weights_
paths = (models["mixture of 4"].log_marginal(x_test) - four.score_samples(x_test)).abs().max().item()
print(f"mixture - one Gaussian: {gain:.3f} nats per held-out point (density x{np.exp(gain):.1f})")
print("frequencies of z in 20000 samples:", np.round(freq.numpy(), 3), "  pi:", np.round(pi.numpy(), 3))
print(f"log_marginal vs score_samples: max difference {'< 1e-10' if paths < 1e-10 else paths}")
assert gain > 1.0
assert ((freq - pi).abs() < 4 * torch.sqrt(pi * (1 - pi) / 20000)).all()
assert paths < 1e-10

# %% [markdown]
# ## EM, step by step
#
# Maximum likelihood asks for $\max_\theta \sum_n \log \sum_k \pi_k\, \mathcal N(x_n; \mu_k, \Sigma_k)$: the log
# of a sum, with no closed-form maximum. If we knew each point's $z_n$ it would be easy: fit each
# Gaussian to its own points. **EM** (expectation-maximization) fills in the missing $z_n$ softly and
# alternates:
#
# - **E-step**: responsibilities under the current parameters $\theta_t$,
#   $r_{nk} = p(z_n = k \mid x_n, \theta_t)$.
# - **M-step**: weighted Gaussian fits, with $N_k = \sum_n r_{nk}$:
#   $\pi_k = N_k / N$, $\mu_k = \frac{1}{N_k} \sum_n r_{nk}\, x_n$,
#   $\Sigma_k = \frac{1}{N_k} \sum_n r_{nk} (x_n - \mu_k)(x_n - \mu_k)^\top$.
#
# Why it works: for any distribution $q_n(z)$, Jensen's inequality gives a **lower bound** (the ELBO of
# notebook 06),
#
# $$\log p(x_n; \theta) = \log \sum_k q_n(k)\, \frac{p(x_n, z = k; \theta)}{q_n(k)}
#   \;\ge\; \sum_k q_n(k) \log \frac{p(x_n, z = k; \theta)}{q_n(k)} =: \mathcal L_n(q, \theta),$$
#
# with equality when $q_n$ is the posterior $p(z \mid x_n; \theta)$. The E-step sets $q_t$ to that
# posterior, so the bound touches $\log p$ at $\theta_t$; the M-step maximizes $\mathcal L(q_t, \theta)$ over
# $\theta$ (the formulas above). So, per point on average,
#
# $$\ell(\theta_t) = \mathcal L(q_t, \theta_t) \;\le\; \mathcal L(q_t, \theta_{t+1}) \;\le\; \ell(\theta_{t+1}):$$
#
# the log-likelihood $\ell$ never decreases. It climbs to a *local* maximum, which depends on the start.

# %% [markdown]
# ### Exercise 2.1: the E-step (10 min, ★★☆)
#
# Given the current parameters, compute the responsibilities $r_{nk} = p(z_n = k \mid x_n)$. Work in log
# space: the log joint $\log \pi_k + \log \mathcal N(x_n; \mu_k, \Sigma_k)$ (use
# `MultivariateNormal(means, covariances).log_prob(x[:, None, :])`, shape `[N, K]`), then normalise
# **each point** over the components with `torch.logsumexp`, and only then exponentiate. The check
# includes points whose log-densities are around $-2000$, where $\exp$ underflows to 0.

# %%
from torch.distributions import MultivariateNormal


def e_step(x, weights, means, covariances):
    """Responsibilities r[n, k] = p(z_n = k | x_n).

    x [N, D], weights [K], means [K, D], covariances [K, D, D] -> r [N, K] (each row sums to 1).
    """
    ### BEGIN SOLUTION
    log_joint = torch.log(weights) + MultivariateNormal(means, covariances).log_prob(x[:, None, :])  # [N, K]
    log_r = log_joint - torch.logsumexp(log_joint, dim=1, keepdim=True)   # normalise each point, in log space
    return log_r.exp()
    ### END SOLUTION

# %%
exercises.check_e_step(e_step)

# %%
# NBVAL_IGNORE_OUTPUT
exercises.hints(
    "Build the `[N, K]` table of log joints first: `torch.log(weights)` has shape `[K]` and broadcasts against "
    "`MultivariateNormal(means, covariances).log_prob(x[:, None, :])`, which is `[N, K]`.",
    "Normalise each ROW (each point) in log space: subtract `torch.logsumexp(log_joint, dim=1, keepdim=True)`; "
    "`keepdim` keeps the shape `[N, 1]` so that it broadcasts.",
    "`log_r = log_joint - torch.logsumexp(log_joint, dim=1, keepdim=True)`, then `return log_r.exp()`.")

# %%
e_step_used = exercises.choose(exercises.check_e_step(e_step), e_step, reference.e_step)
e_step_used

# %% [markdown]
# ### Exercise 2.2: the M-step (12 min, ★★☆)
#
# Given responsibilities `r` of shape `[N, K]`, fit each Gaussian to its weighted points:
# $N_k = \sum_n r_{nk}$, $\pi_k = N_k / N$, $\mu_k = \frac{1}{N_k} \sum_n r_{nk} x_n$,
# $\Sigma_k = \frac{1}{N_k} \sum_n r_{nk} (x_n - \mu_k)(x_n - \mu_k)^\top$ (with the new $\mu_k$; no `reg_covar`
# here). `torch.einsum` writes the weighted sum of outer products in one line.

# %%
def m_step(x, r):
    """x [N, D], r [N, K] -> weights [K], means [K, D], covariances [K, D, D]."""
    ### BEGIN SOLUTION
    n_k = r.sum(0)                                                # [K]
    weights = n_k / x.shape[0]
    means = (r.T @ x) / n_k[:, None]                              # [K, D]
    diff = x[None, :, :] - means[:, None, :]                      # [K, N, D]
    covariances = torch.einsum("nk,kni,knj->kij", r, diff, diff) / n_k[:, None, None]   # [K, D, D]
    return weights, means, covariances
    ### END SOLUTION

# %%
exercises.check_m_step(m_step)

# %%
# NBVAL_IGNORE_OUTPUT
exercises.hints(
    "The soft counts first: `n_k`, the responsibilities summed over the data points, shape `[K]`; they sum to N. "
    "Every estimate is a weighted average with weights `r[:, k] / n_k[k]`.",
    "Means: `r.T @ x` is `[K, D]`, the weighted sums; divide each row by its `n_k`. Covariances: centre with the "
    "NEW means, broadcasting `x` `[N, D]` against `means` `[K, D]` into differences of shape `[K, N, D]`, then "
    "weight each outer product by `r` (an `einsum` over n does the sum).",
    "`torch.einsum(\"nk,kni,knj->kij\", r, diff, diff) / n_k[:, None, None]` gives the `[K, D, D]` covariances.")

# %%
m_step_used = exercises.choose(exercises.check_m_step(m_step), m_step, reference.m_step)
m_step_used

# %% [markdown]
# ### Exercise 2.3: the EM loop and its stopping rule (12 min, ★★☆)
#
# Put the two steps together. The loop below is written; fill in its body. Each iteration runs the E-step
# on the latest parameters, the M-step on those responsibilities, records the new parameters and their mean
# log-likelihood $\ell(\theta_t) = \frac1N \sum_n \log p(x_n; \theta_t)$ (`log_likelihood(x, *params[-1])`), and
# **stops when the mean log-likelihood rose by less than `tol`** over the last iteration: the bound has
# stopped climbing. (EM never lowers it, so the rise is $\ge 0$ up to round-off; scikit-learn tests
# `abs(change) < tol`, and so may you.) Use the `e_step` and `m_step` you are given (the app passes yours,
# with `reg_covar` added to the M-step's covariances). If the rule never fires, stop after `max_iter`
# iterations and say so: `converged = False`. The check compares your iterates with lvmlib's EM on a few
# problems, a `max_iter` that cuts EM short and a `tol` so loose that one iteration is enough.

# %%
from lvmlib.mixtures.reference import log_likelihood   # mean log p(x_n) under (weights, means, covariances)


def em_loop(x, weights, means, covariances, e_step, m_step, *, tol=1e-3, max_iter=100):
    """EM from the given parameters with the given steps, until the mean log-likelihood rises by less than tol.

    Returns (params, log_liks, converged): params[t] = (weights, means, covariances) after t iterations
    (params[0] the start), log_liks[t] = log_likelihood(x, *params[t]); converged: whether the rule stopped it.
    """
    params = [(weights, means, covariances)]
    log_liks = [log_likelihood(x, weights, means, covariances)]
    for t in range(1, max_iter + 1):
        # the blanks: the E-step on params[-1]; the M-step; record params and log_liks; stop (return ..., True)?
        ### BEGIN SOLUTION
        r = e_step(x, *params[-1])                          # E-step under theta_{t-1}: [N, K]
        params.append(tuple(m_step(x, r)))                  # M-step: theta_t
        log_liks.append(log_likelihood(x, *params[-1]))
        if abs(log_liks[-1] - log_liks[-2]) < tol:          # the bound rose by less than tol: converged
            return params, log_liks, True
        ### END SOLUTION
    return params, log_liks, False

# %%
exercises.check_em_loop(em_loop)

# %%
# NBVAL_IGNORE_OUTPUT
exercises.hints(
    "One iteration is one line per blank: the E-step from the latest parameters (`params[-1]`, unpacked into "
    "`e_step`), then the M-step gives the new weights, means and covariances. Append them to `params`, and "
    "their `log_likelihood` to `log_liks`.",
    "Test the rule AFTER recording: the rise of the last iteration is `log_liks[-1] - log_liks[-2]`. "
    "Testing before the M-step, or against `log_liks[0]`, stops at the wrong iteration.",
    "`if abs(log_liks[-1] - log_liks[-2]) < tol: return params, log_liks, True`; the `return` after the loop "
    "(ran out of `max_iter`) says `False`.")

# %%
em_loop_used = exercises.choose(exercises.check_em_loop(em_loop), em_loop, reference.em_loop)
em_loop_used

# %% [markdown]
# ## EM at work
#
# Now your three functions run EM on the 2-D data, from three crude starts (`init_params="random_from_data"`
# of `GaussianMixture`: four data points drawn as seeds, every point given to its nearest; the default
# k-means start would leave EM little to do), with `tol = 1e-5` and `reg_covar` $= 10^{-6}$ added to your
# M-step's covariances, as scikit-learn does. Every iteration's parameters are kept, and the cell
# precomputes what the slider shows at every iteration, with your E-step's responsibilities.
#
# `lvmlib.mixtures.GaussianMixture` does the same two steps on a fast path (Cholesky factors instead of
# covariances, scikit-learn's loop, which tests the rise one M-step later and so runs one more iteration).
# Run from the same starts, it must take the same path: the check below compares every iterate.

# %%
fits = {name: nb02.fit_em_start(x_train, seed, steps=nb02.EMSteps(e_step_used, m_step_used, em_loop_used))
        for name, seed in nb02.EM_STARTS.items()}   # tol = 1e-5: your loop, your steps (once they passed)
runs = {name: nb02.em_precompute(gm, x_train) for name, gm in fits.items()}  # colours, ellipses, bounds per t
for name, gm in fits.items():
    lb = gm.history_["lower_bound"]
    print(f"{name}: {gm.n_iter_:2d} iterations, mean log-likelihood {lb[0]:.3f} at the start -> {lb[-1]:.3f}")
whose = {f.name: "yours" if f.student else "lvmlib's" for f in (e_step_used, m_step_used, em_loop_used)}
print(f"the EM app's runs used: e_step {whose['e_step']}, m_step {whose['m_step']}, em_loop {whose['em_loop']}")

# %%
for name, seed in nb02.EM_STARTS.items():   # the same starts on lvmlib's fast path
    diff, steps = nb02.path_difference(fits[name], nb02.fit_em_start(x_train, seed))
    print(f"{name}: largest difference from lvmlib.mixtures.GaussianMixture over {steps} iterations: "
          f"{'< 1e-8' if diff < 1e-8 else diff}")
    assert diff < 1e-8

# %% [markdown]
# Left: every training point in the colour of its most responsible component under $\theta_t$, pale
# where the responsibility is shared (the $r_{nk}$ the next M-step uses); the ellipses are one and two
# standard deviations of each component, thicker for a larger weight $\pi_k$. Right: the mean
# log-likelihood of every start against the iteration; the chosen start is blue, the red dot is
# iteration $t$ and the green triangle the bound after the next M-step, before the E-step closes the gap.
#
# - **start 1**: red begins stretched over two distant blobs (top right and bottom centre) while orange and
#   blue share the long blob on the left. Over about 25 iterations red lets go of the bottom-centre blob,
#   blue takes it over, orange gets the long blob to itself, and the bound climbs to the best fit.
# - **start 2**: green stretches over two blobs (the long one and the broad one below it) while blue
#   and red share the compact blob at the top right, and the bound flattens early. Is this the best EM can
#   do from here? Exercise 2.4 asks.
# - **start 3**: a long plateau. Red holds the compact blob and the long one together, and a thin green
#   component squeezed between red and blue gains almost nothing per step for 70 iterations; then it
#   slides onto the long blob, red lets go of it, and the bound jumps to the best fit. A looser stopping
#   rule (scikit-learn's default `tol = 1e-3`) stops on the plateau: see the check.

# %%
# NBVAL_IGNORE_OUTPUT
nb02.em_app(runs, step=0)

# %% [markdown]
# ### Exercise 2.4: predict, then move the slider (5 min, ★☆☆)
#
# Pick **start 2** (two components on one blob, one component over two). **Commit to a prediction below
# before you move the slider**; the answer and the why appear once you have. Then (b) move the iteration
# slider to the end and compare the final mean log-likelihood with start 1's, and (c) say what you would
# change to get the best fit reliably.

# %%
# NBVAL_IGNORE_OUTPUT
exercises.predict("2.4")

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# (b) Its curve flattens clearly below start 1's. (c) Several starts and keep the best likelihood (`n_init`),
# or a better start (k-means, the default): that is what `GaussianMixture(n_init=...)` and the digits fit
# below do.
#
# </details>

# %% [markdown]
# **Check: the lower bound never decreases.** For every start, in every iteration, the M-step raises
# $\mathcal L(q_t, \cdot)$ and the E-step raises it again to $\ell(\theta_{t+1})$; at $q_t$ = the posterior the bound
# equals the log-likelihood. (Tolerance $10^{-10}$: `reg_covar` $= 10^{-6}$ is added to every variance, which
# moves the M-step a hair off the exact maximum.) And start 3 with `tol = 1e-3` stops on its plateau.

# %%
for name, gm in fits.items():
    r = runs[name]
    lb = np.asarray(gm.history_["lower_bound"])
    m_rise, e_rise = r.m_bound - lb[:-1], lb[1:] - r.m_bound
    tight = max(abs(em_bound(x_train, *(gm.history_[p][t] for p in ("weights", "means", "covariances")),
                                  gm.predict_proba_at(x_train, t)) - lb[t]) for t in (0, gm.n_iter_ // 2, gm.n_iter_))
    print(f"{name}: smallest rise per iteration {np.diff(lb).min():.1e}; by the M-steps >= {m_rise.min():.1e}, "
          f"by the E-steps >= {e_rise.min():.1e}; bound tight at the posterior: {tight < 1e-12}")
    assert np.diff(lb).min() >= -1e-10 and m_rise.min() >= -1e-10 and e_rise.min() >= -1e-10 and tight < 1e-12
early = GaussianMixture(4, init_params="random_from_data", random_state=nb02.EM_STARTS["start 3"],
                        tol=1e-3).fit(x_train)
print(f"start 3 with tol = 1e-3: stops after {early.n_iter_} iterations at {early.lower_bound_:.3f} "
      f"(with tol = 1e-5: {runs['start 3'].lower_bound[-1]:.3f})")
assert early.converged_ and early.lower_bound_ < runs["start 3"].lower_bound[-1] - 0.1

# %% [markdown]
# ## How many components?
#
# $K$ is ours to choose. The slider below shows a fit of the mixture for every $K$ (and initialization seed):
# all 100 fits are made once, before the app is drawn, which is cheap because a 2-D fit of 1000 points is a
# few EM iterations after a k-means start (timings in the instructor notes at the end).
#
# Move **K**. With $K = 1$ or $2$ one ellipse has to cover several blobs (as above); at $K = 4$ the
# components match the blobs, including the overlapping pair. Beyond 4 the extra components cut blobs
# into pieces; move the **init seed** at $K = 7$: the cuts change from seed to seed, while the training
# log-likelihood hardly moves. The held-out log-likelihood (bold, above the picture) stops improving at 4.

# %%
# NBVAL_IGNORE_OUTPUT
nb02.k_app(x_train, x_test, k=4)

# %% [markdown]
# The same question as numbers: for $K = 1, \dots, 10$ (best of 3 starts each), the mean log-likelihood of
# the training and of the held-out points, and the Bayesian information criterion
#
# $$\mathrm{BIC} = -2 \sum_n \log p(x_n; \hat\theta) + P \log N, \qquad P = (K - 1) + K D + K \tfrac{D(D+1)}{2}
#   \;\; (= 6K - 1 \text{ for } D = 2),$$
#
# which pays $\log N$ for every parameter. The training likelihood keeps rising with $K$ (more components
# can only help on the data they were fit to); the held-out likelihood and BIC say 4.

# %%
sweep = nb02.k_sweep(x_train, x_test, range(1, 11), n_init=3)
fig = nb02.k_sweep_figure(sweep)
lvmlib.plotting.savefig(fig, "02_k_sweep")

# %%
print(" K   train    held-out   BIC")
for k, tr, te, b in zip(sweep.ks, sweep.train_ll, sweep.test_ll, sweep.bic):
    print(f"{k:2d}  {tr:7.3f}  {te:7.3f}  {b:8.1f}")
best_bic, best_test = int(sweep.ks[sweep.bic.argmin()]), int(sweep.ks[sweep.test_ll.argmax()])
print(f"BIC picks K = {best_bic}; held-out log-likelihood is highest at K = {best_test}")
assert best_bic == 4 and best_test == 4
assert sweep.train_ll[-1] > sweep.train_ll[3] and sweep.test_ll[-1] < sweep.test_ll[3]

# %% [markdown]
# ## Clustering digits
#
# Now images: scikit-learn's 8x8 handwritten digits (1347 for training, 450 held out), each a vector of 64
# pixel intensities in $[0, 1]$. We fit $K = 10$ components and look at what they found, without ever
# showing the model a label.
#
# Which covariance? Pixels are strongly correlated (a stroke that moves moves several pixels), so we
# give each component a **full** covariance. That is $64 \cdot 65 / 2 = 2080$ numbers per component, estimated
# from about 135 images each, and four border pixels are 0 in every training image: unregularized,
# the covariances collapse onto the few directions the images span. `reg_covar = 0.05` adds 0.05 to
# every pixel's variance, a noise floor of standard deviation 0.22 (about 3.5 of the 16 grey levels).
# The alternatives, checked below, agree less with the labels: a **diagonal** covariance treats the
# pixels as independent given the cluster, and a tiny `reg_covar` gives near-singular components with
# absurd densities. (Judging clusterings by the labels is possible here only because we happen to have
# them.) We run EM from 10 k-means starts and keep the run with the highest likelihood (what `n_init`
# does; the labels play no part in that choice).

# %%
digits = digits_clusters(seeds=range(10), data=lvmlib.load_dataset(dataset, n_images=n_images))
model, summary = digits.model, digits.summary
y_train, y_test = digits.data.y_train.numpy(), digits.data.y_test.numpy()
ari_train = adjusted_rand_score(y_train, digits.clusters)
ari_test = adjusted_rand_score(y_test, digits.clusters_test)
print(f"kept run {digits.best}: {model.n_iter_} iterations, mean log-likelihood "
      f"{digits.train_ll[digits.best]:.2f} (train), {model.score(digits.x_test):.2f} (held out) per image")
print(f"adjusted Rand index with the true labels: {ari_train:.3f} (train), {ari_test:.3f} (held out)")

# %% [markdown]
# The adjusted Rand index (ARI) compares two partitions of the same images, here the clusters and the
# true labels: 1 when they are the same up to renaming, about 0 for a random assignment. It does not
# care which cluster is called which (the component numbers of a mixture are arbitrary). The ten
# cluster means, titled with the most common true label among their members and its share:

# %%
fig = cluster_means_figure(model.means_, summary)
lvmlib.plotting.savefig(fig, "02_digit_means")

# %% [markdown]
# **Check: the alternatives.** The same 10 starts with a diagonal covariance and with full covariances
# and `reg_covar = 1e-6`. The second has by far the highest likelihood, over 100 nats per image:
# these are densities, and a Gaussian squeezed onto a near-flat set of images has enormous density
# on it. Its clusters generalize worst.

# %%
alternatives = {"diag, reg_covar = 0.05": dict(covariance_type="diag"), "full, reg_covar = 1e-6": dict(reg_covar=1e-6)}
rows = {"full, reg_covar = 0.05 (ours)": (digits.train_ll.max(), ari_train, ari_test)}
for name, kw in alternatives.items():
    alt = fit_restarts(digits.x_train, range(10), **kw)
    best = alt[int(np.argmax([f.score(digits.x_train) for f in alt]))]
    rows[name] = (best.score(digits.x_train),
                  adjusted_rand_score(y_train, np.asarray(best.predict(digits.x_train))),
                  adjusted_rand_score(y_test, np.asarray(best.predict(digits.x_test))))
for name, (ll, a_tr, a_te) in rows.items():
    print(f"{name:30s} log-likelihood {ll:7.2f} per image; ARI {a_tr:.3f} (train), {a_te:.3f} (held out)")
assert all(ari_test > a_te for name, (_, _, a_te) in rows.items() if "ours" not in name)

# %% [markdown]
# ### Reasonable, but not perfect
#
# The lecture's remark about MNIST, made concrete. Move the slider through the clusters: left, how many
# training images of each true label (columns) fell into each cluster (rows); middle, the cluster's mean;
# right, its members, one row per true label.

# %%
# NBVAL_IGNORE_OUTPUT
cluster_app(digits.data.x_train.numpy(), y_train, digits.clusters, model.means_, summary,
                 cluster=int(np.argmin(summary.purity[summary.order])))

# %%
counts, purity = summary.counts, summary.purity
pure = int((purity >= 0.95).sum())
spread = counts.max(0) / counts.sum(0)            # for each label: the share of its images in its biggest cluster
worst = int(spread.argmin())
others = counts.copy()
others[np.arange(10), summary.majority] = 0      # images that are not of their cluster's majority label
c, lab = np.unravel_index(others.argmax(), others.shape)
print(f"{pure} of 10 clusters are at least 95% one label; the least pure is {purity.min():.0%} one label")
print(f"the {counts[:, worst].sum()} training images of a {worst} are spread over clusters as "
      f"{sorted(counts[:, worst][counts[:, worst] > 0].tolist(), reverse=True)}")
print(f"the largest mix-up: {others[c, lab]} images of a {lab} in a cluster of {summary.size[c]} that is "
      f"mostly {summary.majority[c]}s ({counts[c].max()} of them)")
assert 0.6 < ari_train < 0.9 and 0.6 < ari_test < 0.9
assert pure >= 5 and purity.min() < 0.75 and spread.min() < 0.75

# %% [markdown]
# Most clusters are one digit, and the means look like digits. But the 1s are spread over three clusters,
# and in each they have company that *looks* like them: 1s with a foot sit with the 2s (a stroke along the
# bottom), thick upright 1s with the 8s (a column of ink down the middle), thin slanted 1s with 7s and 9s.
# Nothing went wrong: **clusters need not be classes.**
#
# - The model never sees a label. EM maximizes the likelihood of the pixels, and a component goes wherever
#   one Gaussian explains many images well. Style (thick or thin strokes, a slant, a foot) moves pixels as
#   much as identity does, so a component may model "a thick vertical stroke" rather than "ones".
# - Ten components for ten digits is our guess, not the data's: the likelihood is free to spend two
#   components on styles of one digit and share one between two digits.
# - The likelihood does not rank clusterings the way the labels would. Across the 10 EM starts the
#   likelihood differs by less than 0.4 nats per image (a factor of at most $e^{0.4} \approx 1.5$ in the
#   density of an image), the agreement with the labels from 0.67 to 0.77, and the start with the
#   *lowest* likelihood agrees with the labels as well as the highest:

# %%
fig = restarts_figure(digits.train_ll, digits.ari, digits.best)
lvmlib.plotting.savefig(fig, "02_digit_restarts")
order = np.argsort(-digits.train_ll)
print("restarts by likelihood:", ", ".join(f"{digits.train_ll[i]:.2f} (ARI {digits.ari[i]:.2f})" for i in order))
lowest, highest = order[-1], order[0]
print(f"lowest likelihood: ARI {digits.ari[lowest]:.3f}; highest likelihood: ARI {digits.ari[highest]:.3f}")
assert np.ptp(digits.train_ll) < 0.5 and np.ptp(digits.ari) > 0.05
assert digits.ari[lowest] > digits.ari[highest] - 0.01

# %% [markdown]
# The lecture adds that mixtures are not good classifiers "unless the number of mixture components is
# extremely large". With more components each one can specialize to one style of one digit. To measure
# it, label every cluster by the majority of its training images (the only place the labels enter) and
# classify the held-out images by their cluster:

# %%
accuracy = {}
for k, gm in [(10, model)] + [(k, fit_restarts(digits.x_train, [0], n_components=k)[0]) for k in (20, 40)]:
    s = cluster_summary(np.asarray(gm.predict(digits.x_train)), y_train)
    accuracy[k] = (s.majority[np.asarray(gm.predict(digits.x_test))] == y_test).mean()
    print(f"K = {k:2d}: held-out accuracy of 'the majority label of my cluster' = {accuracy[k]:.3f}")
assert accuracy[10] < accuracy[20] < accuracy[40]

# %% [markdown]
# ### Exercise 2.5: derive the M-step for the weights and the means (8 min, ★★★)
#
# With the responsibilities fixed, the M-step maximizes $\sum_n \sum_k r_{nk} \big[\log \pi_k + \log \mathcal N(x_n; \mu_k, \Sigma_k)\big]$
# (the part of $\mathcal L(q, \theta)$ that depends on $\theta$). Derive $\pi_k = N_k / N$ (the $\pi_k$ must sum to 1:
# use a Lagrange multiplier) and $\mu_k = \frac{1}{N_k} \sum_n r_{nk} x_n$. (Write your answer down; the
# solutions edition has ours.)

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# Weights: maximize $\sum_k N_k \log \pi_k + \lambda (1 - \sum_k \pi_k)$. The derivative in $\pi_k$ is
# $N_k / \pi_k - \lambda = 0$, so $\pi_k = N_k / \lambda$; summing over $k$ gives $\lambda = \sum_k N_k = N$ (each point's
# responsibilities sum to 1), hence $\pi_k = N_k / N$. Means: the terms with $\mu_k$ are
# $-\frac12 \sum_n r_{nk} (x_n - \mu_k)^\top \Sigma_k^{-1} (x_n - \mu_k)$; the gradient
# $\Sigma_k^{-1} \sum_n r_{nk} (x_n - \mu_k) = 0$ gives $\sum_n r_{nk} x_n = N_k \mu_k$. Each component is a weighted
# Gaussian fit; with hard 0/1 responsibilities it is the ordinary fit to the component's own points.
#
# </details>

# %% [markdown]
# ## What to take away
#
# - A mixture of Gaussians is a latent variable model with a categorical $z$ and a lookup table for
#   $p(x \mid z)$; it samples by the generative story and fits multi-modal data far better than one Gaussian.
# - EM alternates "complete the data softly" (posterior responsibilities) and "fit each Gaussian to its
#   weighted points". Each step raises a lower bound that touches $\log p(x)$ after the E-step, so the
#   likelihood never decreases (exactly so when nothing is added to the covariances) and climbs to a local
#   maximum that depends on the start.
# - $K$ is chosen on held-out data or by BIC; too few components blur groups together, too many cut groups
#   into arbitrary pieces.
# - On digits, ten components find ten "reasonable" groups, which are not the ten classes: the likelihood
#   rewards explaining pixels, not agreeing with labels. The next notebooks move to continuous latents,
#   where the sum over $z$ becomes an integral (03), and the VAE replaces the lookup table by a neural
#   network (07).

# %% [markdown]
# ## Instructor notes
#
# The student edition (`notebooks/02_mixture_of_gaussians_em.ipynb`) leaves Exercises 2.1, 2.2 and 2.3 to fill
# in; `notebooks/solutions/` holds them solved (both built from `tools/notebook_src/` by `tools/nbbuild.py`).
# The checks `lvmlib.exercises.check_e_step` / `check_m_step` / `check_em_loop` name the usual mistakes
# (normalising over the points, exponentiating before normalising, covariances that ignore the weights, means
# not divided by $N_k$; a loop that never stops, stops at once, reuses the first responsibilities or loses
# its last iterate). `exercises.choose` hands the student's functions to the EM app once their checks pass:
# `nb02.fit_em_start(..., steps=nb02.EMSteps(e_step, m_step, em_loop))` runs them from the fast path's start, and the notebook
# asserts that they take lvmlib's path to 1e-8.
#
# ### Timing of the K slider's fits
#
# The K app fits every (K, seed) once before it is drawn (its callback only picks). The median over five
# seeds of the wall-clock time and of the CPU time per fit (on a busy machine the first is the larger and
# the noisier): 100 of them are what building the app costs.

# %%
refit_seconds = nb02.time_refits(x_train, range(1, 11))
for k in refit_seconds.wall:
    print(f"K = {k}: CPU {1000 * refit_seconds.cpu[k]:.1f} ms, wall-clock {1000 * refit_seconds.wall[k]:.1f} ms per refit")
print(f"slowest K: wall-clock per fit {1000 * max(refit_seconds.wall.values()):.0f} ms")

# %% [markdown]
# ### Check: lvmlib and scikit-learn take the same EM path
#
# `lvmlib.mixtures.GaussianMixture` implements scikit-learn's update equations on torch. Started from the same
# parameters (`weights_init`, `means_init`, `precisions_init`: here lvmlib's k-means start, taken with
# `max_iter=0`), with `tol=0` and a fixed number of iterations, both must produce the same lower bound
# at every iteration and the same parameters, in float64, on the digits fit above.

# %%
X = digits.x_train.numpy()                                        # float64, [1347, 64]
setup = dict(n_components=10, covariance_type="full", reg_covar=0.05)
start = GaussianMixture(**setup, max_iter=0, random_state=0).fit(X)  # only the initialization
same_start = dict(weights_init=start.weights_, means_init=start.means_, precisions_init=start.precisions_)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")                                  # tol=0: neither "converges"
    ours = GaussianMixture(**setup, **same_start, tol=0, max_iter=30, keep_history=True).fit(X)
    with threadpool_limits(1):                                       # one BLAS thread: faster on a busy 2-core CPU
        theirs = SkGaussianMixture(**setup, **same_start, tol=0, max_iter=30).fit(X)
lb_ours, lb_theirs = np.asarray(ours.lower_bounds_), np.asarray(theirs.lower_bounds_)
d_lb, d_mu = np.abs(lb_ours - lb_theirs).max(), np.abs(ours.means_ - theirs.means_).max()
d_cov = np.abs(ours.covariances_ - theirs.covariances_).max()
print(f"{len(lb_ours)} iterations each; lower bound {lb_ours[0]:.4f} -> {lb_ours[-1]:.4f} (lvmlib), "
      f"{lb_theirs[0]:.4f} -> {lb_theirs[-1]:.4f} (scikit-learn)")
print("largest differences:", ", ".join(f"{what} {'< 1e-8' if d < 1e-8 else d}" for what, d in
                                      (("lower bounds", d_lb), ("means", d_mu), ("covariances", d_cov))))
assert len(lb_ours) == len(lb_theirs) == 30 and d_lb < 1e-8 and d_mu < 1e-8 and d_cov < 1e-8

# %% [markdown]
# One more thing these bounds show: with `reg_covar = 0.05` the M-step adds 0.05 to variances that are
# often smaller, so it is no longer the exact maximizer of $\mathcal L(q_t, \theta)$, and EM's guarantee is
# gone: both libraries take the same few small steps down. The stored history shows where: at those
# iterations the M-step *lowers* the bound $\mathcal L(q_t, \cdot)$, while every E-step still raises it.

# %%
dips = np.flatnonzero(np.diff(lb_ours) < 0)
print(f"iterations where the bound went down: {(dips + 1).tolist()}, by at most {-np.diff(lb_ours).min():.1e} "
      f"(scikit-learn: {(np.flatnonzero(np.diff(lb_theirs) < 0) + 1).tolist()})")
hist = ours.history_                                                 # keep_history=True: every iteration's parameters
m_bound = np.array([em_bound(X, hist["weights"][t + 1], hist["means"][t + 1], hist["covariances"][t + 1],
                                  ours.predict_proba_at(X, t)) for t in range(30)])
lb_all = np.asarray(hist["lower_bound"])                             # 31 values: lower_bounds_ and the final fit's
m_rise, e_rise = m_bound - lb_all[:-1], lb_all[1:] - m_bound
print(f"M-steps that lowered the bound: {(np.flatnonzero(m_rise < 0) + 1).tolist()}; "
      f"smallest E-step rise: {e_rise.min():.1e}")
assert len(dips) > 0 and np.array_equal(dips, np.flatnonzero(np.diff(lb_theirs) < 0))
assert set(dips) <= set(np.flatnonzero(m_rise < 0)) and e_rise.min() >= -1e-10
