"""Checks for notebook 07 (the variational autoencoder): `check_reparameterized_sample` (7.1), `check_negative_elbo` (7.3), `check_training_loop` (7.4)."""

from __future__ import annotations

from typing import Callable

import torch

from lvmlib.exercises._types import allclose, equal  # (bound when the checks load)

from lvmlib.exercises._planted import BOTH, ONE_LEFT
from lvmlib.exercises._core import Case, Mistake, Report, StudentFailure, call_student, check_function, same_nan


#
# Exercise 7.1: the reparameterized sample; Exercise 7.3: the negative ELBO of a batch.

from torch.distributions import Bernoulli as _Bernoulli
from torch.distributions import Independent as _Independent
from torch.distributions import Normal as _Normal
from torch.distributions import kl_divergence as _kl


def _reparam_ref(mu, log_sigma, eps):
    return mu + log_sigma.exp() * eps


def _reparam_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    mu, ls = torch.randn(3, 2, generator=g, dtype=torch.float64), 0.5 * torch.randn(3, 2, generator=g, dtype=torch.float64)
    return [
        Case("B=3, d=2", (mu, ls, torch.randn(3, 2, generator=g, dtype=torch.float64))),
        Case("K=5 samples per point: eps [5, 3, 2]", (mu, ls, torch.randn(5, 3, 2, generator=g, dtype=torch.float64))),
        Case("a single data point, d=1, log_sigma = -3", (torch.tensor([[0.5]], dtype=torch.float64),
                                                          torch.tensor([[-3.0]], dtype=torch.float64),
                                                          torch.tensor([[1.5]], dtype=torch.float64))),
    ]


def reparameterized_sample_draft(mu, log_sigma, eps):
    """Exercise 7.1's draft, as the notebook shows it, with its two planted bugs."""
    sigma = log_sigma.exp() ** 2                  # the encoder's scale
    z = mu + sigma * eps                          # [B, d] or [K, B, d]
    return z.detach()                             # a sample is a number: no gradient through it


_DRAFT = "reparameterized_sample_draft"
#: where each planted bug of the draft shows (not the fix)
_SHOWS_VARIANCE = ("in the values of z: they spread too far from mu where sigma > 1 and too little where sigma < 1 "
                   "(the values are right only where log_sigma = 0).")
_SHOWS_DETACHED = ("in the gradient only: the values of z are right, but a loss computed from z sends no gradient "
                   "back to mu, or to log_sigma, or to either, so it could never train the encoder.")
BOTH_PLANTED = (f"Both planted bugs of `{_DRAFT}` are still there (0 of 2 fixed): one shows in the values of z, "
                "the other in its gradient. Find them one at a time.")

REPARAM_MISTAKES = [
    Mistake("log-sigma-as-sigma", "You scaled eps by log_sigma itself; the scale is sigma = log_sigma.exp().",
            lambda mu, ls, eps: mu + ls * eps),
    Mistake("variance", ONE_LEFT(_DRAFT, _SHOWS_VARIANCE), lambda mu, ls, eps: mu + (2 * ls).exp() * eps),
    Mistake("log-variance", "You read log_sigma as a log-variance (exp(log_sigma / 2)); here it is the log of "
                            "the standard deviation: sigma = log_sigma.exp().",
            lambda mu, ls, eps: mu + (0.5 * ls).exp() * eps),
]

NO_REPARAM = ("No gradient reaches mu and log_sigma, and the values of z are not right either: you sampled z "
              "without the reparameterization (.sample(), torch.normal(...), or .detach() cut the graph), so the "
              "encoder would never learn. Build z from the given noise eps.")
#: the values are right and only the gradient is missing: the draft's second planted bug
DETACHED_LEFT = ONE_LEFT(_DRAFT, _SHOWS_DETACHED)
IGNORES_EPS = ("Your z changes from call to call with the same eps: you drew fresh noise instead of using the "
               "eps given. Build z from it: z = mu + log_sigma.exp() * eps.")


def _gradient_probe(student: Callable, name: str) -> str | None:
    """Whether z = student(mu, log_sigma, eps) depends on mu and log_sigma through the graph and
    on the given eps: None if so, else "no-reparam" (no gradient reaches them) or "ignores-eps"
    (a second call with the same eps gives another z).  Runs under ``torch.enable_grad()`` (a
    notebook may have switched autograd off); says nothing about whether the values are right."""
    g = torch.Generator().manual_seed(11)
    mu0, ls0 = torch.randn(4, 3, generator=g, dtype=torch.float64), 0.3 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(4, 3, generator=g, dtype=torch.float64)
    case = Case("B=4, d=3, mu and log_sigma require gradients", (mu0, ls0, eps))
    with torch.enable_grad():
        z, leaves = call_student(name, student, case, grad=(0, 1), return_args=True,
                                 what="when called with mu and log_sigma that require gradients")
        if not isinstance(z, torch.Tensor) or not z.requires_grad:
            return "no-reparam"
        grads = torch.autograd.grad(z.sum(), [leaves[0], leaves[1]], allow_unused=True)
    if any(gr is None or not bool(gr.abs().sum() > 0) for gr in grads):
        return "no-reparam"
    again = call_student(name, student, case, what="when called twice with the same eps")
    if not isinstance(again, torch.Tensor) or again.shape != z.shape or \
            not allclose(z.detach(), again.detach().to(z.dtype)):
        return "ignores-eps"
    return None


def check_reparameterized_sample(student: Callable) -> Report:
    """Exercise 7.1: ``student(mu, log_sigma, eps) -> z = mu + exp(log_sigma) * eps`` (broadcasting), the fixed
    :func:`reparameterized_sample_draft` (a find-the-bugs exercise: the variance as the scale, and a detached z).

    Besides the values, checks that the right gradient flows to ``mu`` and ``log_sigma`` (the
    point of the trick).  The gradient is diagnosed only where it says something true: "no
    gradient reaches mu" only when none does, a wrong gradient only when the values are right.
    """
    name = "Exercise 7.1 (the reparameterized sample)"
    report = check_function(name, student, _reparam_ref, _reparam_cases(), REPARAM_MISTAKES, grad=(0, 1))
    if report.mistake in ("wrong-type", "changed-input"):
        return report
    if report.mistake == "variance":  # one planted bug shows in the values; is the other (the gradient) there too?
        try:
            problem = _gradient_probe(student, name)
        except StudentFailure as fail:
            return Report(name, fail.status, fail.text)
        if problem == "no-reparam":
            return Report(name, "wrong", f"{name}: not yet. {BOTH_PLANTED}", BOTH)
        return report
    if report.passed or report.status in ("todo", "error") or report.mistake is not None:
        if report.passed:
            return Report(name, "passed", report.message + " The gradient reaches mu and log_sigma.")
        if report.mistake == "no-gradient":
            problem = None
            try:
                problem = _gradient_probe(student, name)
            except StudentFailure as fail:
                return Report(name, fail.status, fail.text)
            if problem is not None:
                return Report(name, "wrong", f"{name}: not yet. {DETACHED_LEFT if problem == 'no-reparam' else IGNORES_EPS}",
                              problem)
        return report
    # the values are wrong and no listed mistake explains them: say so, unless there is no
    # gradient at all or eps is ignored (true whatever the values)
    try:
        problem = _gradient_probe(student, name)
    except StudentFailure as fail:
        return Report(name, fail.status, fail.text)
    if problem is not None:
        return Report(name, "wrong", f"{name}: not yet. {NO_REPARAM if problem == 'no-reparam' else IGNORES_EPS}", problem)
    return report


def _neg_elbo_ref(x, logits, mu, log_sigma):
    rec = _Independent(_Bernoulli(logits=logits), 1).log_prob(x)  # [B]
    q = _Independent(_Normal(mu, log_sigma.exp()), 1)
    prior = _Independent(_Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    return -(rec - _kl(q, prior)).mean()


def _rec(x, logits):
    return _Independent(_Bernoulli(logits=logits), 1).log_prob(x)  # [B]


def _kl_std(mu, log_sigma):
    return 0.5 * (mu ** 2 + (2 * log_sigma).exp() - 1 - 2 * log_sigma).sum(-1)  # [B]


def _neg_elbo_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(3, 6, generator=g) < 0.5).float()
    confident = torch.tensor([[40.0, -40.0, 40.0, -40.0]])
    return [
        Case("B=3 digits, 6 pixels, d=2", (x, torch.randn(3, 6, generator=g), torch.randn(3, 2, generator=g),
                                           0.5 * torch.randn(3, 2, generator=g))),
        Case("a single data point, d=1", (x[:1], torch.randn(1, 6, generator=g), torch.tensor([[0.7]]),
                                          torch.tensor([[-1.0]]))),
        Case("confident logits +-40, half of them wrong", (torch.tensor([[1.0, 0.0, 0.0, 1.0]]), confident,
                                                           torch.zeros(1, 2), torch.zeros(1, 2))),
    ]


NEG_ELBO_MISTAKES = [
    Mistake("kl-sign", "The KL has the wrong sign: ELBO = E_q[log p(x | z)] - KL(q(z | x) || p(z)), so the "
                       "loss (minus the ELBO) ADDS the KL to the reconstruction loss.",
            lambda x, l, mu, ls: -(_rec(x, l) + _kl_std(mu, ls)).mean()),
    Mistake("sum-batch", "You summed over the batch; average over the digits (the loss per digit does not "
                         "change with the batch size, so the learning rate means the same for any batch).",
            lambda x, l, mu, ls: -(_rec(x, l) - _kl_std(mu, ls)).sum()),
    Mistake("not-negated", "You returned the ELBO itself; the loss to minimize is minus the ELBO.",
            lambda x, l, mu, ls: (_rec(x, l) - _kl_std(mu, ls)).mean()),
    Mistake("pixel-mean", "You averaged the reconstruction term over the pixels too (binary_cross_entropy's "
                          "default reduction='mean'): log p(x | z) SUMS over the pixels; average only over digits.",
            lambda x, l, mu, ls: torch.nn.functional.binary_cross_entropy_with_logits(l, x) + _kl_std(mu, ls).mean()),
    Mistake("no-kl", "You left out the KL term: that is an autoencoder's reconstruction loss, not minus the ELBO.",
            lambda x, l, mu, ls: -_rec(x, l).mean()),
    Mistake("log-variance", "Your KL reads log_sigma as a log-variance; here it is the log of the standard "
                            "deviation: KL = 0.5 * sum(mu^2 + sigma^2 - 1 - 2 log sigma).",
            lambda x, l, mu, ls: -(_rec(x, l) - 0.5 * (mu ** 2 + ls.exp() - 1 - ls).sum(-1)).mean()),
    Mistake("sigmoid-log", "You took log(sigmoid(logits)) by hand: at a confident pixel sigmoid(40) is exactly 1.0 "
                           "in float32 and log(1 - 1) = -inf. Use Bernoulli(logits=logits).log_prob(x) or "
                           "binary_cross_entropy_with_logits (stable for any logit).",
            lambda x, l, mu, ls: (-(x * torch.sigmoid(l).log() + (1 - x) * (1 - torch.sigmoid(l)).log()).sum(-1)
                                  + _kl_std(mu, ls)).mean()),
]


def check_negative_elbo(student: Callable) -> Report:
    """Exercise 7.3: ``student(x [B, D], logits [B, D], mu [B, d], log_sigma [B, d]) -> scalar``:
    minus the ELBO, mean over the batch of ( -log p(x | z) + KL(N(mu, sigma^2) || N(0, I)) )."""
    return check_function("Exercise 7.3 (the negative ELBO of a batch)", student, _neg_elbo_ref, _neg_elbo_cases(),
                          NEG_ELBO_MISTAKES, compare=lambda g, w: same_nan(g, w, rtol=1e-4, atol=1e-4), grad=(1, 2, 3),
                          passed="Minimizing it is maximizing the ELBO, per digit.")


# ----------------------------------------------------------------------------------------
# lvmlib's versions the notebook runs until the student's pass (exercises.choose)
# ----------------------------------------------------------------------------------------


def reparameterized_sample(mu, log_sigma, eps):
    """lvmlib's answer to exercise 7.1: z [eps's shape] from mu, log_sigma [B, d] and eps [B, d] or [K, B, d]."""
    return _reparam_ref(mu, log_sigma, eps)


def negative_elbo(x, logits, mu, log_sigma):
    """lvmlib's answer to exercise 7.3: minus the ELBO averaged over the batch, a scalar with a gradient."""
    return _neg_elbo_ref(x, logits, mu, log_sigma)


def fit(model, x, loss_fn, epochs, *, lr=3e-3, batch_size=64, generator=None):
    """lvmlib's answer to exercise 7.4: Adam on ``loss_fn(model, xb)`` over shuffled batches of x.

    Returns the mean loss of every epoch, a list of ``epochs`` floats (weighted by batch size).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = []
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=generator).to(x.device)
        total = 0.0
        for xb in x[perm].split(batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model, xb)
            loss.backward()
            optimizer.step()
            total += loss.item() * xb.shape[0]
        history.append(total / x.shape[0])
    return history


# ----------------------------------------------------------------------------------------
# Exercise 7.4: one training loop (the four lines of a step)
# ----------------------------------------------------------------------------------------


def _loop_variant(order: str):
    """A training loop whose step is ``order`` (the known mistakes are other orders of the same four lines)."""
    def loop(model, x, loss_fn, epochs, *, lr=3e-3, batch_size=64, generator=None):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        history = []
        for _ in range(epochs):
            perm = torch.randperm(x.shape[0], generator=generator).to(x.device)
            total = 0.0
            for xb in x[perm].split(batch_size):
                loss = None
                for op in order.split():
                    if op == "zero":
                        optimizer.zero_grad()
                    elif op == "loss":
                        loss = loss_fn(model, xb)
                    elif op == "backward":
                        loss.backward()
                    elif op == "neg-backward":
                        (-loss).backward()
                    elif op == "step":
                        optimizer.step()
                total += loss.item() * xb.shape[0]
            history.append(total / x.shape[0])
        return history
    return loop


LOOP_MISTAKES = [
    Mistake("no-zero-grad", "You never cleared the gradients: loss.backward() ADDS to .grad, so each step followed "
                            "the sum of every gradient so far. Call optimizer.zero_grad() before loss.backward().",
            _loop_variant("loss backward step")),
    Mistake("step-before-backward", "You called optimizer.step() before loss.backward(): each step used the previous "
                                    "batch's gradient (the first step none at all). Order: zero_grad, loss, backward, step.",
            _loop_variant("zero loss step backward")),
    Mistake("zero-after-backward", "You cleared the gradients between loss.backward() and optimizer.step(), so every "
                                   "step saw a zero gradient and the model never moved. Clear them first: zero_grad, "
                                   "loss, backward, step.", _loop_variant("loss backward zero step")),
    Mistake("ascent", "You backpropagated minus the loss: optimizer.step() descends, so that climbs the loss (here: "
                      "pushes the ELBO down). loss_fn already returns minus the ELBO; call loss.backward() on it as it is.",
            _loop_variant("zero loss neg-backward step")),
    Mistake("no-step", "You never called optimizer.step(): the gradients were computed and thrown away, and the "
                       "weights never changed.", _loop_variant("zero loss backward")),
]


def _tiny_vae():
    from lvmlib.vae import VAE

    return VAE(6, 2, (8,), generator=torch.Generator().manual_seed(3))


def _tiny_data():
    g = torch.Generator().manual_seed(4)
    probs = torch.rand(3, 6, generator=g)
    return (torch.rand(36, 6, generator=g) < probs[torch.arange(36) % 3]).float()  # [36, 6], three kinds


class _CountingLoss:
    """loss_fn(model, xb) = minus the batch-mean ELBO (its own seeded noise), counting its calls."""

    def __init__(self, seed: int = 5):
        self.g = torch.Generator().manual_seed(seed)
        self.calls = 0
        self.sizes = []

    def __call__(self, model, xb):
        self.calls += 1
        self.sizes.append(int(xb.shape[0]))
        return -model.elbo(xb, generator=self.g).mean()


def _run_loop(fn, epochs=4, batch_size=8, lr=0.03):
    model, loss = _tiny_vae(), _CountingLoss()
    history = fn(model, _tiny_data(), loss, epochs, lr=lr, batch_size=batch_size,
                 generator=torch.Generator().manual_seed(6))
    return model, loss, history


def _params(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _history_list(history, epochs: int) -> list | None:
    if isinstance(history, torch.Tensor):
        history = history.tolist() if history.dim() == 1 else None
    if not isinstance(history, (list, tuple)) or len(history) != epochs:
        return None
    try:
        return [float(h) for h in history]
    except (TypeError, ValueError, RuntimeError):
        return None


def check_training_loop(student: Callable) -> Report:
    """Exercise 7.4: ``student(model, x, loss_fn, epochs, *, lr, batch_size, generator) -> [mean loss per epoch]``.

    Runs it on a tiny VAE (6 pixels, 2 latents, 36 points, batches of 8, 4 epochs) and lvmlib's
    :func:`fit` on a copy with the same seeds (weights, shuffling, the loss's noise), then compares the
    loss of every epoch and the final weights; a mismatch is compared with the usual mistakes (no
    zero_grad, step before backward, zero_grad between backward and step, minus the loss, no step).
    Also checks that ``loss_fn`` ran once per batch, on the given batches, and that x is unchanged.
    """
    name = "Exercise 7.4 (one training loop)"
    epochs = 4
    x = _tiny_data()
    model, loss = _tiny_vae(), _CountingLoss()
    before = _params(model)
    case = Case("a tiny VAE (6 pixels, 2 latents), 36 points, batches of 8, 4 epochs, lr 0.03",
                (model, x, loss, epochs), {"lr": 0.03, "batch_size": 8, "generator": torch.Generator().manual_seed(6)})
    try:
        with torch.enable_grad():
            history = call_student(name, student, case)
    except StudentFailure as fail:
        return Report(name, fail.status, fail.text, fail.mistake)
    ref_model, ref_loss, ref_history = _run_loop(fit, epochs)
    n_batches = epochs * -(-x.shape[0] // 8)
    if loss.calls == 0:
        return Report(name, "wrong", f"{name}: not yet. Your loop never called loss_fn(model, xb): the loss of each "
                                     "batch is loss = loss_fn(model, xb).", "no-loss")
    if loss.calls != n_batches:
        return Report(name, "wrong", f"{name}: not yet. loss_fn ran {loss.calls} times for {n_batches} batches: call "
                                     "it exactly once per batch (compute loss once, backpropagate that same tensor, "
                                     "and record loss.item() from it).", "loss-calls")
    if loss.sizes != ref_loss.sizes:
        return Report(name, "wrong", f"{name}: not yet. loss_fn got batches of sizes {loss.sizes[:6]}..., expected "
                                     f"{ref_loss.sizes[:6]}...: pass it the batch xb of the loop.", "batches")
    got = _history_list(history, epochs)
    if got is None:
        return Report(name, "wrong", f"{name}: not yet. Return the list of the {epochs} epochs' mean losses (the "
                                     f"skeleton's `history`), got {type(history).__name__}.", "wrong-type")
    after = _params(model)
    want_params, want_hist = _params(ref_model), torch.tensor(ref_history, dtype=torch.float64)
    got_hist = torch.tensor(got, dtype=torch.float64)
    if allclose(after, want_params, rtol=1e-4, atol=1e-5) and allclose(got_hist, want_hist, rtol=1e-4, atol=1e-4):
        return Report(name, "passed", f"{name}: passed. Same losses, epoch by epoch, and the same weights as lvmlib's "
                                      f"loop (loss {want_hist[0]:.2f} -> {want_hist[-1]:.2f} nats per point).")
    if equal(after, before):
        return Report(name, "wrong", f"{name}: not yet. The weights never changed: optimizer.step() is missing, or "
                                     "it runs before loss.backward(), or zero_grad() runs between backward and step. "
                                     "The order is zero_grad, loss, backward, step.", "no-update")
    for m in LOOP_MISTAKES:
        m_model, _, _ = _run_loop(m.fn, epochs)
        if allclose(after, _params(m_model), rtol=1e-4, atol=1e-5):
            return Report(name, "wrong", f"{name}: not yet. {m.explain}", m.name)
    if allclose(after, want_params, rtol=1e-4, atol=1e-5):
        return Report(name, "wrong", f"{name}: not yet. The weights are right but the recorded losses are not: "
                                     f"got {[round(h, 3) for h in got]}, expected {[round(h, 3) for h in ref_history]}. "
                                     "Record each batch's loss.item() times its size, divided by the number of points.",
                      "history")
    rise = got[-1] > got[0]
    return Report(name, "wrong", f"{name}: not yet. After 4 epochs your weights differ from lvmlib's (largest "
                                 f"difference {float((after - want_params).abs().max()):.3g}); your losses per epoch "
                                 f"{[round(h, 2) for h in got]}, expected {[round(h, 2) for h in ref_history]}"
                                 + (" (yours went up: is the step descending the loss?)" if rise else "")
                                 + ". One step is: optimizer.zero_grad(); loss = loss_fn(model, xb); loss.backward(); "
                                   "optimizer.step().", None)
