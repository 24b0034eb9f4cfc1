# %% [markdown]
# # 10 · Priors and labels: what the rest of the model can do for the latents
#
# *About 55 minutes, of which about 35 for the exercises.*
#
# So far every VAE had the fixed prior $p(z) = \mathcal N(0, I)$ and learned from pixels alone. The lecture ends on
# two ways to ask more of the latent space: a **richer prior**, learned with the rest of the model, and **labels**
# that tell the model what one of its latents should mean.
#
# **You will learn to**
# 1. train a VAE whose prior is a learned mixture of Gaussians and compare it with the $\mathcal N(0, I)$ prior on
#    held-out $\log p(x)$, paired, with a standard error;
# 2. see the *aggregate posterior* $q_\phi(z)$ next to each prior: where $\mathcal N(0, I)$ puts mass that no code
#    uses (holes), and why the best prior is $q_\phi(z)$ itself;
# 3. write the semi-supervised model M2: a class $y$ as a second latent, observed for a few digits, summed out for
#    the rest, and see its classifier beat one trained on the labelled digits alone;
# 4. generate with the label fixed and the style moved, and with the style fixed and the label moved.
#
# **Prerequisites:** notebooks 06-08 (the ELBO, the VAE and its training, the aggregate posterior of 08 §5);
# `logsumexp` (notebook 05).
#
# **Exercises:** 10.1 (code: the mixture prior's log-density), 10.2 (code: the prior term of the ELBO by Monte Carlo,
# which uses your 10.1, scores both trained priors, and with your 10.1 trains a mixture-prior VAE), 10.3 (predict, then
# look), 10.4 (code: M2's bound for an unlabelled digit, which trains the M2 models and then scores them) and 10.5 (a
# derivation).
#
# Everything runs on 8x8 binarized digits in about a minute on a laptop CPU.

# %% tags=["parameters"]
# The lecture's scale is one switch away (a GPU or Colab's helps): dataset = "fashion-mnist" (28x28, 60,000 images;
# offline from Debian's dataset-fashion-mnist package, else OpenML) or "mnist" (OpenML). n_images keeps the first n
# training images (and n // 4 test images; None: all); epochs is the training length of the two prior VAEs. Numbers
# quoted in the text are those of the default, the 8x8 digits.
dataset = "digits"
n_images = None
epochs = 100

# %%
import math

import numpy as np
import torch

import lvmlib
from lvmlib import inference as estimators
from lvmlib import exercises
from lvmlib.device import one_thread
from lvmlib.lessons import nb10
from lvmlib.vae import PriorTermELBO, train_label_settings, train_prior_pair

device = lvmlib.get_device()
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
data = lvmlib.load_dataset(dataset, binarize=True, device=device, n_images=n_images)
print(data)

# %% [markdown]
# ## 1. A richer prior
#
# The ELBO's KL term, averaged over the training digits, splits in two (Hoffman and Johnson 2016, "ELBO surgery"):
#
# $$\frac1N \sum_{n=1}^N \mathrm{KL}\big(q_\phi(z \mid x_n) \,\|\, p(z)\big)
#   = \underbrace{I_q(x; z)}_{\text{what the codes say about } x} + \mathrm{KL}\big(q_\phi(z) \,\|\, p(z)\big),
#   \qquad q_\phi(z) = \frac1N \sum_n q_\phi(z \mid x_n).$$
#
# The first term is the price of information, which a useful code must pay. The second is pure waste: it is zero only
# when the prior equals the aggregate posterior. With $p(z) = \mathcal N(0, I)$ fixed, the encoder must squeeze the
# codes into one round blob; if the data want clusters with space between them, either the codes bend to the prior
# (and the decoder works harder) or the prior keeps mass where no code lies, the **holes**, and samples drawn there
# decode to blurs. So let the prior learn. A mixture of $K$ Gaussians,
#
# $$p_\lambda(z) = \sum_{k=1}^K \pi_k\, \mathcal N(z; m_k, \operatorname{diag} s_k^2), \qquad
#   \log p_\lambda(z) = \operatorname{logsumexp}_k \big[\log \pi_k + \log \mathcal N(z; m_k, \operatorname{diag} s_k^2)\big],$$
#
# has its weights, means and scales trained with the encoder and decoder by the same ELBO. Its KL term has no closed
# form any more, but lvmlib never used one: the ELBO is $\mathbb E_q[\log p(x \mid z) + \log p(z) - \log q(z \mid x)]$ by
# sampling. `lvmlib.vae.MixturePrior` is the module; `VAE(..., prior=MixturePrior(K, Dz))` plugs it in.
#
# Tomczak and Welling (2018) go one step further with the **VampPrior**: the mixture's components are the encoder's
# own posteriors at $K$ learned pseudo-inputs, $p(z) = \frac1K \sum_k q_\phi(z \mid u_k)$, a prior that is the aggregate
# posterior of a small learned data set.
#
# ### Exercise 10.1: the mixture prior's log-density (10 min, ★★☆)
#
# Write $\log p(z)$ of a Gaussian mixture with diagonal components, for $z$ of shape [B, Dz], `logits` [K] (the
# weights are their softmax), `loc` and `scale` [K, Dz]. Stay in log space: at $z$ 60 standard deviations from every
# mean the densities are below $10^{-300}$.

# %%
def mixture_log_prob(z, logits, loc, scale):
    """log sum_k softmax(logits)_k N(z; loc_k, diag scale_k^2), shape [B]."""
    ### BEGIN SOLUTION
    comp = torch.distributions.Normal(loc, scale).log_prob(z[:, None, :]).sum(-1)  # [B, K]
    return torch.logsumexp(torch.log_softmax(logits, 0) + comp, dim=-1)  # [B]
    ### END SOLUTION


# %%
exercises.check_mixture_log_prob(mixture_log_prob)

# %%
exercises.hints("First the log-density of every point under every component, shape `[B, K]` (broadcast `z[:, None, :]` "
                "against `loc` and `scale`), summed over the `Dz` dimensions.",
                "Then add the log-weights, `torch.log_softmax(logits, 0)`, and combine the components without leaving "
                "log space.",
                "`torch.logsumexp(torch.log_softmax(logits, 0) + comp, dim=-1)` with "
                "`comp = Normal(loc, scale).log_prob(z[:, None, :]).sum(-1)`")

# %%
mixture_log_prob_used = exercises.choose(exercises.check_mixture_log_prob(mixture_log_prob), mixture_log_prob,
                                         exercises.nb10.mixture_log_prob)
mixture_log_prob_used

# %% [markdown]
# Two VAEs with 2-D latents, notebook 07's recipe (100 epochs), the same initial weights and the same batches; one
# has $\mathcal N(0, I)$, the other a mixture of $K = 10$ Gaussians. (Small networks gain nothing from a second thread,
# so we train on one: `one_thread`.) Section 1's exercise 10.2 then scores their prior terms with your code.

# %%
# NBVAL_IGNORE_OUTPUT
with one_thread():
    vaes = train_prior_pair(data.x_train, latent_dim=2, num_components=10, epochs=epochs, seed=0)
mix = vaes["mixture"].prior_net
print(f"mixture prior: weights {np.array2string(mix.weights().detach().cpu().numpy(), precision=2)}")

# %% [markdown]
# **Held-out $\log p(x)$, paired.** Both models are scored on the same 450 test digits by importance sampling with
# the encoder as proposal ($K = 1000$ samples, notebook 07). The two estimates of each digit are correlated (an easy
# digit is easy for both), so we look at the per-digit difference and its standard error, not at two separate
# means.

# %%
# NBVAL_TOLERANCE abs=0.6
# (spread seen: the difference ranged over -0.1 ... +0.35 nats across training seeds; single numbers +-0.5)
log_px = {}
with one_thread():
    for name, model in vaes.items():
        with torch.no_grad():
            log_px[name] = estimators.importance_sampling(data.x_test, model, model.encoder, 1000, generator=g)
diff = log_px["mixture"] - log_px["N(0, I)"]
se = diff.std().item() / math.sqrt(len(diff))
for name, lp in log_px.items():
    print(f"{name:8s} prior: held-out log p(x) = {lp.mean():.1f} nats per digit")
print(f"mixture - N(0, I): {diff.mean():+.2f} nats per digit, standard error {se:.2f}")

# %%
assert abs(diff.mean().item()) < 2.0 and se < 0.5  # a small difference, measured precisely

# %% [markdown]
# ### Exercise 10.2: the prior term of the ELBO (10 min, ★★☆)
#
# With a mixture prior the ELBO's prior term $\mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z)) = \mathbb E_{q_\phi}[\log q_\phi(z \mid x) - \log p(z)]$
# has no closed form: estimate it from $S$ reparameterized samples $z_s = \mu + \sigma \odot \varepsilon_s$. Given the
# encoder's `mu` and `log_sigma` [B, Dz], the noise `eps` [S, B, Dz] and a function `log_prior` (z [..., Dz] -> [...]),
# return the estimate for each point, shape [B]. It is part of the training loss, so it must carry a gradient to
# `mu` and `log_sigma`.

# %%
def prior_term(mu, log_sigma, eps, log_prior):
    """The Monte Carlo prior term of each point: mu, log_sigma [B, Dz], eps [S, B, Dz] -> [B]."""
    ### BEGIN SOLUTION
    q = torch.distributions.Independent(torch.distributions.Normal(mu, log_sigma.exp()), 1)  # batch [B]
    z = mu + log_sigma.exp() * eps  # [S, B, Dz]
    return (q.log_prob(z) - log_prior(z)).mean(0)  # [B]
    ### END SOLUTION


# %%
exercises.check_prior_term(prior_term)

# %%
exercises.hints("Build the samples from the noise first (the trick of notebook 07), then evaluate two log-densities at "
                "them: the encoder's and the prior's.",
                "`Independent(Normal(mu, log_sigma.exp()), 1).log_prob(z)` gives `[S, B]` for `z` of shape `[S, B, Dz]`; "
                "so does `log_prior(z)`.",
                "`(q.log_prob(z) - log_prior(z)).mean(0)` with `z = mu + log_sigma.exp() * eps`")

# %%
prior_term_used = exercises.choose(exercises.check_prior_term(prior_term), prior_term, exercises.nb10.prior_term)
prior_term_used

# %% [markdown]
# Now both trained models' prior terms on the held-out digits, with your two functions: the mixture's $\log p(z)$ is
# your 10.1 at the trained weights, means and scales. For $\mathcal N(0, I)$ the closed form checks the estimate.

# %%
# NBVAL_TOLERANCE abs=0.05
# (Monte Carlo with 100 samples per digit on trained models; the same seed gives the same numbers)
S_PRIOR = 100
log_priors = {"N(0, I)": exercises.nb10.standard_normal_log_prob,
              "mixture": exercises.nb10.mixture_prior_log_prob(mixture_log_prob_used, mix.logits, mix.loc, mix.scale())}
prior_terms = {}
with torch.no_grad():
    for name, model in vaes.items():
        q = model.encoder(data.x_test)                                             # batch [450], event [2]
        mu, log_sigma = q.mean, q.stddev.log()                                     # [450, 2]
        eps = torch.randn((S_PRIOR,) + tuple(mu.shape), generator=g, dtype=mu.dtype).to(mu.device)
        prior_terms[name] = prior_term_used(mu, log_sigma, eps, log_priors[name])  # [450]
        print(f"{name:8s} prior: mean prior term KL(q(z | x) || p(z)) on the held-out digits = "
              f"{prior_terms[name].mean():.2f} nats")
q0 = vaes["N(0, I)"].encoder(data.x_test)
with torch.no_grad():
    closed = 0.5 * (q0.mean ** 2 + q0.variance - 1 - q0.variance.log()).sum(-1)  # [450], exact for N(0, I)
err = (prior_terms["N(0, I)"] - closed).mean().item()
print(f"N(0, I): Monte Carlo minus closed form = {err:+.3f} nats per digit")
assert abs(err) < 0.05, err

# %% [markdown]
# The prior term is what each digit's code costs in nats, the price the ELBO charges for using the latent. By the
# decomposition above its average is $I_q(x; z) + \mathrm{KL}(q_\phi(z) \,\|\, p(z))$; the mixture lowers the second part
# (the numbers below the app), but the two encoders differ too, so the prior terms also differ in the information
# each model's codes carry. Here the mixture's total is the larger one (about 3.0 against 2.8 nats): its codes say
# more about their digits (a larger $I_q(x; z)$), more than the smaller $\mathrm{KL}(q_\phi(z) \,\|\, p(z))$ saves. One
# training run per prior, so we read no general rule into it. Both numbers come from exercises 10.1 and 10.2 (yours
# once they passed): the samples, the encoder's log-density, and, for the mixture, the `logsumexp` over its ten
# components.

# %% [markdown]
# **Your code trains a GMVAE.** The mixture VAE above was trained by lvmlib. Now train it again with your pieces: the
# ELBO written as reconstruction minus **your prior term** (10.2), $\frac1S \sum_s \log p_\theta(x \mid z_s) -
# \widehat{\mathrm{KL}}$, with **your mixture log-density** (10.1) as $\log p_\lambda(z)$ at the prior's current weights,
# means and scales, so the gradient reaches the prior's parameters through your `logsumexp`. `lvmlib.vae.train` takes
# it as one objective, `PriorTermELBO(prior_term=..., mixture_log_prob=...)`. The same initial weights, batches and
# noise as lvmlib's run: for the same noise the two objectives are the same number, so the two models should agree up
# to round-off, which 100 epochs of training amplify a little. (Until your functions pass, lvmlib's run here.)

# %%
gmvae_objective = PriorTermELBO(prior_term=prior_term_used, mixture_log_prob=mixture_log_prob_used)
with one_thread():
    gmvae = train_prior_pair(data.x_train, latent_dim=2, num_components=10, epochs=epochs, seed=0,
                             priors=("mixture",), objective=gmvae_objective)["mixture"]
    with torch.no_grad():
        log_px_gmvae = estimators.importance_sampling(data.x_test, gmvae, gmvae.encoder, 1000,
                                                      generator=torch.Generator().manual_seed(6))  # g's draws stay as they were
print(f"trained with {gmvae_objective.who}")

# %%
# NBVAL_TOLERANCE abs=0.1
# (downstream of training and sampling; measured: the solution's pieces against lvmlib's, same seeds, moved log p(x) by
#  0.002; notebook 07's trainings moved by up to 0.02 with ATEN_CPU_CAPABILITY=default)
print(f"held-out log p(x), mixture prior, k = 1000: the GMVAE just trained {log_px_gmvae.mean():.2f}, lvmlib's "
      f"mixture VAE above {log_px['mixture'].mean():.2f} nats per digit")
print(f"mixture weights of the GMVAE just trained: "
      f"{np.array2string(gmvae.prior_net.weights().detach().cpu().numpy(), precision=2)}")
assert abs(log_px_gmvae.mean() - log_px["mixture"].mean()) < 0.2, "the same objective, the same seeds"

# %% [markdown]
# On 8x8 digits with a 2-D latent the gain in $\log p(x)$ is small (a few tenths of a nat at best: across training
# seeds we saw $-0.1$ to $+0.35$, with standard errors of about $0.1$). The prior changes much more *where* things
# are than how well the test digits are explained. Look at it.
#
# **The aggregate posterior against the prior.** Below, for the chosen model: its prior density on the plane, the
# density of $q_\phi(z) = \frac1N\sum_n q_\phi(z \mid x_n)$ over the 1347 training digits (an exact mixture of 1347
# Gaussians: `lvmlib.vae.aggregate_posterior`) with the held-out codes $\mu_\phi(x)$ on top, and 36 samples
# $z \sim p(z)$ decoded. Three numbers summarize the mismatch (Monte Carlo, 20000 draws): $\mathrm{KL}(q_\phi(z) \,\|\, p(z))$,
# the wasted term of the decomposition above; $\mathrm{KL}(p(z) \,\|\, q_\phi(z))$, the other direction, which is large when
# the prior draws $z$ where codes are sparse; and the prior mass in **holes**, $P_{z \sim p}[q_\phi(z) < p(z)/2]$, where
# the codes are less than half as dense as the prior.

# %%
with one_thread():
    view = nb10.prior_views(vaes, data.x_train, data.x_test, data.y_test, generator=g)

# %%
# NBVAL_IGNORE_OUTPUT
nb10.prior_app(view, prior="N(0, I)", batch=0)

# %% [markdown]
# ### Exercise 10.3: predict, then look (5 min, ★☆☆)
#
# Before switching the app to the mixture: where in the plane will the mixture's density be high, and what happens
# to the decoded samples that $\mathcal N(0, I)$ drew from the empty space between the classes? And which prior will be
# closer to the aggregate posterior, in the KL term the ELBO wastes? Commit below, then switch the app.

# %%
# NBVAL_IGNORE_OUTPUT
exercises.predict("10.3")

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# The learned components sit on the clumps of codes (the bright blobs of $q_\phi(z)$), so the mixture puts little mass
# between them: its samples land where codes lie and decode to digits. $\mathcal N(0, I)$ draws some $z$ between and
# around the clumps, where the decoder has seen no code; those decode to blurs or in-between shapes. The numbers below
# the app say the same in both directions of the KL, the committed answer: the mixture's is the smaller on every
# training seed we tried. The holes of this small model are modest, though (after 100
# epochs, notebook 08 §5 found the codes of the $\mathcal N(0, I)$ VAE close to the prior in mean and covariance): here
# about an eighth of $\mathcal N(0, I)$'s mass (0.12) lies where codes are less than half as dense, and about half as
# much of the mixture's (0.06). That difference is not reliable (which is why the prediction asks about the KL):
# across training seeds we saw 0.13 against 0.06 and 0.10 against 0.10. The two KLs, smaller for the mixture in both directions, are what the next cell asserts.
# </details>

# %%
# NBVAL_TOLERANCE abs=0.04
# (across two training seeds: KLs 0.115 / 0.130 for N(0, I) and 0.068 / 0.086 for the mixture, hole masses 0.10-0.13)
for p, name in enumerate(view.names):
    print(f"{name:8s} prior: KL(q(z) || p(z)) = {view.kl_aggregate[p]:.2f}, KL(p(z) || q(z)) = {view.kl_prior[p]:.2f} "
          f"nats; prior mass in holes {view.hole_mass[p]:.2f}")

# %%
n01, mixp = view.names.index("N(0, I)"), view.names.index("mixture")
assert view.kl_aggregate[mixp] < view.kl_aggregate[n01]  # the mixture follows q(z) more closely ...
assert view.kl_prior[mixp] < view.kl_prior[n01]  # ... in both directions (differences of 0.04-0.06 seen)

# %% [markdown]
# **An autoregressive prior.** The lecture's richest prior factorizes $p(z) = \prod_i p(z_i \mid z_{<i})$ with a
# neural network for each conditional (PixelCNN over a grid of discrete latents in VQ-VAE, van den Oord et al. 2017;
# an autoregressive flow prior in Chen et al. 2017). It can match almost any aggregate posterior, and
# $\log p(z)$ is still one pass. What it costs: sampling is sequential, $D_z$ network evaluations one after the other
# instead of one draw. The risk that comes with it is the old one of **posterior collapse**, and it comes from the
# decoder, not from the prior: a decoder strong enough to model $x$ without $z$ (an autoregressive one above all)
# lets the KL term push every $q_\phi(z \mid x)$ onto the prior, and then no prior, however rich, has codes to fit. So
# these models keep the decoder weak or the latent discrete, and VQ-VAE trains the prior after the autoencoder. A
# mixture is the cheap middle ground: one draw, $K$ more Gaussians in $\log p(z)$.
#
# ## 2. Labels steer the latents: the semi-supervised model M2
#
# Most digits come without a label, a few with one. Kingma, Rezende, Mohamed and Welling (2014) add the class $y$ as a
# second latent next to the style $z$:
#
# $$p(y) = \mathrm{Cat}(1/C), \quad p(z) = \mathcal N(0, I), \quad p_\theta(x \mid y, z) = \prod_d \mathrm{Bernoulli}\big(x_d; f_\theta(y, z)_d\big),$$
#
# with two encoders, a classifier $q_\phi(y \mid x)$ and $q_\phi(z \mid x, y) = \mathcal N(\mu_\phi(x, y), \operatorname{diag}\sigma^2_\phi(x, y))$.
# For a **labelled** digit, $y$ is observed and the ELBO is over $z$ alone:
#
# $$\log p(x, y) \ge B_l(x, y) = \mathbb E_{q_\phi(z \mid x, y)}\big[\log p_\theta(x \mid y, z) + \log p(y) + \log p(z) - \log q_\phi(z \mid x, y)\big].$$
#
# For an **unlabelled** digit, $y$ is a latent with ten values, so it is summed out exactly under $q_\phi(y \mid x)$:
#
# $$\log p(x) \ge B_u(x) = \sum_{y} q_\phi(y \mid x)\, \big(B_l(x, y) - \log q_\phi(y \mid x)\big)
#   = \sum_y q_\phi(y \mid x)\, B_l(x, y) + \mathcal H\big(q_\phi(y \mid x)\big).$$
#
# Training maximizes $\overline{B_l} + \overline{B_u} + \alpha\, \overline{\log q_\phi(y \mid x)}$ (means over a labelled and
# an unlabelled batch; the last term, over the labelled digits, trains the classifier directly). The unlabelled
# term trains the classifier too: it rewards a $q_\phi(y \mid x)$ that puts its weight on the labels under which the
# decoder explains $x$ best. That is how unlabelled digits help classify.
#
# ### Exercise 10.4: the unlabelled bound (10 min, ★★☆)
#
# Given $\log q_\phi(y \mid x)$ and the labelled bounds $B_l(x, y)$ for every class, both of shape [B, C], return
# $B_u(x)$, shape [B]. Once it passes, the notebook trains every M2 with your function as the unlabelled term of its
# objective (`lvmlib.vae.M2Bound`), then scores them on the held-out digits with it.

# %%
def unlabelled_bound(log_q_y, labelled):
    """M2's bound for unlabelled digits: log_q_y, labelled [B, C] -> [B]."""
    ### BEGIN SOLUTION
    return (log_q_y.exp() * (labelled - log_q_y)).sum(-1)
    ### END SOLUTION


# %%
exercises.check_m2_unlabelled(unlabelled_bound)

# %%
exercises.hints("$y$ is a latent with $C$ values: the bound is an expectation over $q_\\phi(y \\mid x)$, so a weighted sum "
                "over the classes, with the ELBO's $-\\log q$ inside.",
                "The weights are `log_q_y.exp()`; the term of class $y$ is `labelled - log_q_y`. Watch a confident "
                "classifier: `0 * (-inf)` is NaN, `exp(-inf) * finite` is 0.",
                "`(log_q_y.exp() * (labelled - log_q_y)).sum(-1)`")

# %%
unlabelled_bound_used = exercises.choose(exercises.check_m2_unlabelled(unlabelled_bound), unlabelled_bound,
                                         exercises.nb10.unlabelled_bound)
unlabelled_bound_used

# %% [markdown]
# `lvmlib.vae.M2` holds the model and its bounds; `lvmlib.vae.train_label_settings` trains, for each number of labels per
# class (1, 3, 10, 30 and all 1347 digits), one M2 on those labels plus every other training digit unlabelled, and
# one **classifier of the same architecture as $q_\phi(y \mid x)$** on the labelled digits alone: same labels, same
# number of steps and batch size. Each setting is trained once, here; the slider below only looks.

# %%
# NBVAL_IGNORE_OUTPUT
with one_thread():
    results = train_label_settings(data, nb10.SETTINGS, seed=1, unlabelled_bound=unlabelled_bound_used)

# %%
steps_with_unlabelled = sum(lvmlib.vae.M2_RECIPE.steps for k in results if k is not None)  # "all" has no unlabelled digits
print(f"every M2 trained with {results[10].computed_by} as its unlabelled term: {unlabelled_bound_used.calls} calls, "
      f"one per step of the {len(results) - 1} settings with unlabelled digits ({steps_with_unlabelled} steps)")
assert unlabelled_bound_used.calls == steps_with_unlabelled

# %%
# NBVAL_TOLERANCE abs=0.05
# (between seeds the accuracies move by up to 0.13 at 1 label per class, 0.02-0.06 from 3 labels on; the tolerance
#  is for the same seed on another machine, where round-off changes the training path a little)
for k, r in results.items():
    print(f"{nb10.setting_name(k):>3s} labels per class: M2 {r.m2_accuracy:.2f}, labelled-only classifier "
          f"{r.classifier_accuracy:.2f}")

# %% [markdown]
# **Every M2 scored with your bound.** The held-out digits as if unlabelled: the labelled bound $B_l(x, y)$ of every
# class (10 samples of $z$ each), the classifier's $\log q_\phi(y \mid x)$, and your `unlabelled_bound` to sum $y$ out.
# The same noise through `lvmlib.vae.M2.unlabelled_bound` must give the same numbers.

# %%
# NBVAL_TOLERANCE abs=0.3
# (downstream of training; 10 samples per class and digit, the same seed gives the same numbers)
S_M2, n_test = 10, data.x_test.shape[0]
calls_before = unlabelled_bound_used.calls
for k, r in results.items():
    m = r.model
    with torch.no_grad():
        eps = torch.randn((S_M2, m.num_classes, n_test, m.latent_dim), generator=g).to(device)  # [S, C, B, Dz]
        labelled = torch.stack([m.labelled_bound(data.x_test, torch.full((n_test,), c, device=device), S_M2, eps=eps[:, c])
                                for c in range(m.num_classes)], dim=-1)                    # B_l(x, y)   [B, C]
        log_q_y = m.classifier(data.x_test).logits                                         # log q(y | x) [B, C]
        b_u = unlabelled_bound_used(log_q_y, labelled)                                     # yours        [B]
        assert torch.allclose(b_u, m.unlabelled_bound(data.x_test, S_M2, eps=eps), rtol=1e-4, atol=1e-3)
    print(f"{nb10.setting_name(k):>3s} labels per class: held-out unlabelled bound B_u = {b_u.mean():.2f} nats per digit")
print(f"({unlabelled_bound_used.who} ran {unlabelled_bound_used.calls - calls_before} more times here; each agreed with "
      f"lvmlib's M2.unlabelled_bound)")

# %% [markdown]
# The claim: with 10 labels per class (100 labelled digits out of 1347), M2's classifier beats the one trained on the
# labelled digits alone. Over seeds 0-4 (`benchmarks/bench_m2.py`; the seed picks the labelled digits and both models'
# initial weights) the margin at 10 labels per class averaged $+4.3$ points with a standard deviation of $1.3$ from
# seed to seed; single runs also move by a point or two with the machine's arithmetic, so this notebook's run (seed 1,
# printed below) may land a little outside the range the benchmark saw. The assert asks for at least 2 points. With 30
# labels the margin shrinks ($+2.2$ on average), and with **1 label per class M2 has no reliable advantage**: over
# seeds 0-4 it lost on average ($-4.4$ points, as low as $-13$), and a run may come out about even, as the table above
# can show. A single example cannot tell the model which of its own groups is which digit, and the unlabelled term
# then reinforces whatever assignment it started with.

# %%
# NBVAL_TOLERANCE abs=2.5
# (in points; the same tolerance as the accuracies above, for the difference of two of them)
margin = results[10].m2_accuracy - results[10].classifier_accuracy
print(f"margin of M2 over the labelled-only classifier at 10 labels per class: {100 * margin:+.1f} points")

# %%
assert margin > 0.02

# %% [markdown]
# **Style and label, separately.** Because $y$ has to carry the class, $z$ is left with what the class does not
# explain: thickness, slant, size. Two ways to see it, for the model of the chosen setting:
#
# - *label moved, style fixed* (top strip): encode a test digit with its label, $z = \mu_\phi(x, y)$, then decode
#   $p_\theta(x \mid y', z)$ for every $y' = 0, \dots, 9$: the same hand writes every digit (an analogy);
# - *label fixed, style moved* (bottom strip): $y$ fixed, eight styles $z \sim \mathcal N(0, I)$.
#
# With 1 label per class, watch the top strip and the accuracy: the model still separates "some" ten groups, but
# which group is called "3" is pinned down by a single example, and some groups get the wrong name.

# %%
y_test = data.y_test.cpu().numpy()
picks = [int(np.flatnonzero(y_test == c)[0]) for c in range(10)]  # the first test digit of each class
an = nb10.analogies(results, data.x_test, data.y_test, picks, generator=g)

# %%
# NBVAL_IGNORE_OUTPUT
nb10.labels_app(an, labels="10", digit=3, label=7)

# %% [markdown]
# ### Exercise 10.5: what does an unlabelled digit teach the classifier? (10 min, ★★★)
#
# In $B_u(x)$, take the gradient with respect to the classifier's probabilities $q_y = q_\phi(y \mid x)$ (on the simplex).
# Which $y$ gains weight? And why does M2 with all labels not beat the classifier by much?

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# $B_u = \sum_y q_y (B_l(x, y) - \log q_y)$ is maximized over the simplex by $q_y \propto \exp B_l(x, y)$, the posterior
# $p(y \mid x)$ of the model (within the bounds' gaps): the classifier is pushed towards the labels under which the
# decoder explains $x$ best. That helps when the generative model's classes line up with the true ones, which a few
# labels arrange. With every digit labelled there is no unlabelled term: M2's classifier is then trained by
# $\alpha \log q_\phi(y \mid x)$ alone, i.e. the same as the baseline, and the two accuracies agree up to noise.
# </details>

# %% [markdown]
# ## What to take away
#
# - The average KL term of the ELBO is $I_q(x; z) + \mathrm{KL}(q_\phi(z) \| p(z))$: the best prior is the aggregate posterior.
#   A fixed $\mathcal N(0, I)$ leaves holes, where it draws samples that no code resembles.
# - A learned mixture prior is a few lines (`logsumexp` over components) and trains with the same ELBO; it follows the
#   codes (smaller KL between $q_\phi(z)$ and $p(z)$, both ways). On 8x8 digits its gain in $\log p(x)$ is small: compare
#   models paired, with a standard error.
# - Richer priors cost more: a VampPrior evaluates the encoder at its pseudo-inputs, an autoregressive prior samples
#   one dimension after another.
# - M2 makes the label a latent: observed when known, summed out (exactly, ten terms) when not. Unlabelled digits train
#   the classifier through that sum; with 10 labels per class it beats a classifier of the same shape trained on the
#   labels alone (by 2-6 points here), with 1 label per class it does not.
# - Given the label, $z$ holds the style: fixing $z$ and changing $y$ writes the same style as another digit.
#
# ## Instructor notes
#
# - **Timing.** The whole notebook runs in about a minute on a 2-core laptop CPU: three VAEs of 100 epochs (~5 s each;
#   the third is the mixture-prior VAE trained again with the student's 10.1 and 10.2 through
#   `lvmlib.vae.PriorTermELBO`), four M2 models of 600 steps (~4 s each, ten decoder passes per unlabelled digit;
#   trained with the student's 10.4 through `lvmlib.vae.M2Bound` once it passed) and five classifiers (<1 s).
#   The figures and sliders use only precomputed arrays.
# - **Printed numbers** downstream of training carry `NBVAL_TOLERANCE` markers chosen from the spreads written next
#   to them; the claims are asserted with margins.
# - **Checks in the tests.** `tests/vae/test_priors.py` checks `MixturePrior.log_prob` against scipy and a brute-force
#   sum, sampling moments, and the aggregate posterior's density. `tests/vae/test_m2.py` checks the labelled bound against
#   a hand computation with scipy, and the unlabelled bound against
#   $\sum_y q(y \mid x)(B_l(x, y) - \log q(y \mid x))$ computed class by class with the same noise; bad labels, shapes and
#   no labels raise clear errors.
# - **Libraries.** Pyro's `examples/vae/ss_vae_M2.py` implements M2 with enumeration of $y$
#   (`TraceEnum_ELBO`), the same exact sum as `M2.unlabelled_bound`. A VampPrior would reuse the encoder:
#   `aggregate_posterior(model.encoder(u))` for learned pseudo-inputs $u$ (left as a project).
# - **Hyper-parameters.** $\alpha = 10$ on batch means (Kingma et al. use $0.1 N$ on sums); a 4-D style. M2 is known to
#   be sensitive to them; at 1 label per class the margin over the classifier varies most across seeds.
