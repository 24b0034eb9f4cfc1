# %% [markdown]
# # 07 · The variational autoencoder
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

# %%
import torch
import matplotlib.pyplot as plt

import lvmlib
from lvmlib.bernoulli_mixture import BernoulliMixture
from lvmlib.plotting import image_grid
from lvmlib.vae import DIGITS_RECIPE, VAE, train
from lvmlib.widgets import nb07

# Networks this small gain nothing from a second intra-op thread, and on a busy machine two threads
# waiting for each other trained 10 to 40 times slower than one (measured on this course machine), so use one.
torch.set_num_threads(1)
lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

data = lvmlib.load_dataset("digits", binarize=True)
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
# The sum has $K$ terms, so $\log p(x)$ is exact. EM fits it (`lvmlib.bernoulli_mixture.BernoulliMixture`, the
# Bernoulli sibling of notebook 02's Gaussian mixture). The smallest model of all has no latent: every pixel
# on its own, $p(x) = \prod_d p_d^{x_d} (1 - p_d)^{1 - x_d}$.

# %%
pixels = nb07.independent_pixels(data.x_train)  # no latent at all
mixtures = {k: BernoulliMixture(k, random_state=g).fit(data.x_train) for k in nb07.MIXTURE_SIZES}
baselines = nb07.baseline_scores(pixels, mixtures, data.x_test)  # exact log p(x) on the 450 test digits
for name, (mean, se) in baselines.items():
    print(f"{name:20s} held-out log p(x) = {mean:.2f} ± {se:.2f} nats per digit (exact)")

# %%
fig, ax = plt.subplots(figsize=(9, 1.6))
image_grid(ax, mixtures[10].means_, data.image_shape, ncols=10)
ax.set_xticks([9 * k + 3.5 for k in range(10)], [f"π = {w:.2f}" for w in mixtures[10].weights_.tolist()])
ax.set_title("the lookup table of the K = 10 mixture: row k of μ drawn as an image, p(x_d = 1 | z = k)")
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
untrained = VAE(data.data_dim, 2, DIGITS_RECIPE["hidden"], generator=g)  # for looking only
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
# over both networks. The gradient in $\theta$ is easy (the expectation does not depend on $\theta$), but $\phi$
# sits in the distribution we sample from: a sampled number has no derivative with respect to the
# parameters that drew it. The trick is to draw the randomness first and build $z$ from it with a
# differentiable function,
#
# $$z = \mu_\phi(x) + \sigma_\phi(x) \odot \varepsilon, \quad \varepsilon \sim \mathcal N(0, I)
# \qquad\Rightarrow\qquad
# \nabla_\phi\, \mathbb E_{q_\phi}[h(z)] = \mathbb E_{\varepsilon}\big[\nabla_\phi\, h\big(\mu_\phi(x) + \sigma_\phi(x) \odot \varepsilon\big)\big],$$
#
# so one $\varepsilon$ gives an unbiased, low-variance gradient for $\phi$. Below, the reconstruction term
# $\log p_\theta(x \mid z)$ is differentiated twice: with $z$ built from $\varepsilon$, and with the same $z$
# detached (a plain sample). Only the first sends a gradient into the encoder.

# %%
x = data.x_train[:64]
q = untrained.encoder(x)
eps = torch.randn(q.mean.shape, generator=g)  # the randomness, drawn first          [64, 2]
for how, z in [("z = mu + sigma * eps (reparameterized)", q.mean + q.stddev * eps),
               ("the same z, detached (a plain sample)", (q.mean + q.stddev * eps).detach())]:
    untrained.zero_grad()
    untrained.likelihood(z).log_prob(x).mean().backward(retain_graph=True)
    grad_enc = untrained.encoder_net[0].weight.grad
    grad_dec = untrained.decoder_net[0].weight.grad
    print(f"{how:40s} |grad| encoder {0 if grad_enc is None else grad_enc.norm():.3f}, decoder {grad_dec.norm():.3f}")

# %% [markdown]
# `lvmlib` draws every $z$ this way (`lvmlib.estimators.sample` uses `loc + scale * eps`), so `model.elbo(x)` is
# differentiable in both networks.
#
# ## 5. Training p and q together
#
# Average the ELBO over the training digits and climb it with Adam, decoder and encoder at once. Each step
# takes a batch, draws one $\varepsilon$ per digit, and follows the gradient of the batch's ELBO. Since
# $\mathrm{ELBO} = \log p_\theta(x) - \mathrm{KL}(q_\phi(z \mid x) \,\|\, p_\theta(z \mid x))$, two things raise it: moving
# $\theta$ so that $p_\theta(x)$ grows, and moving $\phi$ so that the encoder gets closer to the posterior. Every
# step does both.
#
# We train one VAE per latent size $d \in \{2, 4, 8, 16\}$ with the recipe of `lvmlib.vae.DIGITS_RECIPE`
# (one hidden layer of 128 units each way, Adam with learning rate $3 \cdot 10^{-3}$, batches of 64), but for
# **50 epochs instead of the recipe's 100**, so that the whole notebook runs in under a minute; section 6 says
# what that costs. The progress bars show each epoch's training ELBO and the ELBO of the held-out test digits
# (which are only watched, never used to choose anything).

# %%
# NBVAL_IGNORE_OUTPUT
EPOCHS = 50
models, histories = {}, {}
for d in nb07.LATENT_SIZES:
    models[d] = VAE(data.data_dim, d, DIGITS_RECIPE["hidden"], generator=g).to(device)
    histories[d] = train(models[d], data.x_train, EPOCHS, batch_size=DIGITS_RECIPE["batch_size"],
                         lr=DIGITS_RECIPE["lr"], x_valid=data.x_test, generator=g, progress=True)

# %%
for d, h in histories.items():
    print(f"VAE z={d:2d}: training ELBO {h['train'][0]:7.2f} (epoch 1) -> {h['train'][-1]:.2f} (epoch {h['epoch'][-1]}); "
          f"held-out ELBO {h['valid'][0]:7.2f} -> {h['valid'][-1]:.2f}")
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
K_EVAL = 1000
scores = nb07.score_vaes(models, data.x_test, num_samples=K_EVAL, elbo_samples=100, generator=g)
print(f"held-out log p(x): exact for the tables, importance sampling with k = {K_EVAL} for the VAEs; "
      f"ELBO with 100 samples per digit")
print(f"{'model':20s} {'log p(x)':>15s} {'ELBO':>8s} {'gap':>6s}")
for name, (mean, se) in baselines.items():
    print(f"{name:20s} {mean:8.2f} ± {se:.2f}")
for d, s in scores.items():
    print(f"{'VAE z=' + str(d):20s} {s['log_p']:8.2f} ± {s['log_p_se']:.2f} {s['elbo']:8.2f} {s['gap']:6.2f}")

# %% [markdown]
# Three claims to check on these numbers:
#
# - the importance-sampled estimate sits **above** the ELBO for every model (it must, in expectation: the
#   ELBO is the $k = 1$ case, and the two use independent samples here, so this is a real check);
# - every VAE beats the model without a latent; its **ELBO** does already, and the ELBO is a lower bound, so
#   this holds whatever the estimator's bias;
# - the gap grows with the latent size: a richer posterior is harder for a diagonal Gaussian encoder to match.

# %%
for d, s in scores.items():
    print(f"z={d:2d}: log p-hat - ELBO = {s['gap']:.2f} ± {s['gap_se']:.2f} nats; "
          f"ELBO - independent pixels = {s['elbo'] - baselines['independent pixels'][0]:.2f} nats")
assert all(s["log_p"] > s["elbo"] + 3 * s["gap_se"] for s in scores.values())
assert all(s["elbo"] > baselines["independent pixels"][0] for s in scores.values())
gaps = [scores[d]["gap"] for d in nb07.LATENT_SIZES]
assert gaps == sorted(gaps), gaps

# %% [markdown]
# How do the networks compare with the lookup tables? With a 2-D latent the VAE is worse than ten prototypes:
# two numbers are a narrow bottleneck. With $d = 4$ it beats ten prototypes but not fifty; with $d = 8$ or $16$
# it beats the 50-component table too (the difference below is paired, digit by digit). For reference, the
# same recipe trained for the full 100 epochs and scored with $k = 5000$ (`benchmarks/bench_vae_quality.py`)
# reaches $-19.85$, $-18.30$, $-17.43$, $-17.48$ for $d = 2, 4, 8, 16$: halving the training cost us a few
# tenths of a nat.

# %%
best = max(scores, key=lambda d: scores[d]["log_p"])
diff = torch.as_tensor(scores[best]["log_p_points"]).double() - mixtures[50].score_samples(data.x_test)
diff_se = (diff.std() / len(diff) ** 0.5).item()
print(f"best VAE (z={best}) minus mixture K=50: {diff.mean().item():.2f} ± {diff_se:.2f} nats per digit")
assert diff.mean().item() > 2 * diff_se

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
# ## What to take away
#
# - A VAE is a mixture whose lookup table became a network: $p_\theta(x) = \int p(z)\, p_\theta(x \mid z)\, dz$,
#   infinitely many components sharing weights.
# - The encoder $q_\phi(z \mid x)$ is a learned importance-sampling proposal, one network for all digits
#   (amortized inference), because inverting the decoder exactly is hard.
# - With $z = \mu_\phi(x) + \sigma_\phi(x) \odot \varepsilon$ the ELBO is differentiable in both networks, and
#   they are trained together by gradient ascent on it.
# - The ELBO is a lower bound; importance sampling with the encoder as proposal gives a tighter estimate of
#   $\log p(x)$. The gap (about 0.5 to 1.5 nats here) measures how far the encoder is from the true posterior.
# - In nats on held-out digits, a VAE with a few latent dimensions beats a 50-component lookup table, and
#   every VAE is far better than independent pixels. Notebook 08 walks through latent spaces like these.
