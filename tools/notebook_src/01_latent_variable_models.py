# %% [markdown]
# # 01 · Latent variable models: the generative story
#
# **About 47 minutes** (reading and the app 25, exercises 22).
#
# **You will learn to**
# - tell a latent variable model as a two-step sampling recipe, $z \sim p(z)$ then $x \sim p_\theta(x \mid z)$, and
#   tell a sampler that follows it from one that only looks right, by debugging a draft (Exercise 1.1);
# - see how a neural decoder turns one simple Gaussian per $z$ into a flexible marginal $p_\theta(x)$,
#   an infinite mixture, and what the latent size and the noise scale do to it;
# - recognise the discrete case (a mixture of Gaussians) and the linear case (probabilistic PCA,
#   $p(x) = \mathcal N(b, W W^\top + \sigma^2 I)$) as the same story.
#
# **Before this notebook:** none; this is the first. You need Gaussians, expectations and a little
# PyTorch (tensors, `torch.randn`).
# **Exercises:** 1.1 is code, a bug hunt (a sampler of the generative story with two planted bugs to find and fix:
# 12 min, ★★☆); 1.2 is a prediction you commit
# to, then check with the sliders (5 min, ★☆☆); 1.3 is a derivation (8 min, ★★☆). The code exercise has a check
# cell that names common mistakes and a ladder of hints, and **the notebook then runs your function**: the
# samples of the app, the conditionals figure and the variance numbers below are drawn by it once its check
# passes (by `lvmlib`'s recipe until then, and the notebook says which).
#
# %% [markdown]
# A **latent variable model** explains each data point $x$ by an unobserved cause $z$.
# It is a recipe for generating data in two steps (CS236, lecture 5):
#
# 1. draw a latent $z \sim p(z)$, a simple distribution, here $\mathcal N(0, I)$;
# 2. draw the data point from the conditional $x \sim p_\theta(x \mid z)$, also simple: a Gaussian
#    $\mathcal N\big(\mu_\theta(z), \operatorname{diag}\sigma_\theta(z)^2\big)$ whose mean and scale a
#    **neural network** computes from $z$.
#
# The model of the data is what is left when the cause is forgotten, the marginal
#
# $$p_\theta(x) = \int p_\theta(x \mid z)\, p(z)\, dz ,$$
#
# an *infinite mixture* of Gaussians, one for every $z$. Each piece is simple; the mixture need not be.
# In this notebook you will sample from such models, see what the latent size and the noise do, and
# check two claims on the numbers: given $z$, $x$ has a simple shape (one Gaussian blob), and for
# a *linear* decoder the marginal is the Gaussian $\mathcal N(b, W W^\top + \sigma^2 I)$.

# %%
import torch
import matplotlib.pyplot as plt

import lvmlib
from lvmlib import exercises
from lvmlib.lessons import nb01

lvmlib.plotting.retina_figures()  # static figures as 2x PNGs: sharp on hi-DPI screens
g = lvmlib.set_seed(0)  # one seed for the whole notebook; lvmlib calls take the generator g
device = lvmlib.get_device()  # CUDA, then MPS, then CPU; LVMLIB_DEVICE overrides (a bad value fails here)

# %% [markdown]
# ## A decoder: the same network for every z
#
# The function that maps $z$ to the parameters of $p(x \mid z)$ is one network, shared by all
# latents; only its input changes. Here $z$ has one dimension and $x$ has two (so we can draw it).

# %%
decoder = nb01.story_decoders(sizes=(1,))[1]   # a GaussianDecoder with random (seeded) weights
print(decoder.net)

z = torch.randn(4, 1, generator=g)        # four latents                [4, 1]
px_given_z = decoder(z)                   # p(x | z): a Gaussian for each z, batch [4], event [2]
for zi, mu, sd in zip(z, px_given_z.mean, px_given_z.stddev):
    print(f"z = {zi.item():+.2f}  ->  p(x | z) has mean {mu.detach().numpy().round(2)}, scale {sd.detach().numpy().round(2)}")

# %% [markdown]
# ### Exercise 1.1: find the two bugs in a sampler (12 min, ★★☆)
#
# Below is a first try at the whole recipe as a function: draw `num_samples` latents from the prior
# $\mathcal N(0, I)$, then one $x$ from $p(x \mid z)$ for each, using `generator` for every random draw, and return
# `(z, x)`. `decoder(z)` returns $p(x \mid z)$ as a `torch.distributions` object with `.mean` $= \mu_\theta(z)$ and
# `.stddev` $= \sigma_\theta(z)$; `decoder.latent_dim` is the size of $z$. The draft runs, its shapes are right, and
# its samples look plausible, but it has **two bugs**: it does not sample the model written above. Run it (the cell
# prints four samples and runs the check on it), find both, and write the fixed `sample_story` in the cell after it.
#
# The check calls the sampler on decoders with known parameters (a 1-D and a 3-D latent, small and large noise, a
# single sample) and tests that $z$ follows the prior and that $(x - \mu_\theta(z)) / \sigma_\theta(z)$ is standard
# normal, with independent coordinates. It says how many of the two bugs remain and where a remaining one shows
# (in $z$ or in the noise of $x$), not what to change. Compare every line with the model: which distribution does each
# random draw come from, and what shape must it have?
#
# The notebook may run on a GPU, where the decoder lives on `decoder.device` while `generator` lives on the CPU
# (so every machine draws the same numbers): that is why every draw is made on the generator's device and then moved,
# `.to(decoder.device)` (that part of the draft is right; keep it). The check also runs your function with the decoder
# on another device and tells you if anything stays behind on the CPU.

# %%
def sample_story_draft(decoder, num_samples, generator):
    """A first try at the recipe: (z [num_samples, latent_dim], x [num_samples, Dx]). It has two bugs."""
    z = torch.rand(num_samples, decoder.latent_dim, generator=generator).to(decoder.device)   # step 1: z ~ p(z)
    px_given_z = decoder(z)                                            # p(x | z), batch [num_samples]
    eps = torch.randn(num_samples, 1, generator=generator).to(decoder.device)
    x = px_given_z.mean + eps * px_given_z.stddev                      # step 2: x ~ p(x | z)
    return z, x


z_draft, x_draft = sample_story_draft(decoder, 4, torch.Generator().manual_seed(1))
for zi, xi in zip(z_draft, x_draft):
    print(f"z = {zi.item():+.2f}  ->  x = {xi.detach().numpy().round(2)}")
exercises.check_sample_story(sample_story_draft)

# %% [markdown]
# Your fixed version (both bugs gone; the check below then passes):

# %%
def sample_story(decoder, num_samples, generator):
    """z ~ N(0, I) of shape [num_samples, decoder.latent_dim]; x ~ p(x | z), shape [num_samples, Dx]."""
    ### BEGIN SOLUTION
    z = torch.randn(num_samples, decoder.latent_dim, generator=generator).to(decoder.device)  # step 1: z ~ p(z)
    px_given_z = decoder(z)                                              # p(x | z), batch [num_samples]
    eps = torch.randn(px_given_z.mean.shape, generator=generator).to(decoder.device)
    x = px_given_z.mean + px_given_z.stddev * eps                        # step 2: x ~ p(x | z)
    ### END SOLUTION
    return z, x

# %% [markdown]
# Run the check on your version. Until it passes, the rest of the notebook uses lvmlib's recipe, so it runs either
# way.

# %%
exercises.check_sample_story(sample_story)

# %%
# NBVAL_IGNORE_OUTPUT
exercises.hints(
    "Look at the four z the draft printed, then at the prior: could $\\mathcal N(0, 1)$ give four numbers like these? "
    "Which torch function draws from which distribution?",
    "For the second bug, print `(x_draft - decoder(z_draft).mean) / decoder(z_draft).stddev`: for a sample of "
    "$p(x \\mid z)$ that is standard-normal noise, one independent number per sample AND per coordinate. What do "
    "the two columns show?",
    "`z` comes from `torch.randn(num_samples, decoder.latent_dim, generator=generator)`, and the noise of x needs the "
    "shape of `px_given_z.mean`, `[num_samples, Dx]`, not `[num_samples, 1]`; both moved to `decoder.device`.")

# %%
sample_story_used = exercises.choose(exercises.check_sample_story(sample_story), sample_story, nb01.story_recipe)
sample_story_used

# %% [markdown]
# ## Play with the story
#
# Below, every point on the right was made by the recipe: a $z$ on the left, then one draw from
# $p(x \mid z)$. Colour is $z_1$, so you can follow each latent to the data point it caused.
#
# - **latent size**: with $d = 1$ the data lie near a curve (the decoder's image of a line) blurred
#   by noise; with more latent dimensions the decoder can fill an area.
# - **noise scale**: multiplies $\sigma_\theta(z)$. At 0 you see the decoder's mean function alone,
#   $\mu_\theta(z)$: all randomness in $x$ then comes from $z$.
# - **samples**: more draws show the marginal $p(x)$ more clearly.
#
# All samples were drawn once, in the cell below, by your `sample_story` (once it passed): for every latent
# size it draws 5000 $(z, x)$; the noise slider rescales the very noise your $x$ was drawn with. The sliders
# only redraw.

# %%
story = nb01.sample_story(nb01.story_decoders(sizes=(1, 2, 3, 4, 8), device=device), num_samples=5000,
                         generator=g, device=device, sampler=sample_story_used)
print(f"{'your sample_story' if sample_story_used.student else 'lvmlib.lessons.nb01.story_recipe'} drew the samples: "
      f"{sample_story_used.calls} calls, one per latent size")

# %%
# NBVAL_IGNORE_OUTPUT
nb01.generative_story_app(story, latent_size=1, noise=1.0, samples=2000)

# %% [markdown]
# ### Exercise 1.2: predict, then move the sliders (5 min, ★☆☆)
#
# Set **noise scale** to 0 and **latent size** to 1. (a) **Before you look**, commit to a prediction below:
# what shape do the samples make on the right? (b) Now move **latent size** to 2, still without noise. What
# changes, and why? (c) Put the noise back to 1 and then raise it. Which picture, $p(x)$ or the blobs
# $p(x \mid z)$, changes more?

# %%
# NBVAL_IGNORE_OUTPUT
exercises.predict("1.2")

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# (b) With $d = 2$ the decoder maps a plane
# onto the plane: the samples fill an area, a 2-D region with sharp edges where the map folds. (c) The
# noise widens each blob $p(x \mid z)$; the marginal gets blurred by the same amount, so thin structures in
# $p(x)$ (the curve) disappear first. How much of $x$'s spread $z$ explains depends on that noise (see below).
#
# </details>

# %% [markdown]
# ## Conditioning on z makes x simpler
#
# Fix $z$ and what is left of $x$ is a single Gaussian blob; the complicated shape of $p(x)$
# comes from moving $z$. That is the point of the model: $p(x \mid z)$ is simple in *shape* whatever
# the decoder. How *big* the blob is relative to the whole of $p(x)$ is another matter: it depends on
# the decoder's noise scale, which is small for this decoder (0.1 times a softplus), and would be large
# for a noisier one. The law of total variance splits the spread of $x$ into the two parts:
#
# $$\operatorname{Var}[x] = \underbrace{\mathbb E_z\big[\operatorname{Var}[x \mid z]\big]}_{\text{noise left after conditioning}}
#   + \underbrace{\operatorname{Var}_z\big[\mathbb E[x \mid z]\big]}_{\text{explained by } z} .$$

# %%
z_all = torch.as_tensor(story["z"][1])                         # [5000, 1]
x_all = nb01.story_samples(story, latent_size=1, noise=1.0, samples=5000)[1]
fig = nb01.conditionals_figure(decoder,  # the d = 1 decoder above is the story's d = 1 decoder
                               z_values=torch.tensor([[-1.5], [0.0], [1.5]]), marginal_x=x_all, generator=g)
lvmlib.plotting.savefig(fig, "01_conditionals")

# %%
total_var = torch.as_tensor(x_all).var(0).sum().item()                       # tr Var[x]
cond_var = (torch.as_tensor(story["scale"][1]) ** 2).sum(1).mean().item()   # E_z tr Var[x | z]
print(f"total variance of x           : {total_var:.3f}")
print(f"average variance given z     : {cond_var:.3f}  ({100 * cond_var / total_var:.0f}% of it)")
assert cond_var < 0.25 * total_var, "for this decoder's small noise, z explains most of the spread of x"

# %% [markdown]
# For *this* decoder, with its small noise, $z$ accounts for most of the spread of $x$. That is a property
# of the decoder, not a law: raise the noise scale and $\mathbb E_z \operatorname{Var}[x \mid z]$ grows with
# its square, while each $p(x \mid z)$ stays one Gaussian. What conditioning always buys is a simple shape.

# %% [markdown]
# ## When z is discrete: a mixture of Gaussians
#
# Let $z$ take one of $K$ values with probabilities $\pi_k$, and give each value its own Gaussian:
# $p(x \mid z = k) = \mathcal N(\mu_k, \Sigma_k)$. Then $p(x) = \sum_k \pi_k\, \mathcal N(x; \mu_k, \Sigma_k)$:
# the same two-step story with a **lookup table** $k \mapsto (\mu_k, \Sigma_k)$ where the VAE will have a
# neural network. Colour below is the latent $z$; a clustering algorithm would have to guess it.

# %%
from torch.distributions import Categorical, MultivariateNormal, MixtureSameFamily

weights = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
means = torch.tensor([[-3.0, 0.0], [2.0, 2.0], [2.0, -2.5]], dtype=torch.float64)
covs = torch.stack([torch.tensor([[1.0, 0.6], [0.6, 0.8]]), torch.eye(2) * 0.4,
                    torch.tensor([[1.2, -0.5], [-0.5, 0.5]])]).double()
mixture = MixtureSameFamily(Categorical(weights), MultivariateNormal(means, covs))

z_mix = torch.multinomial(weights, 2000, replacement=True, generator=g)            # [2000] in {0, 1, 2}
chol = torch.linalg.cholesky(covs)
x_mix = means[z_mix] + (chol[z_mix] @ torch.randn(2000, 2, 1, generator=g, dtype=torch.float64)).squeeze(-1)

fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(x_mix[:, 0], x_mix[:, 1], c=z_mix, cmap="tab10", vmin=0, vmax=9, s=4)
ax.set(xlabel="$x_1$", ylabel="$x_2$", title="mixture of 3 Gaussians, coloured by z")
lvmlib.plotting.describe(fig, "2000 samples of x from a mixture of three 2-D Gaussians, coloured by the component z "
                               "that drew each: three overlapping elliptical clouds.")
lvmlib.plotting.savefig(fig, "01_mixture")

# %%
frac = torch.bincount(z_mix, minlength=3).double() / len(z_mix)
print("fraction of samples per component:", frac.numpy().round(3), " weights:", weights.numpy())
print(f"average log p(x) of the samples: {mixture.log_prob(x_mix).mean().item():.3f} nats")
assert torch.allclose(frac, weights, atol=0.03)

# %% [markdown]
# ## A check with a closed form: the linear decoder
#
# If the decoder is linear, $x = W z + b + \sigma \varepsilon$ with $z \sim \mathcal N(0, I_d)$ and
# $\varepsilon \sim \mathcal N(0, I)$, the infinite mixture is a single Gaussian (probabilistic PCA):
#
# $$p(x) = \mathcal N\big(x;\ b,\ W W^\top + \sigma^2 I\big).$$
#
# The sample covariance of many draws must approach $W W^\top + \sigma^2 I$.

# %%
d, sigma = 3, 0.3
W = torch.randn(2, d, generator=g, dtype=torch.float64)
b = torch.tensor([1.0, -1.0], dtype=torch.float64)
n = 200_000
z_lin = torch.randn(n, d, generator=g, dtype=torch.float64)
x_lin = z_lin @ W.T + b + sigma * torch.randn(n, 2, generator=g, dtype=torch.float64)

exact = W @ W.T + sigma**2 * torch.eye(2, dtype=torch.float64)
sample_cov = torch.cov(x_lin.T)
rel_err = (torch.linalg.norm(sample_cov - exact) / torch.linalg.norm(exact)).item()
print("W W^T + sigma^2 I =\n", exact.numpy().round(2))
print("sample covariance =\n", sample_cov.numpy().round(2))
print(f"relative error {rel_err:.4f} with n = {n}")
assert rel_err < 0.02

# %% [markdown]
# ### Exercise 1.3: derive the linear case (8 min, ★★☆)
#
# For $x = W z + b + \sigma \varepsilon$ with $z \sim \mathcal N(0, I_d)$ and $\varepsilon \sim \mathcal N(0, I)$
# independent, show that $\mathbb E[x] = b$ and $\operatorname{Cov}[x] = W W^\top + \sigma^2 I$. Why is $p(x)$
# Gaussian at all? And which part of $\operatorname{Cov}[x]$ is $\mathbb E_z \operatorname{Var}[x \mid z]$, which part
# $\operatorname{Var}_z \mathbb E[x \mid z]$? (Write your answer down; the solutions edition has ours.)

# %% [markdown]
# <!-- solutions only -->
# <details><summary>Answer</summary>
#
# $\mathbb E[x] = W\, \mathbb E[z] + b + \sigma\, \mathbb E[\varepsilon] = b$. With $x - b = W z + \sigma \varepsilon$ and $z$,
# $\varepsilon$ independent with identity covariances,
# $\operatorname{Cov}[x] = \mathbb E[(Wz + \sigma\varepsilon)(Wz + \sigma\varepsilon)^\top] = W\, \mathbb E[z z^\top] W^\top + \sigma^2\, \mathbb E[\varepsilon \varepsilon^\top]
# = W W^\top + \sigma^2 I$ (the cross terms vanish). $x$ is an affine function of the Gaussian vector
# $(z, \varepsilon)$, and affine maps of Gaussians are Gaussian. Given $z$, $x \sim \mathcal N(Wz + b, \sigma^2 I)$:
# $\mathbb E_z \operatorname{Var}[x \mid z] = \sigma^2 I$ (the noise) and $\operatorname{Var}_z \mathbb E[x \mid z] = W W^\top$ (explained by $z$),
# the law of total variance again.
#
# </details>

# %% [markdown]
# ## What to take away
#
# - A latent variable model is a sampling recipe: $z \sim p(z)$, then $x \sim p_\theta(x \mid z)$.
# - A neural decoder turns a simple Gaussian per $z$ into a flexible marginal $p_\theta(x)$.
# - Given $z$, $x$ is simple in shape (one Gaussian); how much of the spread $z$ explains depends on the
#   decoder's noise. The difficulty is that $z$ is **never observed**. To learn $\theta$ from
#   data we need $p_\theta(x) = \int p_\theta(x \mid z) p(z) dz$, which the next notebooks compute
#   exactly where we can (02 mixtures, 03 marginalization) and estimate where we cannot (04-06).

# %% [markdown]
# ## Instructor notes
#
# - This notebook has a student edition (`notebooks/01_latent_variable_models.ipynb`, Exercise 1.1 to fill in)
#   and a solved one (`notebooks/solutions/`), both built from `tools/notebook_src/01_latent_variable_models.py`
#   by `tools/nbbuild.py`; the solution lines sit between nbgrader's begin/end-solution markers, and
#   `make nbgrader` turns the source into an nbgrader assignment (see the README's instructor section).
# - 1.1 is a bug hunt: `sample_story_draft` (the same function as `lvmlib.exercises.nb01.sample_story_draft`, which
#   a test keeps equal) draws z with `torch.rand` (uniform on [0, 1]) and one noise value per sample shared by x's
#   coordinates. `lvmlib.exercises.check_sample_story` says "both planted bugs are still there", or which remains by
#   where it shows (in z, in the noise of x), without naming the fix (`lvmlib.exercises._planted`). It checks moments,
#   not exact samples, so any correct order of random draws (or `decoder(z).sample()`) passes; its tests feed each
#   listed mistake (`tests/exercises/test_nb01_04.py`). Once it passes, `exercises.choose` hands the student's sampler to
#   `nb01.sample_story(..., sampler=)`, which draws the app's samples (and the variance numbers) with it;
#   until then `nb01.story_recipe` (the same draws, in the same order, as the solution).
# - There are no timings or library comparisons in this notebook.
