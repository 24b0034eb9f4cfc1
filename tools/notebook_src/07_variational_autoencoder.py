# %% [markdown]
# # 07 · The variational autoencoder
#
# *About 63 minutes, of which about 38 for the exercises.*
#
# **You will learn to**
# - see a VAE's decoder as a mixture whose lookup table became a network (an infinite mixture);
# - explain amortized inference: the encoder is a learned importance-sampling proposal;
# - debug a reparameterized sample (a wrong scale, a cut gradient) and write the negative ELBO of a batch, and
#   say why the trick matters (the variance of the gradient it gives, against the score-function gradient);
# - compare models in nats on held-out digits: the ELBO, an importance-sampled $\log p(x)$, the gap between them.
#
# **Before this:** notebooks 02 (mixtures), 05 (importance sampling) and 06 (the ELBO and its gap).
# **Exercises:** 7.1 (code, a bug hunt: a reparameterized sample with two planted bugs), 7.2 (a short derivation: the score-function identity),
# 7.3 (code: the negative ELBO of a batch), 7.4 (code: a training loop, from a skeleton), 7.5 (predict, then move
# the slider) and 7.6 (code: your IWAE objective from 6.1 trains a VAE). Each code exercise has a check that names
# common mistakes, and **your code then runs the notebook**: section 5 trains a VAE with your sample, your loss and
# your loop, next to lvmlib's training on the same seed, and 7.6 trains one with your IWAE bound beside the ELBO.
#
# Notebook 02 explained data with a **mixture**: pick one of $K$ components, then draw $x$ from that
# component. Notebooks 04-06 showed why $\log p(x)$ is hard once $z$ is continuous, how a proposal $q$ makes
# importance sampling work, and how Jensen's inequality turns it into a lower bound, the ELBO. This notebook
# puts the pieces together into the model of the lecture, the **variational autoencoder** (Kingma and Welling
# 2014):
#
# 1. the mixture's lookup table is replaced by a neural network, which makes $p(x)$ an *infinite* mixture;
# 2. the proposal $q(z \mid x)$ is a second network, one for all data points (**amortized inference**);
# 3. the **reparameterization trick** lets gradients flow through the samples of $z$;
# 4. both networks are trained together on the ELBO.
#
# We work on binarized $8 \times 8$ digits, so every log-likelihood is the log of a probability, in nats, and
# models of all kinds can be compared in the same units on held-out digits.

# %% tags=["parameters"]
# The lecture's scale is one switch away (a GPU or Colab's helps): dataset = "fashion-mnist" (28x28, 60,000 images;
# offline from Debian's dataset-fashion-mnist package, else OpenML) or "mnist" (OpenML). n_images keeps the first n
# training images (and n // 4 test images; None: all); epochs is the training length of section 6. Numbers quoted in
# the text are those of the default, the 8x8 digits.
dataset = "digits"
n_images = None
epochs = 50

# %%
import torch
import matplotlib.pyplot as plt
from torch.distributions import Normal

import lvmlib
from lvmlib import exercises
from lvmlib.mixtures import BernoulliMixture
from lvmlib.plotting import image_grid
from lvmlib.vae import DIGITS_RECIPE, LATENT_SIZES, VAE, baseline_scores, independent_pixels, score_vaes, train
from lvmlib.lessons import nb07

# Networks this small gain nothing from a second intra-op thread, and on a busy machine two threads
# waiting for each other trained 10 to 40 times slower than one (measured on this course machine), so use one.
torch.set_num_threads(1)
lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

data = lvmlib.load_dataset(dataset, binarize=True, n_images=n_images)
print(data)

# %% [markdown]
# ## 1. The lookup table: a mixture of Bernoullis
#
# A binary image $x \in \{0, 1\}^{64}$ with a discrete latent $z \in \{1, \dots, K\}$:
#
# $$p(x) = \sum_{k=1}^K \pi_k\, p(x \mid z = k), \qquad
#   p(x \mid z = k) = \prod_{d=1}^{64} \mu_{kd}^{\,x_d} (1 - \mu_{kd})^{1 - x_d} .$$
#
# The parameters of $p(x \mid z)$ sit in a **table** $\mu \in [0, 1]^{K \times 64}$, one row per value of $z$.
# The sum has $K$ terms, so $\log p(x)$ is exact. EM fits it (`lvmlib.mixtures.BernoulliMixture`, the
# Bernoulli sibling of notebook 02's Gaussian mixture). The smallest model of all has no latent: every pixel
# on its own, $p(x) = \prod_d p_d^{x_d} (1 - p_d)^{1 - x_d}$.

# %%
pixels = independent_pixels(data.x_train)  # no latent at all
mixtures = {k: BernoulliMixture(k, random_state=g).fit(data.x_train) for k in nb07.MIXTURE_SIZES}
baselines = baseline_scores(pixels, mixtures, data.x_test)  # exact log p(x) on the 450 test digits
for name, (mean, se) in baselines.items():
    print(f"{name:20s} held-out log p(x) = {mean:.2f} ± {se:.2f} nats per digit (exact)")

# %%
fig, ax = plt.subplots(figsize=(9, 1.6))
image_grid(ax, mixtures[10].means_, data.image_shape, ncols=10)
ax.set_xticks([9 * k + 3.5 for k in range(10)], [f"π = {w:.2f}" for w in mixtures[10].weights_.tolist()])
ax.set_title("the lookup table of the K = 10 mixture: row k of μ drawn as an image, p(x_d = 1 | z = k)")
lvmlib.plotting.describe(fig, "The ten rows of the K = 10 mixture's table, each drawn as an 8x8 digit image with "
                               "its weight pi below it: ten blurry digit prototypes.")
lvmlib.plotting.savefig(fig, "07_lookup_table")

# %% [markdown]
# Each component is a blurry prototype, and a digit is explained by the single best prototype. More components
# help (K = 50 beats K = 10 on held-out digits) but every new kind of digit costs a new row of 64 numbers.
#
# ## 2. From a table to a network: an infinite mixture
#
# Make $z$ continuous, $z \sim \mathcal N(0, I_d)$, and replace the table lookup $k \mapsto \mu_k$ by a
# neural network $z \mapsto f_\theta(z)$, the **decoder**:
#
# $$p_\theta(x) = \int \mathcal N(z; 0, I)\, \prod_{d=1}^{64} \operatorname{Bernoulli}\big(x_d;\ \sigma(f_\theta(z))_d\big)\, dz .$$
#
# Every $z$ is a component, so there are infinitely many, but they share the decoder's weights: nearby $z$
# give similar images, and the network can reuse what it learned about strokes across digits. The decoder is
# not a smaller description than a big table (below), but its numbers are shared by all components. The price
# is that the sum over $K$ terms became an integral that nobody can compute exactly.

# %%
untrained = VAE(data.data_dim, 2, DIGITS_RECIPE.hidden, generator=g)  # for looking only
print(untrained.decoder_net)
n_decoder = sum(p.numel() for p in untrained.decoder_net.parameters())
n_table = mixtures[50].means_.numel() + 50 - 1
print(f"decoder: {n_decoder} numbers for infinitely many components; table with K = 50: {n_table} numbers")

# %% [markdown]
# ## 3. The encoder: a learned proposal (amortized inference)
#
# To learn $\theta$ we need $\log p_\theta(x)$ or a bound on it. Notebooks 05 and 06 showed that everything
# depends on a good proposal $q(z)$ for the $z$ that explain $x$, and that the best one is the posterior
# $p_\theta(z \mid x)$: then the ELBO is tight,
#
# $$\log p_\theta(x) = \underbrace{\mathbb E_{q}\big[\log p_\theta(x, z) - \log q(z)\big]}_{\mathrm{ELBO}(x;\ \theta, q)}
#   + \mathrm{KL}\big(q(z) \,\|\, p_\theta(z \mid x)\big).$$
#
# But the posterior asks "which $z$ would the decoder turn into this $x$?", i.e. to **invert a neural network**,
# which is hard. Notebook 06 optimized $q$ by hand for one $x$; for a data set that means one optimization per
# digit, repeated after every update of $\theta$ and again for every new digit.
#
# The VAE instead **learns the inversion**: a second network, the **encoder**, reads $x$ and outputs the
# proposal for that $x$,
#
# $$q_\phi(z \mid x) = \mathcal N\big(z;\ \mu_\phi(x),\ \operatorname{diag} \sigma_\phi(x)^2\big).$$
#
# One set of weights $\phi$ serves every digit, past and future: the cost of inference is *amortized* over the
# data set, and for a new digit it is one forward pass. The encoder is exactly the importance-sampling proposal
# of notebook 05, only now computed from $x$. An untrained encoder proposes nonsense, which training fixes.

# %%
q = untrained.encoder(data.x_test[:3])  # q(z | x) for three digits: batch [3], event [2]
print(f"q(z | x): batch shape {tuple(q.batch_shape)}, event shape {tuple(q.event_shape)}")
for loc, scale in zip(q.mean.tolist(), q.stddev.tolist()):
    print(f"  mean ({loc[0]:+.2f}, {loc[1]:+.2f})   std ({scale[0]:.2f}, {scale[1]:.2f})")

# %% [markdown]
# ## 4. The reparameterization trick
#
# Training maximizes $\mathrm{ELBO}(x; \theta, \phi) = \mathbb E_{z \sim q_\phi(z \mid x)}\big[\log p_\theta(x, z) - \log q_\phi(z \mid x)\big]$
# over both networks. The gradient in $\theta$ is easy: the integrand $\log p_\theta(x, z)$ depends on $\theta$, but
# the distribution we sample $z$ from, $q_\phi(z \mid x)$, does not, so $\nabla_\theta$ moves inside the expectation,
# $\nabla_\theta \mathrm{ELBO} = \mathbb E_{q_\phi}[\nabla_\theta \log p_\theta(x, z)]$, estimated from any sample. But $\phi$ sits in the
# distribution we sample from: a sampled number has no derivative with respect to the parameters that drew it.
# The trick is to draw the randomness first and build $z$ from it with a differentiable function,
#
# $$z = \mu_\phi(x) + \sigma_\phi(x) \odot \varepsilon, \quad \varepsilon \sim \mathcal N(0, I)
# \qquad\Rightarrow\qquad
# \nabla_\phi\, \mathbb E_{q_\phi}[h(z)] = \mathbb E_{\varepsilon}\big[\nabla_\phi\, h\big(\mu_\phi(x) + \sigma_\phi(x) \odot \varepsilon\big)\big],$$
#
# so one $\varepsilon$ gives an unbiased gradient for $\phi$. It is not the only unbiased gradient: the
# **score-function** (REINFORCE) identity $\nabla_\phi \mathbb E_{q_\phi}[h(z)] = \mathbb E_{q_\phi}[h(z)\, \nabla_\phi \log q_\phi(z)]$
# needs no derivative of $h$ at all (exercise 7.2). What makes the trick matter is **variance**: the
# reparameterized estimate uses how $h$ changes with $z$, the score-function one only the value of $h$ (about
# $-44$ nats here), multiplied by a random sign-and-size factor.
#
# Below, both estimate the same gradient, of the reconstruction term $\mathbb E_{q}[\log p_\theta(x \mid z)]$ with
# respect to the encoder's outputs $\mu$ and $\log \sigma$ for one digit (what backpropagation then carries into the
# encoder's weights), from the same 2000 draws of $\varepsilon$. Both must agree on average; their spreads per
# sample are what a training step feels. (Notebook 09 goes further: baselines, and the effect on training.)

# %%
# NBVAL_TOLERANCE rel=0.1
# (Monte Carlo with a fixed generator, before any training; rebuilt with torch's plain CPU kernels, ATEN_CPU_CAPABILITY=default,
# the printout did not change)
S = 2000
x1 = data.x_train[:1]                                          # one digit                       [1, 64]
with torch.no_grad():
    q1 = untrained.encoder(x1)
mu = q1.mean.expand(S, -1).clone().requires_grad_()            # one copy per sample: row s of the
log_sigma = q1.stddev.log().expand(S, -1).clone().requires_grad_()  # gradient is sample s's estimate [S, 2]
eps = torch.randn(S, 2, generator=g, dtype=mu.dtype)            # the randomness, drawn first      [S, 2]

recon = untrained.likelihood(mu + log_sigma.exp() * eps).log_prob(x1)      # reparameterized     [S]
mu_g, ls_g = torch.autograd.grad(recon.sum(), (mu, log_sigma))
grad_rep = torch.cat([mu_g, ls_g], dim=1)                                  # [S, 4]

z = (mu + log_sigma.exp() * eps).detach()                                  # a plain sample: no path to phi
with torch.no_grad():
    h = untrained.likelihood(z).log_prob(x1)                               # [S]
log_q = Normal(mu, log_sigma.exp()).log_prob(z).sum(-1)                    # [S]
mu_g, ls_g = torch.autograd.grad((h * log_q).sum(), (mu, log_sigma))
grad_sf = torch.cat([mu_g, ls_g], dim=1)                                   # score function      [S, 4]

names = ["d/dmu_1", "d/dmu_2", "d/dlog sigma_1", "d/dlog sigma_2"]
for name, gr, gs in zip(names, grad_rep.T, grad_sf.T):
    print(f"{name:15s} reparameterized {gr.mean():+6.2f} ± {gr.std() / S ** 0.5:.2f} (sd {gr.std():5.2f} per sample);  "
          f"score function {gs.mean():+6.2f} ± {gs.std() / S ** 0.5:.2f} (sd {gs.std():5.1f})")
se = torch.hypot(grad_rep.std(0), grad_sf.std(0)) / S ** 0.5
assert torch.all((grad_rep.mean(0) - grad_sf.mean(0)).abs() < 4 * se), "both are unbiased for the same gradient"
assert torch.all(grad_sf.var(0) > 10 * grad_rep.var(0)), "the score function's variance is far larger"

# %% [markdown]
# The two agree within their standard errors, but one score-function sample is worth far less: its spread is
# many times the reparameterized one's, so it needs that factor squared more samples (or a variance-reduction
# scheme) for the same precision. With every gradient step of training using one $\varepsilon$ per digit, that
# is the difference between learning the encoder and not.
#
# ### Exercise 7.1: find the two bugs in a reparameterized sample (8 min, ★★☆)
#
# The encoder gives `mu` and `log_sigma` (shape `[B, d]`, $\log \sigma$ the log of the **standard deviation**), and
# the noise `eps` is drawn first (shape `[B, d]`, or `[K, B, d]` for $K$ samples per point: broadcasting does the
# work). Below is a colleague's draft of the sample $z$ of $q_\phi(z \mid x)$ that training will use, of `eps`'s
# shape. It has **two bugs**: one makes $z$ come from the wrong distribution, the other would stop the encoder from
# learning however right the values. Run it (the cell runs the check on it), find both, and write the fixed
# function in the cell after it. The check compares values on known cases, then whether a loss computed from $z$
# sends a gradient back to `mu` and `log_sigma`; it says how many bugs remain and where a remaining one shows (in the
# values or in the gradient), not what to change. The gradient experiment just above is a good place to look.

# %%
def reparameterized_sample_draft(mu, log_sigma, eps):
    """A first try: mu, log_sigma [B, d], eps [B, d] or [K, B, d] -> z of eps's shape. It has two bugs."""
    sigma = log_sigma.exp() ** 2                  # the encoder's scale
    z = mu + sigma * eps                          # [B, d] or [K, B, d]
    return z.detach()                             # a sample is a number: no gradient through it


exercises.check_reparameterized_sample(reparameterized_sample_draft)

# %% [markdown]
# Your fixed version (both bugs gone; the check below then passes):

# %%
def reparameterized_sample(mu, log_sigma, eps):
    """The reparameterized z: mu, log_sigma [B, d], eps [B, d] or [K, B, d] -> z of eps's shape."""
    ### BEGIN SOLUTION
    return mu + log_sigma.exp() * eps
    ### END SOLUTION

# %%
exercises.check_reparameterized_sample(reparameterized_sample)

# %%
exercises.hints("Values first: for $z = \\mu + \\sigma \\varepsilon$ with $\\varepsilon \\sim \\mathcal N(0, 1)$, what is the "
                "standard deviation of $z$? And what is the standard deviation of the draft's $z$, given `log_sigma`?",
                "Then the gradient: in section 4 above, which of the two estimates was built from a $z$ with no "
                "path back to $\\mu$ and $\\sigma$, and what did it have to do instead? A loss on the draft's $z$ has "
                "no such term: `.detach()` returns a tensor that autograd treats as a constant.",
                "`return mu + log_sigma.exp() * eps`, with no `.detach()`: the whole point of drawing `eps` first is "
                "that $z$ stays a differentiable function of `mu` and `log_sigma`.")

# %%
reparameterized_sample_used = exercises.choose(exercises.check_reparameterized_sample(reparameterized_sample),
                                               reparameterized_sample, exercises.nb07.reparameterized_sample)
reparameterized_sample_used

# %% [markdown]
# ### Exercise 7.2: a short derivation (10 min, ★★☆)
#
# (a) Why can $\nabla_\theta$ go inside $\mathbb E_{q_\phi}[\log p_\theta(x, z)]$ but $\nabla_\phi$ not inside
# $\mathbb E_{q_\phi}[h(z)]$? (b) Derive the score-function identity
# $\nabla_\phi \mathbb E_{q_\phi}[h(z)] = \mathbb E_{q_\phi}[h(z)\, \nabla_\phi \log q_\phi(z)]$.
# (c) Show that $\mathbb E_{q_\phi}[\nabla_\phi \log q_\phi(z)] = 0$, and use it to explain why subtracting a constant $b$
# from $h$ (a "baseline") leaves the score-function estimate unbiased.

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# (a) $\mathbb E_{q_\phi}[f_\theta(z)] = \int q_\phi(z)\, f_\theta(z)\, dz$: $\theta$ is only in the integrand, so
# $\nabla_\theta \int q_\phi f_\theta = \int q_\phi \nabla_\theta f_\theta = \mathbb E_{q_\phi}[\nabla_\theta f_\theta]$. For $\phi$ the density
# $q_\phi(z)$ itself changes, which is not an expectation of anything under $q_\phi$ until it is rewritten.
# (b) $\nabla_\phi \int q_\phi(z)\, h(z)\, dz = \int h(z)\, \nabla_\phi q_\phi(z)\, dz = \int h(z)\, q_\phi(z)\, \nabla_\phi \log q_\phi(z)\, dz$,
# using $\nabla q = q\, \nabla \log q$.
# (c) $\mathbb E_q[\nabla_\phi \log q_\phi] = \int \nabla_\phi q_\phi(z)\, dz = \nabla_\phi \int q_\phi(z)\, dz = \nabla_\phi 1 = 0$. So
# $\mathbb E_q[(h - b) \nabla_\phi \log q_\phi] = \mathbb E_q[h\, \nabla_\phi \log q_\phi]$ for any constant $b$; a $b$ close to $h$'s
# typical value (about $-44$ above) removes most of the variance that the raw $h$ brings.
#
# </details>

# %% [markdown]
# `lvmlib` draws every $z$ this way (`lvmlib.distributions.sample` uses `loc + scale * eps`), so `model.elbo(x)` is
# differentiable in both networks.
#
# ## 5. Training p and q together
#
# Average the ELBO over the training digits and climb it with Adam, decoder and encoder at once. Each step
# takes a batch, draws one $\varepsilon$ per digit, and follows the gradient of the batch's ELBO. Since
# $\mathrm{ELBO} = \log p_\theta(x) - \mathrm{KL}(q_\phi(z \mid x) \,\|\, p_\theta(z \mid x))$, two things raise it: moving
# $\theta$ so that $p_\theta(x)$ grows, and moving $\phi$ so that the encoder gets closer to the posterior. Every
# step does both. But the $\theta$-steps have a second way to raise the ELBO: the posterior $p_\theta(z \mid x)$
# depends on $\theta$ too, so a step in $\theta$ can shrink the KL by moving the **posterior towards $q$**, making it
# more like a diagonal Gaussian, even at some cost in $\log p_\theta(x)$. That is the bias of ELBO training: the
# decoder it finds is not the maximum-likelihood one, but one whose posteriors are easy for the encoder to match
# (the IWAE objective of notebook 06, with a tighter bound, weakens this pull).
#
# ### Exercise 7.3: the negative ELBO of a batch (10 min, ★★☆)
#
# Training minimizes a loss, minus the ELBO averaged over a batch. With a Bernoulli decoder (its `logits`, shape
# `[B, D]`, computed from a reparameterized $z$) and a diagonal Gaussian encoder (`mu`, `log_sigma`, shape
# `[B, d]`), the usual form splits the ELBO into a reconstruction term and a KL to the prior, which between two
# Gaussians has a closed form:
#
# $$-\mathrm{ELBO}(x_b) \approx -\log p_\theta(x_b \mid z_b) + \mathrm{KL}\big(q_\phi(z \mid x_b) \,\|\, \mathcal N(0, I)\big),
#   \qquad \mathrm{KL} = \tfrac12 \sum_{j=1}^d \big(\mu_j^2 + \sigma_j^2 - 1 - 2 \log \sigma_j\big).$$
#
# Return its **mean over the batch** (a scalar), with $\log p_\theta(x \mid z)$ summed over the $D$ pixels. Use
# `torch.distributions` (`Bernoulli(logits=...)`, `kl_divergence`) or
# `torch.nn.functional.binary_cross_entropy_with_logits(..., reduction="none")`; both are stable for confident
# logits. (`lvmlib` estimates the KL by Monte Carlo instead, $\mathbb E_q[\log q - \log p(z)]$, one path for every
# estimator: the same expectation.)

# %%
def negative_elbo(x, logits, mu, log_sigma):
    """Minus the ELBO, averaged over the batch: x, logits [B, D]; mu, log_sigma [B, d] -> a scalar."""
    ### BEGIN SOLUTION
    recon = torch.distributions.Independent(torch.distributions.Bernoulli(logits=logits), 1).log_prob(x)  # [B]
    kl = 0.5 * (mu ** 2 + (2 * log_sigma).exp() - 1 - 2 * log_sigma).sum(-1)                            # [B]
    return (kl - recon).mean()
    ### END SOLUTION

# %%
exercises.check_negative_elbo(negative_elbo)

# %%
exercises.hints("Two terms per digit, each of shape `[B]`: the reconstruction log-likelihood (summed over pixels) "
                "and the KL (summed over latent dimensions). The loss is their combination, averaged over digits.",
                "`Independent(Bernoulli(logits=logits), 1).log_prob(x)` sums over pixels; the KL is "
                "`0.5 * (mu**2 + (2 * log_sigma).exp() - 1 - 2 * log_sigma).sum(-1)`.",
                "`(kl - recon).mean()`: minus (recon - kl), averaged over the batch.")

# %%
negative_elbo_used = exercises.choose(exercises.check_negative_elbo(negative_elbo), negative_elbo,
                                      exercises.nb07.negative_elbo)
negative_elbo_used

# %% [markdown]
# Your sample and your loss make the training loss of a batch: encode, sample with the trick, decode, score. The
# noise comes from its own generator, so the run below is the same every time.

# %%
g_loss = torch.Generator().manual_seed(7)


def elbo_loss(model, xb):
    """Minus the ELBO of the batch xb [b, 64], from exercises 7.1 and 7.3 (a scalar with a gradient)."""
    q = model.encoder(xb)                                      # q(z | x): batch [b], event [d]
    mu, log_sigma = q.mean, q.stddev.log()                     # [b, d] each
    eps = torch.randn(mu.shape, generator=g_loss, dtype=mu.dtype).to(mu.device)
    z = reparameterized_sample_used(mu, log_sigma, eps)        # your 7.1 (once it passed)   [b, d]
    logits = model.decoder_net(z)                              # [b, 64]
    return negative_elbo_used(xb, logits, mu, log_sigma)      # your 7.3 (once it passed)   a scalar


# %% [markdown]
# ### Exercise 7.4: one training loop (10 min, ★★☆)
#
# The loop is written: an Adam optimizer, an epoch loop, a shuffled pass over the batches, and the recorded mean loss of
# each epoch. What is missing is the heart of it, **one step**: clear the gradients left by the previous step, compute
# the batch's loss with `loss_fn(model, xb)`, backpropagate it, and let the optimizer move the weights. Four lines,
# and their order matters. The check runs your loop on a tiny VAE next to lvmlib's with the same seeds (weights,
# shuffling, noise) and compares the loss of every epoch and the final weights; then the next cells train a digit
# VAE with it.

# %%
def fit(model, x, loss_fn, epochs, *, lr=3e-3, batch_size=64, generator=None):
    """Adam on loss_fn(model, xb) over shuffled batches of x [N, D]; returns the mean loss of every epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = []
    for epoch in range(epochs):
        perm = torch.randperm(x.shape[0], generator=generator).to(x.device)
        total = 0.0
        for xb in x[perm].split(batch_size):                  # batches [b, D]
            # one step: clear the gradients, the loss of xb, backpropagate, update (defines `loss`)
            ### BEGIN SOLUTION
            optimizer.zero_grad()
            loss = loss_fn(model, xb)
            loss.backward()
            optimizer.step()
            ### END SOLUTION
            total += loss.item() * xb.shape[0]
        history.append(total / x.shape[0])
    return history


# %%
exercises.check_training_loop(fit)

# %%
exercises.hints("A backward pass adds to each parameter's `.grad`, it does not replace it; the optimizer's step "
                "reads `.grad`. So the old gradients must go before the new ones are computed.",
                "Four calls, one per idea: the optimizer clears the gradients, `loss_fn(model, xb)` gives "
                "`loss`, a backward pass from `loss` fills `.grad`, the optimizer steps: which must come "
                "before which?",
                "`optimizer.zero_grad(); loss = loss_fn(model, xb); loss.backward(); optimizer.step()`")

# %%
fit_used = exercises.choose(exercises.check_training_loop(fit), fit, exercises.nb07.fit)
fit_used

# %% [markdown]
# **Your code trains a VAE.** A VAE with a 4-D latent, trained for 20 epochs with `fit_used` on `elbo_loss` (your
# sample, your loss, your loop once they passed), and the same VAE (the same initial weights) trained by lvmlib's
# `train` for 20 epochs with the same learning rate and batch size. They are not the same computation: lvmlib
# estimates the KL by sampling, your loss uses the closed form, and the batches and the noise come in another order.
# So the two held-out ELBOs should agree up to the noise of training, about a few tenths of a nat, not exactly.

# %%
# NBVAL_TOLERANCE abs=0.1
# (downstream of training; the two runs are each deterministic for the seed)
SHORT = min(20, epochs)
losses_before = negative_elbo_used.calls
yours = VAE(data.data_dim, 4, DIGITS_RECIPE.hidden, generator=torch.Generator().manual_seed(1)).to(device)
theirs = VAE(data.data_dim, 4, DIGITS_RECIPE.hidden, generator=torch.Generator().manual_seed(1)).to(device)
short_history = fit_used(yours, data.x_train.to(device), elbo_loss, SHORT, lr=DIGITS_RECIPE.lr,
                         batch_size=DIGITS_RECIPE.batch_size, generator=torch.Generator().manual_seed(2))
train(theirs, data.x_train, SHORT, batch_size=DIGITS_RECIPE.batch_size, lr=DIGITS_RECIPE.lr,
      generator=torch.Generator().manual_seed(2), progress=False)
with torch.no_grad():
    held_out = {name: m.elbo(data.x_test, 100, generator=torch.Generator().manual_seed(3)).mean().item()
                for name, m in (("this notebook's loop", yours), ("lvmlib's train", theirs))}
n_losses, n_batches = negative_elbo_used.calls - losses_before, -(-data.x_train.shape[0] // DIGITS_RECIPE.batch_size)
print(f"training loss (minus the ELBO) of the loop: {short_history[0]:.2f} (epoch 1) -> {short_history[-1]:.2f} "
      f"(epoch {SHORT}); all {n_losses} batch losses ({SHORT} epochs x {n_batches} batches) were computed by "
      f"{negative_elbo_used.who}, with the samples of {reparameterized_sample_used.who}, in {fit_used.who}")
assert n_losses == SHORT * n_batches, "every batch's loss came from the function named above"
for name, value in held_out.items():
    print(f"{name:22s} held-out ELBO after {SHORT} epochs: {value:.2f} nats per digit")
assert abs(held_out["this notebook's loop"] - held_out["lvmlib's train"]) < 1.0, held_out

# %% [markdown]
# The two agree within the tolerance the cell asserts (1 nat; the difference printed is a few tenths), so the loop
# and the loss are the ones lvmlib trains with. From here on the notebook uses lvmlib's `train`, which is the same
# loop with a faster (fused) Adam, a divergence check and progress bars.
#
# We train one VAE per latent size $d \in \{2, 4, 8, 16\}$ with the recipe of `lvmlib.vae.DIGITS_RECIPE`
# (one hidden layer of 128 units each way, Adam with learning rate $3 \cdot 10^{-3}$, batches of 64), but for
# **50 epochs instead of the recipe's 100**, so that the whole notebook runs in under a minute; section 6 says
# what that costs. The progress bars show each epoch's training ELBO and the ELBO of the held-out test digits
# (which are only watched, never used to choose anything).

# %%
# NBVAL_IGNORE_OUTPUT
EPOCHS = epochs
models, histories = {}, {}
for d in LATENT_SIZES:
    models[d] = VAE(data.data_dim, d, DIGITS_RECIPE.hidden, generator=g).to(device)
    histories[d] = train(models[d], data.x_train, EPOCHS, batch_size=DIGITS_RECIPE.batch_size,
                         lr=DIGITS_RECIPE.lr, x_valid=data.x_test, generator=g, progress=True)

# %%
# NBVAL_TOLERANCE abs=0.1
# (measured: rebuilt with torch's plain CPU kernels, ATEN_CPU_CAPABILITY=default, these moved by up to 0.02; another machine: 0.01)
for d, h in histories.items():
    print(f"VAE z={d:2d}: training ELBO {h['train'][0]:7.2f} (epoch 1) -> {h['train'][-1]:.2f} (epoch {h['epoch'][-1]}); "
          f"held-out ELBO {h['valid'][0]:7.2f} -> {h['valid'][-1]:.2f}")
if EPOCHS >= 10:  # (the parameters cell may ask for fewer epochs: then there is no progress to check)
    assert all(h["valid"][-1] > h["valid"][0] + 5 for h in histories.values()), "training should raise the ELBO"

# %%
fig = nb07.curves_figure(histories)
lvmlib.plotting.savefig(fig, "07_training_curves")

# %% [markdown]
# The training ELBO is averaged over an epoch while the weights move, so it lags a little; the held-out ELBO
# uses a single $\varepsilon$ per digit and is noisier. The small latent spaces level off first and lowest:
# two numbers cannot hold everything about a digit. The larger ones are still climbing slowly at epoch 50.
#
# ## 6. How good are they? The ELBO against log p(x)
#
# The ELBO is a lower bound, so comparing it with the mixtures' exact $\log p(x)$ would be unfair to the VAE.
# A tighter number comes from importance sampling with the encoder as proposal (notebook 05), $k$ samples
# per digit:
#
# $$\log \hat p_k(x) = \log \frac1k \sum_{j=1}^k \frac{p_\theta(x, z_j)}{q_\phi(z_j \mid x)}, \quad z_j \sim q_\phi(z \mid x),
#   \qquad \mathrm{ELBO} \le \mathbb E\big[\log \hat p_k(x)\big] \le \log p_\theta(x),$$
#
# which is still a lower bound in expectation, but one that tightens as $k$ grows (Burda, Grosse and Salakhutdinov
# 2016 use $k = 5000$; we use $k = 1000$ for time). The difference between it and the ELBO is a lower bound on
# the **gap** $\mathrm{KL}(q_\phi(z \mid x) \,\|\, p_\theta(z \mid x))$: how far the amortized encoder is from the
# true posterior. Everything below is on the 450 held-out test digits, in nats per digit (± one standard
# error across digits).

# %%
# NBVAL_TOLERANCE abs=0.1
# (downstream of training and sampling; measured: up to 0.01 with ATEN_CPU_CAPABILITY=default)
K_EVAL = 1000
scores = score_vaes(models, data.x_test, num_samples=K_EVAL, elbo_samples=100, generator=g)
print(f"held-out log p(x): exact for the tables, importance sampling with k = {K_EVAL} for the VAEs; "
      f"ELBO with 100 samples per digit")
print(f"{'model':20s} {'log p(x)':>15s} {'ELBO':>8s} {'gap':>6s}")
for name, (mean, se) in baselines.items():
    print(f"{name:20s} {mean:8.2f} ± {se:.2f}")
for d, s in scores.items():
    print(f"{'VAE z=' + str(d):20s} {s.log_p:8.2f} ± {s.log_p_se:.2f} {s.elbo:8.2f} {s.gap:6.2f}")

# %% [markdown]
# Three claims to check on these numbers:
#
# - the importance-sampled estimate sits **above** the ELBO for every model (it must, in expectation: the
#   ELBO is the $k = 1$ case, and the two use independent samples here, so this is a real check);
# - every VAE beats the model without a latent; its **ELBO** does already, and the ELBO is a lower bound, so
#   this holds whatever the estimator's bias;
# - the gap is positive for every size: the amortized diagonal-Gaussian encoder never reaches the true posterior.
#
# The gaps also differ between latent sizes, but each size is one training run from one seed, and the
# standard errors below are across digits, not across runs: they say nothing about how much the gap of a
# retrained model would move. So we draw no conclusion about how the gap depends on the latent size.

# %%
# NBVAL_TOLERANCE abs=0.1
# (measured: up to 0.01 with ATEN_CPU_CAPABILITY=default)
for d, s in scores.items():
    print(f"z={d:2d}: log p-hat - ELBO = {s.gap:.2f} ± {s.gap_se:.2f} nats; "
          f"ELBO - independent pixels = {s.elbo - baselines['independent pixels'][0]:.2f} nats")
assert all(s.log_p > s.elbo + 3 * s.gap_se for s in scores.values())
assert all(s.elbo > baselines["independent pixels"][0] for s in scores.values())
assert all(s.gap > 3 * s.gap_se for s in scores.values())

# %% [markdown]
# **How good a proposal is the encoder?** Notebook 05 ended on a rule: when in doubt, make the proposal too wide
# rather than too narrow, because a too-narrow $q$ misses part of the posterior, its rare samples there carry huge
# weights, and its effective sample size looks fine for a few samples and then keeps falling as $k$ grows. The
# ELBO trains the encoder the risky way round: its gap, $\mathrm{KL}(q_\phi(z \mid x) \,\|\, p_	heta(z \mid x))$, charges $q$
# for mass where the posterior has none and almost nothing for the posterior mass that $q$ leaves out, so an
# ELBO-trained $q$ errs on the narrow side, and it is the proposal of every $\log \hat p_k(x)$ above. The ESS of its
# $k = 1000$ weights for each held-out digit (the same estimator, new draws) says how many of the 1000 samples
# counted, and whether a few digits depend on a handful of them.

# %%
# NBVAL_TOLERANCE abs=0.03
# (fractions of k, downstream of training and sampling; measured: ATEN_CPU_CAPABILITY=default moved them by up to 0.01)
ess_k = {d: nb07.proposal_scores(m, data.x_test, K_EVAL, generator=torch.Generator().manual_seed(4)).ess / K_EVAL
         for d, m in models.items()}
for d, e in ess_k.items():
    print(f"z={d:2d}: ESS per digit / k: median {e.median():.2f}, the lowest tenth of the digits below {e.quantile(0.1):.2f}, "
          f"lowest {e.min():.3f}")
assert all(e.median() < 0.9 for e in ess_k.values()), "the encoder is not the posterior: most samples count less than fully"

# %% [markdown]
# Half of the samples count for a typical digit with $d = 2$, about a tenth with $d = 16$, and for a few digits of
# every model only a handful of the thousand carry the estimate. For those digits $\log \hat p_k(x)$ is notebook 05's
# too-narrow case: a stable-looking number that sits below $\log p(x)$ because the samples that would raise it are
# rarely drawn, so the gaps in the table above are lower bounds on the KL that may be loose. Notebook 05's remedy is a
# wider proposal, for example $q$ with its scales multiplied by a factor, used for evaluation only.

# %% [markdown]
# How do the networks compare with the lookup tables? With a 2-D latent the VAE is worse than ten prototypes:
# two numbers are a narrow bottleneck. With $d = 4$ it beats ten prototypes but not fifty; with $d = 8$ it beats
# the 50-component table too. The cell below compares $d = 8$ and $d = 16$ with the table, digit by digit (a
# paired difference, so its standard error is small), and checks the $d = 8$ claim. For $d = 16$ we claim
# nothing: after 50 epochs it is still climbing, and its lead over the table is within about two standard
# errors. (The instructor notes give the numbers of the full 100-epoch recipe.)

# %%
# NBVAL_TOLERANCE abs=0.1
# (measured: unchanged with ATEN_CPU_CAPABILITY=default)
table = mixtures[50].score_samples(data.x_test)                                   # exact, [450]
paired = {}
for d in (8, 16):
    diff = torch.as_tensor(scores[d].log_p_points).double() - table
    paired[d] = (diff.mean().item(), (diff.std() / len(diff) ** 0.5).item())
    print(f"VAE z={d:2d} minus mixture K=50: {paired[d][0]:+.2f} ± {paired[d][1]:.2f} nats per digit")
if dataset == "digits" and EPOCHS >= 50:  # the claim is the digits' (other data sets: look at the numbers)
    assert paired[8][0] > 2 * paired[8][1], "d = 8 beats the 50-component table"

# %% [markdown]
# ### Exercise 7.6: your IWAE objective trains a VAE (5 min, ★☆☆)
#
# Notebook 06 showed that $L_K$, the importance-weighted bound, is tighter than the ELBO, and section 5 above said
# that ELBO training pulls the decoder's posterior towards what the encoder can represent. Training on $L_K$ weakens
# that pull (Burda, Grosse and Salakhutdinov 2016). Does it buy a better model here? Bring your `objective` of
# exercise 6.1 (the per-point ELBO or $L_K$ of a batch, from $K$ reparameterized samples): copy its body into the
# cell below. The check is 6.1's; once it passes, the next cells train two VAEs with **your** function, one on
# `kind="elbo"` and one on `kind="iwae"`, and compare them in nats. Until then they run lvmlib's, and say so.

# %%
import math

from lvmlib.distributions import sample
from lvmlib.vae import ELBO, IWAE

# %%
def objective(x, model, encoder, K, kind="elbo", generator=None):
    """Per-point ELBO (kind="elbo") or IWAE bound L_K (kind="iwae") from K reparameterized samples: x [B, Dx] -> [B]."""
    q = encoder(x)                                    # q(z | x): batch shape [B], event [Dz]
    z = sample(q, (K,), generator)                    # [K, B, Dz]: z = loc + scale * eps, reparameterized
    ### BEGIN SOLUTION
    log_w = model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z)   # [K, B]
    if kind == "elbo":
        return log_w.mean(dim=0)
    return torch.logsumexp(log_w, dim=0) - math.log(K)
    ### END SOLUTION

# %%
exercises.check_objective(objective)

# %%
objective_used = exercises.choose(exercises.check_objective(objective), objective, exercises.nb06.objective)
objective_used

# %% [markdown]
# Two VAEs with a 4-D latent, the same initial weights, batches and learning rate, trained for as many epochs as
# section 5's, with the **same budget** of $K = 5$ samples per digit and step: one maximizes the $K$-sample ELBO (the
# average of five one-sample ELBOs), the other $L_5$. `lvmlib.vae.train` takes the objective as one object,
# `ELBO(5, fn=objective_used)` or `IWAE(5, fn=objective_used)`, and records whose function computed it.

# %%
K_TRAIN = 5
pair, pair_histories = {}, {}
for name, bound in (("ELBO", ELBO(K_TRAIN, fn=objective_used)), ("IWAE", IWAE(K_TRAIN, fn=objective_used))):
    pair[name] = VAE(data.data_dim, 4, DIGITS_RECIPE.hidden, generator=torch.Generator().manual_seed(1)).to(device)
    calls_before = objective_used.calls
    pair_histories[name] = train(pair[name], data.x_train, EPOCHS, batch_size=DIGITS_RECIPE.batch_size,
                                 lr=DIGITS_RECIPE.lr, objective=bound, generator=torch.Generator().manual_seed(2),
                                 progress=False)
    print(f"trained on the {name} with K = {K_TRAIN} for {EPOCHS} epochs: all {objective_used.calls - calls_before} "
          f"batch bounds computed by {pair_histories[name]['computed_by']}")

# %% [markdown]
# Both are scored the same way, with the same budget: $k = 1000$ samples of each model's own encoder per held-out
# digit give its $\log \hat p_k(x)$, its ELBO (the mean of the same 1000 log-weights) and the ESS of those weights.

# %%
# NBVAL_TOLERANCE abs=0.3
# (downstream of training and sampling; measured: the same seeds with round-off-level differences, lvmlib's objective
#  against the solution's, moved the IWAE-trained model's ELBO and gap by 0.15, ATEN_CPU_CAPABILITY=default by 0.07,
#  every other number by up to 0.02)
pair_scores = {name: nb07.proposal_scores(m, data.x_test, K_EVAL, generator=torch.Generator().manual_seed(5))
               for name, m in pair.items()}
print(f"held-out, k = {K_EVAL}, nats per digit:     log p(x)        ELBO    gap   median ESS / k")
for name, sc in pair_scores.items():
    gap = sc.log_p - sc.elbo
    print(f"VAE z=4 trained on the {name} (K={K_TRAIN})  {sc.log_p.mean():7.2f} ± {sc.log_p.std() / len(gap) ** 0.5:.2f} "
          f"{sc.elbo.mean():8.2f} {gap.mean():6.2f}   {(sc.ess / K_EVAL).median():.2f}")
paired_iwae = pair_scores["IWAE"].log_p - pair_scores["ELBO"].log_p
print(f"log p(x), IWAE-trained minus ELBO-trained, digit by digit: {paired_iwae.mean():+.2f} "
      f"± {paired_iwae.std() / len(paired_iwae) ** 0.5:.2f}")
gaps = {name: (sc.log_p - sc.elbo).mean().item() for name, sc in pair_scores.items()}
assert gaps["IWAE"] > gaps["ELBO"] + 0.3, gaps
assert abs(paired_iwae.mean()) < 1.0

# %% [markdown]
# What to read in it: the IWAE-trained model's $\log p(x)$ is a little higher, and that difference is the
# small, unreliable part (over five training seeds of this cell it was positive every time but ranged from $+0.05$ to
# $+0.4$ nats, with standard errors of 0.03-0.09). The large, repeatable part is the ELBO: the IWAE-trained model's ELBO
# is lower and its gap more than twice as large (1.45-1.75 against 0.6-0.75 nats over the five seeds), while the two
# encoders are about equally good proposals (a median ESS of about a quarter of $k$ for both; which one was higher
# changed with the seed). $L_K$ does not ask the encoder to be a good posterior on its own,
# only a proposal whose $K$ samples together explain $x$, so the decoder is free to have posteriors the encoder does
# not match. Which model is better depends on which number you report, which is why models are compared on the
# same tight estimate of $\log p(x)$, never one on its ELBO and the other on $L_K$.

# %% [markdown]
# ## 7. Slide through the latent size
#
# Everything the slider shows was computed once, above and in the next cell: the four models are trained,
# their reconstructions and samples decoded. Moving the slider only swaps pictures.
#
# - **top left**: held-out digits, two of each class; below them, their **reconstructions**, the decoder's
#   mean at the encoder's mean, $\mathbb E[x \mid z = \mu_\phi(x)]$ (pixel probabilities, so grey means unsure);
# - **bottom left**: **samples** of the model, $z \sim \mathcal N(0, I)$ decoded to pixel probabilities;
# - **top right**: every model's held-out $\log p(x)$ in nats; filled markers are exact (tables) or the
#   $k = 1000$ estimate (VAEs), open ones the VAE's ELBO, and the line between them is the gap;
# - **bottom right**: the held-out ELBO during training for every size, the chosen one thick with its
#   training bound dashed.
#
# Try $d = 2$: reconstructions lose details and classes blur into each other (a 2-D code has to place every digit
# on a plane; notebook 08 looks at that plane). From $d = 4$ up, most digits come back recognizably, and the
# samples look like digits, although some are between classes.

# %%
gal = nb07.gallery(models, histories, scores, baselines, data.x_test, data.y_test, data.image_shape, generator=g)
print(f"shown: {len(gal.data)} test digits, {len(gal.samples[2])} samples per model, sizes {gal.sizes}")

# %%
# NBVAL_IGNORE_OUTPUT
nb07.vae_app(gal, latent_size=8)

# %% [markdown]
# ### Exercise 7.5: predict, then move the slider (5 min, ★☆☆)
#
# **Before you move the slider, predict:** going from $d = 2$ to $d = 16$, (a) do the reconstructions keep getting
# closer to the digits? (b) does the held-out $\log p(x)$ (top right, filled markers) keep rising? (c) with
# $d = 2$, which do you expect to look more like digits: the reconstructions or the samples? Commit to (b) and (c)
# in the widgets, then slide.

# %%
# NBVAL_IGNORE_OUTPUT
exercises.predict("7.5b")

# %%
# NBVAL_IGNORE_OUTPUT
exercises.predict("7.5c")

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# (a) Mostly yes: more latent numbers can carry more detail of each digit through the bottleneck, and from
# $d = 4$ up most digits come back recognizably. (b) No, not by much beyond $d = 8$: the table above has $d = 16$
# no better than $d = 8$ after 50 epochs. Reconstruction is only one term of the ELBO; the KL term charges for
# every latent dimension the encoder uses, and a larger model also trains more slowly (the bottom-right curves
# are still rising). (c) The reconstructions: they start from a real digit's code, while samples come from
# anywhere in $\mathcal N(0, I)$, including regions between classes (notebook 08 maps the 2-D latent space).
#
# </details>

# %% [markdown]
# ## What to take away
#
# - A VAE is a mixture whose lookup table became a network: $p_\theta(x) = \int p(z)\, p_\theta(x \mid z)\, dz$,
#   infinitely many components sharing weights.
# - The encoder $q_\phi(z \mid x)$ is a learned importance-sampling proposal, one network for all digits
#   (amortized inference), because inverting the decoder exactly is hard.
# - With $z = \mu_\phi(x) + \sigma_\phi(x) \odot \varepsilon$ the ELBO is differentiable in both networks, and
#   they are trained together by gradient ascent on it.
# - The ELBO is a lower bound; importance sampling with the encoder as proposal gives a tighter estimate of
#   $\log p(x)$. The gap between them (about 0.5 to 1.5 nats here) is a lower bound on
#   $\mathrm{KL}(q_\phi(z \mid x) \,\|\, p_\theta(z \mid x))$, how far the encoder is from the true posterior: it bounds
#   that distance from below, it does not measure it exactly.
# - In nats on held-out digits, a VAE with $d = 8$ latent dimensions beats a 50-component lookup table, and
#   every VAE is far better than independent pixels. Notebook 08 walks through latent spaces like these.
# - Training decoder and encoder together on the ELBO also moves the decoder's posterior towards what the
#   encoder can represent: ELBO training is not maximum likelihood.
#
# ## Instructor notes
#
# - The solved notebook is `notebooks/solutions/07_variational_autoencoder.ipynb`, built with this one from
#   `tools/notebook_src/07_variational_autoencoder.py` by `tools/nbbuild.py`. The checks are
#   `lvmlib.exercises.check_reparameterized_sample` (7.1, a bug hunt: `reparameterized_sample_draft`, the same
#   function as `lvmlib.exercises.nb07.reparameterized_sample_draft`, which a test keeps equal, scales `eps` by the
#   variance and detaches $z$; the check runs the values, then a gradient probe, and says "both planted bugs are
#   still there" or which remains by where it shows (values, gradient), without naming the fix; it also names a $z$
#   sampled without the trick and a $z$ that ignores the given noise)
#   `check_negative_elbo` (7.3: names the KL with the wrong sign, summing over the batch instead of averaging,
#   averaging over pixels, a missing KL or minus sign, `log_sigma` read as a log-variance, and a hand-written
#   `log(sigmoid(...))` that overflows at confident pixels) and `check_training_loop` (7.4: runs the loop on a tiny
#   VAE next to `lvmlib.exercises.nb07.fit` with the same seeds, compares every epoch's loss and the final weights,
#   and names a missing `zero_grad`, `step` before `backward`, `zero_grad` between `backward` and `step`, minus the
#   loss backpropagated, a missing `step`, and `loss_fn` called more than once per batch). After each check,
#   `exercises.choose` hands the student's function (once it passed) to the short training run of section 5.
# - Time: the four VAEs train for 50 epochs, about 2 seconds each on a laptop CPU with one torch thread; the
#   notebook runs in well under a minute. The same recipe trained for its full 100 epochs and scored with
#   $k = 5000$ (`benchmarks/bench_vae_quality.py`, in the README) reaches $-19.85$, $-18.30$, $-17.43$, $-17.48$ nats for
#   $d = 2, 4, 8, 16$: halving the training costs a few tenths of a nat.
# - Printed numbers downstream of training carry `# NBVAL_TOLERANCE` markers. Rebuilt with torch's plain
#   (non-vectorized) CPU kernels, `ATEN_CPU_CAPABILITY=default`, as a stand-in for another CPU, they moved by at
#   most 0.02 nats (noted in each cell); on another machine the training ELBO of the 2-D model moved by 0.01. The
#   tolerances (0.1 nats) leave a margin of 5 and are still far below the differences the text draws conclusions
#   from. (A rebuild with two torch threads did not finish in 10 minutes on this busy 2-core machine: the reason
#   the notebook uses one.)
# - Exercise 7.6 re-runs 6.1's check (`check_objective`) on the student's objective, pasted in; `exercises.choose`
#   hands it to `lvmlib.vae.train` as `ELBO(5, fn=objective_used)` and `IWAE(5, fn=objective_used)` (the objective is
#   one object, like numpyro's `loss=Trace_ELBO()`), and `history["computed_by"]` names whose function computed
#   every bound. The two 50-epoch trainings with $K = 5$ take a few seconds each on a laptop CPU with one
#   thread. Over training seeds 1-5 of that cell (weights and batches), IWAE minus ELBO training in $\log p(x)$ was
#   $+0.08$, $+0.05$, $+0.40$, $+0.34$, $+0.16$ nats, the gaps 1.46-1.73 against 0.60-0.74 nats, the median ESS / k
#   0.22-0.30 for both encoders. The section's asserts check only what held on every seed (the gap, and a difference
#   below a nat).
