"""Plausible wrong answers a student would write, beyond the checks' own lists of mistakes: every
one must fail (status "wrong" or "error") with a message that helps; the notebook's own solution
(read from tools/notebook_src, between ### BEGIN SOLUTION / ### END SOLUTION) must pass.

Also: the machinery of lvmlib.exercises._core (inputs compared after the call, return types,
the stub's NotImplementedError vs torch's, the time limit, autograd switched off, the report's
HTML line and require()), and the false-alarm rate of exercise 1.1's statistical check.
"""

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Independent, MultivariateNormal, Normal

from lvmlib import exercises as ex
from lvmlib.exercises import _core
from lvmlib.distributions import sample

ROOT = Path(__file__).resolve().parents[2]
from tools.nbbuild import STUB, parse  # noqa: E402


def _solutions() -> dict:
    """name -> the notebook's solution function, executed from the solutions edition's cell."""
    found = {}
    for src in sorted((ROOT / "tools" / "notebook_src").glob("[01]*.py")):
        text = src.read_text()
        for cell in parse(text, "solutions").cells:
            if cell.cell_type != "code":
                continue
            names = re.findall(r"^def (\w+)\(", cell.source, flags=re.M)
            if not names:
                continue
            student = [c.source for c in parse(text, "student").cells if c.cell_type == "code"
                       and re.search(rf"^def {names[0]}\(", c.source, flags=re.M)]
            if not student or "NotImplementedError" not in student[0]:
                continue
            ns = {"torch": torch, "math": math, "np": np, "sample": sample}
            exec(compile(cell.source, str(src), "exec"), ns)  # noqa: S102 - our own notebook source
            for name in names:
                found[name] = ns[name]
    return found


SOLUTIONS = _solutions()


# ---------------------------------------------------------------- the wrong answers, per exercise

def _mvn(x, m, c):
    return MultivariateNormal(m, c).log_prob(x[:, None, :])


def _e_inplace_reg(x, w, m, c):
    c += 1e-6 * torch.eye(c.shape[-1], dtype=c.dtype)  # "regularise" the covariances in place
    lj = torch.log(w) + _mvn(x, m, c)
    return torch.softmax(lj, 1)


def _e_loop_float32(x, w, m, c):
    r = torch.zeros(x.shape[0], len(w))  # float32 by default
    for k in range(len(w)):
        r[:, k] = torch.log(w[k]) + MultivariateNormal(m[k], c[k]).log_prob(x)
    return torch.softmax(r, 1)


def _m_inplace_normalise(x, r):
    r /= r.sum(1, keepdim=True)
    n_k = r.sum(0)
    means = r.T @ x / n_k[:, None]
    diff = x[None] - means[:, None]
    return n_k / len(x), means, torch.einsum("nk,kni,knj->kij", r, diff, diff) / n_k[:, None, None]


def _m_step(x, r, cov_div=0, global_mean=False, weights_over_k=False):
    n_k = r.sum(0)
    means = r.T @ x / n_k[:, None]
    centre = x.mean(0).expand_as(means) if global_mean else means
    diff = x[None] - centre[:, None]
    cov = torch.einsum("nk,kni,knj->kij", r, diff, diff) / (n_k - cov_div)[:, None, None]
    return (n_k / r.shape[1] if weights_over_k else n_k / len(x)), means, cov


def _m_diag(x, r):
    w, m, c = _m_step(x, r)
    return w, m, torch.diagonal(c, dim1=-2, dim2=-1)


def _mix_terms(x, w, m, s):
    return torch.log(w) + Normal(m, s).log_prob(x[:, None])


def _mix_unsqueeze_inplace(x, w, m, s):
    x.unsqueeze_(-1)
    return torch.logsumexp(torch.log(w) + Normal(m, s).log_prob(x), dim=1)


def _naive(lw, log_n=None, se="rel", dim=0):
    n = lw.shape[0]
    lp = torch.logsumexp(lw, dim) - math.log(n if log_n is None else log_n)
    if se == "abs":
        rel = lw.exp().std(0) / math.sqrt(n)
    else:
        rel = torch.exp(lw - lp).std(0) / math.sqrt(n)
    return lp, rel


def _naive_exp_inplace(lw):
    n = lw.shape[0]
    w = lw.exp_()
    lp = torch.log(w.mean(0))
    return lp, (w / w.mean(0)).std(0) / math.sqrt(n)


def _lse(lw):
    return torch.logsumexp(lw, 0) - math.log(lw.shape[0])


def _max_trick_inplace(lw):
    m = lw.max(0).values
    lw -= m
    return m + torch.log(torch.exp(lw).mean(0))


def _global_max(lw):
    m = lw.max()
    return m + torch.log(torch.exp(lw - m).mean(0))


def _ess_inplace(lw):
    lw -= torch.logsumexp(lw, 0, keepdim=True)
    return torch.exp(-torch.logsumexp(2 * lw, 0))


def _ess_max_normalised(lw):
    lb = lw - lw.max(0).values
    return torch.exp(-torch.logsumexp(2 * lb, 0))


def _elbo_inplace(lw):
    lw /= lw.shape[0]
    return lw.sum(0)


def _reparam_inplace(mu, ls, eps):
    return eps.mul_(ls.exp()).add_(mu)


def _bce(x, logits):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def _kl(mu, ls):
    return 0.5 * (mu ** 2 + (2 * ls).exp() - 1 - 2 * ls).sum(-1)


def _slerp_no_clamp(z0, z1, t):
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    if torch.sin(omega) < 1e-6:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def _slerp_normalise_inplace(z0, z1, t):
    n0, n1 = z0.norm(), z1.norm()
    z0 /= n0
    z1 /= n1
    return SOLUTIONS["slerp"](z0, z1, t) * ((1 - t) * n0 + t * n1)


def _slerp_norm_lerp(z0, z1, t):
    n0, n1 = z0.norm(), z1.norm()
    return SOLUTIONS["slerp"](z0 / n0, z1 / n1, t) * ((1 - t) * n0 + t * n1)


def _slerp_numpy(z0, z1, t):
    a, b = z0.numpy(), z1.numpy()
    cos = np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)
    om = np.arccos(cos)
    if np.sin(om) < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * om) * a + np.sin(t * om) * b) / np.sin(om)


def _score(f, z, m, s, sign=1.0, var_grad=False, baseline=False):
    u = z - m
    fv = (f - f.mean() if baseline else f)[:, None]
    if var_grad:
        return fv * sign * u / s ** 2, fv * (u ** 2 / (2 * s ** 4) - 1 / (2 * s ** 2))
    return fv * sign * u / s ** 2, fv * (u ** 2 / s ** 3 - 1 / s)


def _score_inplace(f, z, m, s):
    z -= m
    return f[:, None] * z / s ** 2, f[:, None] * (z ** 2 / s ** 3 - 1 / s)


def _mix(z, lg, loc, sc, dim=-1, sum_dims=True, var=False, reduce="lse"):
    comp = Normal(loc, sc.sqrt() if var else sc).log_prob(z[:, None, :])
    if sum_dims:
        comp = comp.sum(-1)
    terms = torch.log_softmax(lg, 0) + comp
    return torch.logsumexp(terms, dim) if reduce == "lse" else terms.mean(dim)


def _mix_no_grad(z, lg, loc, sc):
    with torch.no_grad():
        return _mix(z, lg, loc, sc)


def _mix_unsqueeze_inplace2(z, lg, loc, sc):
    z.unsqueeze_(1)
    return torch.logsumexp(torch.log_softmax(lg, 0) + Normal(loc, sc).log_prob(z).sum(-1), -1)


def _m2_q_log_q(lq, lab):
    q = lq.exp()
    return (q * lab).sum(-1) - (q * torch.log(q)).sum(-1)


def _m2_inplace(lq, lab):
    lab -= lq
    return (lq.exp() * lab).sum(-1)


def _m2_hard(lq, lab):
    y = lq.argmax(-1, keepdim=True)
    return lab.gather(-1, y).squeeze(-1)


def _story(dec, n, g, *, eps_shape=None, z_dtype=None, np_out=False, z_1d=False):
    dtype = z_dtype or next(dec.parameters()).dtype
    z = torch.randn(n, dec.latent_dim, generator=g, dtype=dtype) if not z_1d else torch.randn(dec.latent_dim, generator=g)
    px = dec(z)
    eps = torch.randn(eps_shape(px, n) if eps_shape else px.mean.shape, generator=g, dtype=px.mean.dtype)
    x = px.mean + px.stddev * eps
    if np_out:
        return z.numpy(), x.detach().numpy()
    return z, x


def _loop(model, x, loss_fn, epochs, *, lr=3e-3, batch_size=64, generator=None, twice=False, record="mean",
          zero_once=False, full_batch=False, shuffle_inplace=False, sgd=False):
    """Training loops a student might write for exercise 7.4, each wrong in one way."""
    optimizer = (torch.optim.SGD if sgd else torch.optim.Adam)(model.parameters(), lr=lr)
    history = []
    if zero_once:
        optimizer.zero_grad()
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=generator)
        if shuffle_inplace:
            x[:] = x[perm]
            batches = x.split(batch_size)
        else:
            batches = [x[perm]] if full_batch else x[perm].split(batch_size)
        total, means = 0.0, []
        for xb in batches:
            if not zero_once:
                optimizer.zero_grad()
            loss = loss_fn(model, xb)
            loss.backward()
            optimizer.step()
            value = loss_fn(model, xb).item() if twice else loss.item()
            total += value * xb.shape[0]
            means.append(value)
        history.append(means[-1] if record == "last" else sum(means) / len(means) if record == "unweighted"
                       else total / x.shape[0])
    return history


def _prior(mu, ls, eps, lp, *, detach=False, per_dim=False, prior_at_mean=False, sigma_is_log=False):
    sigma = ls if sigma_is_log else ls.exp()
    z = mu + sigma * eps
    if detach:
        z = z.detach()
    log_q = Normal(mu, sigma).log_prob(z)
    log_q = log_q.mean(-1) if per_dim else log_q.sum(-1)
    log_p = lp(mu).expand(z.shape[:-1]) if prior_at_mean else lp(z)
    return (log_q - log_p).mean(0)


def _lw(x, model, q, K, generator, *, z_from=None, detach=False, mean_z=False):
    B = x.shape[0]
    q = q.expand(torch.Size([B]))
    z = sample(q if z_from is None else z_from.expand(torch.Size([B])), (K,), generator)
    if detach:
        z = z.detach()
    lik_z = z.mean(0, keepdim=True).expand_as(z) if mean_z and z.is_floating_point() else z
    return model.prior().log_prob(z) + model.likelihood(lik_z).log_prob(x) - q.log_prob(z)


def _objective(x, model, encoder, K, kind="elbo", generator=None, *, detach_q=False, log_b=False):
    q = encoder(x)
    z = sample(q, (K,), generator)
    log_w = model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z.detach() if detach_q else z)
    if kind == "elbo":
        return log_w.mean(0)
    return torch.logsumexp(log_w, 0) - math.log(x.shape[0] if log_b else K)


def _em(x, w, mu, cov, e_step, m_step, *, tol, max_iter, rule="abs", own_m=False, inplace=False, total=False,
        iters=None, vs_start=False, final_only=False):
    """EM loops a student might write for exercise 2.3 (the keywords pick the slip)."""
    from lvmlib.mixtures.reference import log_likelihood, m_step as textbook_m_step

    scale = x.shape[0] if total else 1
    params, lls = [(w, mu, cov)], [scale * log_likelihood(x, w, mu, cov)]
    for _ in range(max_iter if iters is None else iters(max_iter)):
        r = e_step(x, *params[-1])
        new = tuple(textbook_m_step(x, r) if own_m else m_step(x, r))
        if inplace:
            for old, fresh in zip((w, mu, cov), new):
                old.copy_(fresh)
            new = tuple(t.clone() for t in (w, mu, cov))
        params.append(new)
        lls.append(scale * log_likelihood(x, *new))
        rise = lls[-1] - (lls[0] if vs_start else lls[-2])
        stop = abs(rise / lls[-1]) < tol if rule == "relative" else abs(rise) < tol
        if stop:
            return (params[-1] if final_only else params), lls, True
    return (params[-1] if final_only else params), lls, False


WRONG = {
    "1.1": (ex.check_sample_story, "sample_story", {
        "noise shared across samples (eps [Dx])": lambda d, n, g: _story(d, n, g, eps_shape=lambda px, n: px.mean.shape[-1:]),
        "returns NumPy arrays": lambda d, n, g: _story(d, n, g, np_out=True),
        "z in float64 for a float32 decoder": lambda d, n, g: _story(d, n, g, z_dtype=torch.float64),
        "one z vector, no sample dimension": lambda d, n, g: _story(d, n, g, z_1d=True),
        "x from the same noise as z": lambda d, n, g: (lambda z: (z, d(z).mean + d(z).stddev
                                                                   * z[:, :1].expand(-1, d.data_dim)))(
            torch.randn(n, d.latent_dim, generator=g)),
        # fixing the draft's torch.rand: a centred uniform, and one rescaled to variance 1 (bounded: no tails)
        "the draft's z 'fixed' as torch.rand * 2 - 1": lambda d, n, g: (lambda z: (z, d(z).mean + d(z).stddev
                                                                                  * torch.randn(n, d.data_dim, generator=g)))(
            torch.rand(n, d.latent_dim, generator=g) * 2 - 1),
        "the draft's z 'fixed' as (torch.rand - 0.5) * sqrt(12)": lambda d, n, g: (lambda z: (z, d(z).mean + d(z).stddev
                                                                                           * torch.randn(n, d.data_dim, generator=g)))(
            (torch.rand(n, d.latent_dim, generator=g) - 0.5) * math.sqrt(12)),
    }),
    "2.1": (ex.check_e_step, "e_step", {
        "covariances regularised in place": _e_inplace_reg,
        "a loop filling a float32 tensor": _e_loop_float32,
        "normalised by the max, not the logsumexp": lambda x, w, m, c: (lambda lj: torch.exp(lj - lj.max(1, keepdim=True).values))(
            torch.log(w) + _mvn(x, m, c)),
        "diagonal covariances only": lambda x, w, m, c: torch.softmax(
            torch.log(w) + Independent(Normal(m, torch.diagonal(c, dim1=-2, dim2=-1).sqrt()), 1).log_prob(x[:, None]), 1),
        "covariances read as Cholesky factors": lambda x, w, m, c: torch.softmax(
            torch.log(w) + MultivariateNormal(m, scale_tril=torch.linalg.cholesky(c) @ torch.linalg.cholesky(c)).log_prob(x[:, None]), 1),
        "returns NumPy": lambda x, w, m, c: torch.softmax(torch.log(w) + _mvn(x, m, c), 1).numpy(),
    }),
    "2.2": (ex.check_m_step, "m_step", {
        "responsibilities normalised in place": _m_inplace_normalise,
        "covariances divided by N_k - 1": lambda x, r: _m_step(x, r, cov_div=1),
        "covariances around the overall mean": lambda x, r: _m_step(x, r, global_mean=True),
        "weights divided by K": lambda x, r: _m_step(x, r, weights_over_k=True),
        "variances [K, D] instead of covariances": _m_diag,
    }),
    "2.3": (ex.check_em_loop, "em_loop", {
        "relative change as the rule": lambda *a, **k: _em(*a, **k, rule="relative"),
        "its own M-step, not the one given (reg_covar lost)": lambda *a, **k: _em(*a, **k, own_m=True),
        "parameters updated in place": lambda *a, **k: _em(*a, **k, inplace=True),
        "sum, not mean, log-likelihood recorded": lambda *a, **k: _em(*a, **k, total=True),
        "range(max_iter - 1): one iteration short": lambda *a, **k: _em(*a, **k, iters=lambda m: max(m - 1, 0)),
        "rise measured from the start": lambda *a, **k: _em(*a, **k, vs_start=True),
        "returns only the final parameters": lambda *a, **k: _em(*a, **k, final_only=True),
    }),
    "3.1": (ex.check_mixture_log_px, "mixture_log_px", {
        "mean over k instead of logsumexp": lambda x, w, m, s: _mix_terms(x, w, m, s).mean(1),
        "stds read as variances": lambda x, w, m, s: torch.logsumexp(torch.log(w) + Normal(m, s.sqrt()).log_prob(x[:, None]), 1),
        "keepdim=True: shape [N, 1]": lambda x, w, m, s: torch.logsumexp(_mix_terms(x, w, m, s), 1, keepdim=True),
        "x.unsqueeze_ in place": _mix_unsqueeze_inplace,
        "Gaussian by hand without log 2 pi": lambda x, w, m, s: torch.logsumexp(
            torch.log(w) - 0.5 * ((x[:, None] - m) / s) ** 2 - torch.log(s), 1),
        # fixing the draft's underflow "for stability" instead of with logsumexp
        "the draft's sum given + 1e-300 for stability": lambda x, w, m, s: torch.log(_mix_terms(x, w, m, s).exp().sum(1) + 1e-300),
        "the draft's terms clamped at -700 before exp": lambda x, w, m, s: torch.log(
            _mix_terms(x, w, m, s).clamp_min(-700).exp().sum(1)),
    }),
    "4.1": (ex.check_naive_mc, "naive_mc", {
        "absolute, not relative, standard error": lambda lw: _naive(lw, se="abs"),
        "off by one: - log(N - 1)": lambda lw: _naive(lw, log_n=max(lw.shape[0] - 1, 1)),
        "exp_ in place": _naive_exp_inplace,
        "reduced over dim 1": lambda lw: (torch.logsumexp(lw, 1) - math.log(lw.shape[1]), torch.exp(lw - _lse(lw)).std(1)),
        "returns floats for B = 1": lambda lw: tuple(float(v[0]) if v.numel() == 1 else v for v in _naive(lw)),
    }),
    "5.1": (ex.check_log_p_hat, "log_p_hat", {
        "NumPy via scipy-style logsumexp": lambda lw: np.logaddexp.reduce(lw.numpy(), axis=0) - np.log(lw.shape[0]),
        "divides by K instead of subtracting log K": lambda lw: torch.logsumexp(lw, 0) / lw.shape[0],
        "off by one: - log(K - 1)": lambda lw: torch.logsumexp(lw, 0) - math.log(max(lw.shape[0] - 1, 1)),
        "max trick in place": _max_trick_inplace,
        "max instead of logsumexp": lambda lw: lw.max(0).values,
        "keepdim=True: shape [1, B]": lambda lw: torch.logsumexp(lw, 0, keepdim=True) - math.log(lw.shape[0]),
        "max over every entry, not per point": _global_max,
    }),
    "5.1 log-weights": (ex.check_log_weights, "log_weights", {
        "NumPy": lambda x, m, q, K, generator=None: _lw(x, m, q, K, generator).detach().numpy(),
        "samples from the prior, log q of q": lambda x, m, q, K, generator=None: _lw(x, m, q, K, generator, z_from=m.prior()),
        "detached samples (z.detach())": lambda x, m, q, K, generator=None: _lw(x, m, q, K, generator, detach=True),
        "shape [B, K]": lambda x, m, q, K, generator=None: _lw(x, m, q, K, generator).T,
        "K + 1 samples": lambda x, m, q, K, generator=None: _lw(x, m, q, K + 1, generator),
        "float64 for a float32 model": lambda x, m, q, K, generator=None: _lw(x, m, q, K, generator).double(),
        "log p(x | z) at the mean of the samples": lambda x, m, q, K, generator=None: _lw(x, m, q, K, generator, mean_z=True),
    }),
    "5.2": (ex.check_ess, "effective_sample_size", {
        "normalised in place": _ess_inplace,
        "mean instead of sum of the squares": lambda lw: 1 / (torch.softmax(lw, 0) ** 2).mean(0),
        "over every entry (a scalar)": lambda lw: 1 / (torch.softmax(lw.flatten(), 0) ** 2).sum(),
        "normalised by the max weight, not the sum": _ess_max_normalised,
        "returns log ESS": lambda lw: -torch.logsumexp(2 * (lw - torch.logsumexp(lw, 0, keepdim=True)), 0),
        "returns NumPy": lambda lw: (1 / (torch.softmax(lw, 0) ** 2).sum(0)).numpy(),
        # fixing the draft's underflow by a shift that is not per data point, or by a clamp
        "the draft shifted by the global max before exp": lambda lw: (lambda w: 1 / ((w / w.sum(0)) ** 2).sum(0))(
            torch.exp(lw - lw.max())),
        "the draft's log_w clamped at -700 before exp": lambda lw: (lambda w: 1 / ((w / w.sum(0)) ** 2).sum(0))(
            torch.exp(lw.clamp_min(-700))),
    }),
    "6.1": (ex.check_objective, "objective", {
        "detached (no gradient for training)": lambda *a, **k: _objective(*a, **k).detach(),
        "log q at a detached z (score-function gradient only)": lambda *a, **k: _objective(*a, **k, detach_q=True),
        "the loss: minus the objective": lambda *a, **k: -_objective(*a, **k),
        "averaged over the batch (a scalar)": lambda *a, **k: _objective(*a, **k).mean(),
        ".item() per point": lambda *a, **k: [v.item() for v in _objective(*a, **k)],
        "IWAE minus log B instead of log K": lambda *a, **k: _objective(*a, **k, log_b=True),
        "NumPy": lambda *a, **k: _objective(*a, **k).detach().numpy(),
    }),
    "7.1": (ex.check_reparameterized_sample, "reparameterized_sample", {
        "fresh noise instead of eps": lambda mu, ls, eps: mu + ls.exp() * torch.randn_like(eps),
        "sign error": lambda mu, ls, eps: mu - ls.exp() * eps,
        "softplus for sigma": lambda mu, ls, eps: mu + F.softplus(ls) * eps,
        "factor 0.5": lambda mu, ls, eps: mu + 0.5 * ls.exp() * eps,
        "eps scaled in place": _reparam_inplace,
        ".data (no gradient)": lambda mu, ls, eps: mu.data + ls.data.exp() * eps,
        "mu and sigma roles swapped": lambda mu, ls, eps: mu * eps + ls.exp(),
        "NumPy": lambda mu, ls, eps: (mu + ls.exp() * eps).detach().numpy(),
        # fixing the draft's .detach() without giving z its graph back
        "the draft's detach 'fixed' by .requires_grad_() (detached)": lambda mu, ls, eps: (
            mu + ls.exp() * eps).detach().requires_grad_(),
        "the draft's detach moved onto sigma (detached)": lambda mu, ls, eps: mu + ls.exp().detach() * eps,
    }),
    "7.3": (ex.check_negative_elbo, "negative_elbo", {
        "returns .item()": lambda x, l, mu, ls: (_bce(x, l) + _kl(mu, ls)).mean().item(),
        "detached": lambda x, l, mu, ls: (_bce(x, l) + _kl(mu, ls)).mean().detach(),
        "NumPy": lambda x, l, mu, ls: (_bce(x, l) + _kl(mu, ls)).mean().detach().numpy(),
        "KL without the -1": lambda x, l, mu, ls: (_bce(x, l) + 0.5 * (mu ** 2 + (2 * ls).exp() - 2 * ls).sum(-1)).mean(),
        "BCE on sigmoid (clamped at -100)": lambda x, l, mu, ls: (F.binary_cross_entropy(torch.sigmoid(l), x, reduction="none").sum(-1)
                                                                   + _kl(mu, ls)).mean(),
        "per-digit loss, not averaged": lambda x, l, mu, ls: _bce(x, l) + _kl(mu, ls),
        "KL averaged over latent dimensions": lambda x, l, mu, ls: _bce(x, l).mean()
        + (0.5 * (mu ** 2 + (2 * ls).exp() - 1 - 2 * ls)).mean(),
        "KL with mu detached": lambda x, l, mu, ls: (_bce(x, l) + _kl(mu.detach(), ls)).mean(),
    }),
    "8.1": (ex.check_slerp, "slerp", {
        "no clamp of the cosine (float32 parallel pairs)": _slerp_no_clamp,
        "normalises the endpoints in place": _slerp_normalise_inplace,
        "slerp of the directions times lerp of the norms": _slerp_norm_lerp,
        "NumPy": _slerp_numpy,
        "sign error in the weights": lambda z0, z1, t: (lambda om: (torch.sin((t - 1) * om) * z0 + torch.sin(t * om) * z1)
                                                         / torch.sin(om))(torch.arccos(
            (torch.dot(z0, z1) / (z0.norm() * z1.norm())).clamp(-1, 1))),
    }),
    "9.1": (ex.check_score_function_terms, "score_function_terms", {
        "sign error in the mu part": lambda f, z, m, s: _score(f, z, m, s, sign=-1.0),
        "gradient with respect to the variance": lambda f, z, m, s: _score(f, z, m, s, var_grad=True),
        "f not broadcast (f * u)": lambda f, z, m, s: (f * (z - m) / s ** 2, f * ((z - m) ** 2 / s ** 3 - 1 / s)),
        "z -= loc in place": _score_inplace,
        "a baseline subtracted": lambda f, z, m, s: _score(f, z, m, s, baseline=True),
        "stacked into one tensor": lambda f, z, m, s: torch.stack(_score(f, z, m, s)),
    }),
    "10.1": (ex.check_mixture_log_prob, "mixture_log_prob", {
        "detached": lambda z, lg, loc, sc: _mix(z, lg, loc, sc).detach(),
        "under torch.no_grad()": _mix_no_grad,
        ".item() per point": lambda z, lg, loc, sc: [v.item() for v in _mix(z, lg, loc, sc)],
        "not summed over dimensions": lambda z, lg, loc, sc: _mix(z, lg, loc, sc, sum_dims=False),
        "logsumexp over the points": lambda z, lg, loc, sc: _mix(z, lg, loc, sc, dim=0),
        "scale read as variance": lambda z, lg, loc, sc: _mix(z, lg, loc, sc, var=True),
        "mean over components": lambda z, lg, loc, sc: _mix(z, lg, loc, sc, reduce="mean"),
        "z.unsqueeze_ in place": _mix_unsqueeze_inplace2,
    }),
    "10.4": (ex.check_m2_unlabelled, "unlabelled_bound", {
        "entropy as -(q log q) (NaN where q underflows)": _m2_q_log_q,
        "summed over the batch": lambda lq, lab: (lq.exp() * (lab - lq)).sum(0),
        "mean over classes": lambda lq, lab: (lq.exp() * (lab - lq)).mean(-1),
        "labelled -= log_q_y in place": _m2_inplace,
        "the most likely class only": _m2_hard,
        "forgot the exp": lambda lq, lab: (lq * (lab - lq)).sum(-1),
        "detached": lambda lq, lab: (lq.exp() * (lab - lq)).sum(-1).detach(),
    }),
    "7.4": (ex.check_training_loop, "fit", {
        "loss_fn called twice (once to step, once to record)": lambda *a, **k: _loop(*a, **k, twice=True),
        "returns the last batch's loss only": lambda *a, **k: _loop(*a, **k, record="last"),
        "zero_grad once before the epochs": lambda *a, **k: _loop(*a, **k, zero_once=True),
        "sums the batch losses without weighting (a mean of means)": lambda *a, **k: _loop(*a, **k, record="unweighted"),
        "the whole data set as one batch": lambda *a, **k: _loop(*a, **k, full_batch=True),
        "x shuffled in place": lambda *a, **k: _loop(*a, **k, shuffle_inplace=True),
        "SGD instead of Adam (the skeleton's optimizer replaced)": lambda *a, **k: _loop(*a, **k, sgd=True),
    }),
    "10.2": (ex.check_prior_term, "prior_term", {
        "z detached (no gradient to the encoder)": lambda mu, ls, eps, lp: _prior(mu, ls, eps, lp, detach=True),
        "fresh noise instead of eps": lambda mu, ls, eps, lp: _prior(mu, ls, torch.randn_like(eps), lp),
        "log q not summed over dimensions (Normal, not Independent)": lambda mu, ls, eps, lp: _prior(mu, ls, eps, lp,
                                                                                                    per_dim=True),
        "the prior at the mean only": lambda mu, ls, eps, lp: _prior(mu, ls, eps, lp, prior_at_mean=True),
        "sigma read as log_sigma": lambda mu, ls, eps, lp: _prior(mu, ls, eps, lp, sigma_is_log=True),
        ".item() per point": lambda mu, ls, eps, lp: [v.item() for v in _prior(mu, ls, eps, lp)],
    }),
}

WRONG_CASES = [pytest.param(key, name, id=f"{key}-{name}") for key, (_, _, answers) in WRONG.items() for name in answers]


@pytest.mark.parametrize("key", WRONG)
def test_at_least_four_wrong_answers_per_exercise(key):
    assert len(WRONG[key][2]) >= 4


@pytest.mark.parametrize("key", WRONG)
def test_the_notebook_solution_passes(key):
    check, name, _ = WRONG[key]
    report = check(SOLUTIONS[name])
    assert report.passed, report.message


def test_all_code_exercises_are_covered():
    assert len(WRONG) >= 15 and {name for _, name, _ in WRONG.values()} == set(SOLUTIONS)


@pytest.mark.parametrize("key,name", WRONG_CASES)
def test_wrong_answer_fails_with_a_helpful_message(key, name):
    check, _, answers = WRONG[key]
    report = check(answers[name])
    assert report.status in ("wrong", "error"), report.message
    text = report.message
    assert text.startswith("Exercise ") and len(text) > 60, text
    assert "not yet" in text or "raised" in text or "stopped" in text, text
    assert "expected a tensor of shape" not in text  # the old, empty description of a wrong tensor
    if "in place" in name:
        assert "changed its input" in text, text
    if "NumPy" in name:
        assert "NumPy" in text, text
    if "detached" in name or ".item()" in name or "no_grad" in name or ".data" in name:
        assert "gradient" in text.lower(), text


@pytest.mark.parametrize("key,snippet", [
    ("7.3", "no gradient: training would be impossible"), ("10.1", "no gradient: training would be impossible"),
    ("10.4", "NaN"), ("8.1", "NaN"), ("5.1", "NumPy"), ("1.1", "NumPy")])
def test_the_issues_holes_are_closed(key, snippet):
    check, _, answers = WRONG[key]
    name = {"7.3": "detached", "10.1": "detached", "10.4": "entropy as -(q log q) (NaN where q underflows)",
            "8.1": "no clamp of the cosine (float32 parallel pairs)", "5.1": "NumPy via scipy-style logsumexp",
            "1.1": "returns NumPy arrays"}[key]
    report = check(answers[name])
    assert report.status == "wrong" and snippet.lower() in report.message.lower(), report.message


def test_float_loss_says_training_is_impossible():
    report = ex.check_negative_elbo(WRONG["7.3"][2]["returns .item()"])
    assert "no gradient: training would be impossible" in report.message.lower()


# ---------------------------------------------------------------- 1.1: the statistical check

def test_story_joint_structure_is_tested():
    """Noise shared across data dimensions, and all latent coordinates equal, are named."""
    mistakes = {m.name: m for m in ex.nb01._STORY_MISTAKES}
    for name, words in (("shared-noise", "shared by all of x's coordinates"), ("equal-coordinates", "All coordinates of z")):
        report = ex.check_sample_story(mistakes[name].fn)
        assert report.status == "wrong" and report.mistake == name and words in report.message, report.message


def test_story_unlisted_correlation_is_described():
    def shared(dec, n, g):
        z = torch.randn(n, dec.latent_dim, generator=g)
        px = dec(z)
        eps = torch.randn(n, 1, generator=g)
        return z, px.mean + px.stddev * (0.9 * eps + 0.44 * torch.randn(px.mean.shape, generator=g))
    report = ex.check_sample_story(shared)
    # the bug hunt's message for noise shared across x's coordinates names where it shows: the noise of x
    assert report.status == "wrong" and ("correlated" in report.message
                                         or "shared by all of x's coordinates" in report.message), report.message


def test_story_device_aware_answer_passes():
    """Drawn on the generator's device (the CPU), then moved to the decoder's: right on every machine."""
    def device_aware(decoder, num_samples, generator):
        z = torch.randn(num_samples, decoder.latent_dim, generator=generator).to(decoder.device)
        return z, decoder(z).sample()
    assert isinstance(ex.nb01._LinearTanhDecoder(2, 3, 0.5), torch.nn.Module)
    assert ex.check_sample_story(device_aware).passed


@pytest.mark.parametrize("answer,mistake", [
    # the notebook's old solution: z on the CPU, the decoder on a GPU -> decoder(z) mixes devices
    (lambda dec, n, g: (lambda z: (z, dec(z).sample()))(torch.randn(n, dec.latent_dim, generator=g)), "device-mix"),
    # asks for the draw on the decoder's device with the CPU generator: CUDA refuses that generator
    (lambda dec, n, g: (lambda z: (z, dec(z).sample()))(
        torch.randn(n, dec.latent_dim, generator=g, device=dec.device)), "device-mix"),
    # a device hard-coded to the CPU
    (lambda dec, n, g: (lambda z: (z, dec(z).sample()))(torch.randn(n, dec.latent_dim, generator=g, device="cpu")),
     "device-mix"),
    # z moved, but x's noise left on the CPU
    (lambda dec, n, g: (lambda z: (z, dec(z).mean + dec(z).stddev * torch.randn(n, dec.data_dim, generator=g)))(
        torch.randn(n, dec.latent_dim, generator=g).to(dec.device)), "device-mix"),
    # everything computed, then handed back on the CPU
    (lambda dec, n, g: (lambda z: (z.cpu(), dec(z).sample().cpu()))(
        torch.randn(n, dec.latent_dim, generator=g).to(dec.device)), "wrong-device"),
])
def test_story_answers_that_break_off_the_cpu_are_wrong(answer, mistake):
    report = ex.check_sample_story(answer)
    assert report.status == "wrong" and report.mistake == mistake, report.message
    assert "GPU" in report.message and "meta" in report.message and ".to(" in report.message, report.message


def test_story_false_alarm_rate():
    """The right answer over 200 seeds: no failure.  By design (62 statistics, each at 5 standard
    errors, two-sided), a false alarm has probability below 1e-4 per check; 0 of 200 is what
    that predicts (a rate of 1 in 100 would show about 2 failures here)."""
    fails = [s for s in range(200) if not ex.check_sample_story(SOLUTIONS["sample_story"], seed=s).passed]
    assert fails == []


# ---------------------------------------------------------------- the machinery (_core)

def _lse_check(fn):
    return ex.check_log_p_hat(fn)


def test_stub_message_is_not_done_yet_and_torch_not_implemented_is_an_error():
    assert STUB == f'raise NotImplementedError("{_core.STUB_MESSAGE}")'

    def stub(log_w):
        raise NotImplementedError("Exercise: replace this line with your code, then run the check below")
    assert _lse_check(stub).status == "todo"

    def torch_error(log_w):
        return torch.logsumexp(log_w.to_sparse(), 0) - math.log(log_w.shape[0])
    report = _lse_check(torch_error)
    assert report.status == "error" and "NotImplementedError" in report.message and "not done yet" not in report.message
    assert "SparseCPU" in report.message and len(report.message) < 800  # torch's message, cut to its first line

    def helper_raises():
        raise NotImplementedError("not for this input")

    def via_helper(log_w):
        helper_raises()
    assert _lse_check(via_helper).status == "todo"  # a raise line of the student's own code


def test_autograd_switched_off_earlier_does_not_fail_a_right_answer():
    with torch.no_grad():
        assert ex.check_reparameterized_sample(SOLUTIONS["reparameterized_sample"]).passed
        assert ex.check_negative_elbo(SOLUTIONS["negative_elbo"]).passed
        assert ex.check_mixture_log_prob(SOLUTIONS["mixture_log_prob"]).passed


def test_a_differentiable_wrong_formula_is_not_told_no_gradient():
    for wrong in (lambda mu, ls, eps: mu - ls.exp() * eps, lambda mu, ls, eps: mu + F.softplus(ls) * eps,
                  lambda mu, ls, eps: mu + 0.5 * ls.exp() * eps):
        report = ex.check_reparameterized_sample(wrong)
        assert report.status == "wrong" and "No gradient" not in report.message and "largest difference" in report.message


def test_complex_answer_is_refused():
    report = _lse_check(lambda lw: (torch.logsumexp(lw, 0) - math.log(lw.shape[0])).to(torch.complex128))
    assert report.status == "wrong" and "complex" in report.message


def test_time_limit_stops_an_endless_function():
    import time

    def endless(log_w):
        while True:
            pass
    start = time.perf_counter()
    report = ex.check_function("Exercise T", endless, _lse, ex.nb05.log_weight_cases(), time_limit=0.5)
    assert time.perf_counter() - start < 5
    assert report.status == "error" and "stopped after 0.5 s" in report.message


def test_time_limit_in_a_worker_thread():
    import threading

    out = {}

    def endless(log_w):
        import time
        time.sleep(3)
        return _lse(log_w)
    thread = threading.Thread(target=lambda: out.setdefault(
        "r", ex.check_function("Exercise T", endless, _lse, ex.nb05.log_weight_cases()[:1], time_limit=0.3)))
    thread.start()
    thread.join(10)
    assert out["r"].status == "error" and "stopped after 0.3 s" in out["r"].message


def test_a_wrong_tensor_shows_its_largest_difference_where_and_values():
    report = ex.check_e_step(lambda x, w, m, c: (lambda r: r + 0.01 * (torch.arange(r.numel(), dtype=r.dtype).reshape(r.shape) == 7))(
        torch.softmax(torch.log(w) + _mvn(x, m, c), 1)))
    assert report.status == "wrong"
    assert "largest difference 0.01 at index [2, 1]" in report.message and "got vs expected" in report.message


def test_report_html_is_one_coloured_line_and_text_is_the_same_words():
    right = _lse_check(_lse)
    wrong = _lse_check(lambda lw: lw.mean(0))
    todo = _lse_check(lambda lw: exec('raise NotImplementedError("' + _core.STUB_MESSAGE + '")'))
    for report, colour in ((right, "#116329"), (wrong, "#a40e26"), (todo, "#57606a")):
        page = report._repr_html_()
        assert page.count("<div") == 1 and "\n" not in page and colour in page
        words = re.sub(r"<[^>]+>", "", page).replace("&#x27;", "'").replace("&quot;", '"').replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
        assert words.split() == repr(report).split()


def test_require_raises_unless_passed():
    assert _lse_check(_lse).require().passed
    with pytest.raises(AssertionError, match="not yet"):
        _lse_check(lambda lw: lw.mean(0)).require()


def test_inputs_are_compared_after_the_call_kwargs_too():
    def inplace(log_w, *, scale):
        scale.mul_(2)
        return log_w.sum(0)
    report = ex.check_function("Exercise T", inplace, lambda lw, *, scale: lw.sum(0),
                               [ex.Case("c", (torch.zeros(2, 2),), {"scale": torch.ones(1)})])
    assert report.status == "wrong" and "changed its input `scale`" in report.message


# ---------------------------------------------------------------- issue 31: wrong answers that used to pass

def _clamped_story(dec, n, g, *, z_clip=None, eps_clip=None):
    z = torch.randn(n, dec.latent_dim, generator=g)
    z = (z.clamp(-z_clip, z_clip) if z_clip else z).to(dec.device)
    px = dec(z)
    eps = torch.randn(px.mean.shape, generator=g)
    eps = (eps.clamp(-eps_clip, eps_clip) if eps_clip else eps).to(dec.device)
    return z, px.mean + px.stddev * eps


def _slerp_sign_guard(z0, z1, t):  # guards only parallel endpoints (cos near +1)
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    if cos > 1 - 1e-6:
        return (1 - t) * z0 + t * z1
    om = torch.arccos(cos.clamp(-1, 1))
    return (torch.sin((1 - t) * om) * z0 + torch.sin(t * om) * z1) / torch.sin(om)


def _mixture_exp_weights(z, logits, loc, scale):
    w = logits.exp() / logits.exp().sum()
    return torch.logsumexp(torch.log(w) + Normal(loc, scale).log_prob(z[:, None, :]).sum(-1), -1)


def _log_weights_blocked_q(x, model, q, K, generator=None):
    q = q.expand(torch.Size([x.shape[0]]))
    z = sample(q, (K,), generator)
    return model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z.detach())


def _em_max_iter_first(x, w, mu, cov, e_step, m_step, *, tol=1e-3, max_iter=100):
    """Tests for max_iter before the stop rule: a rule that fires on the last allowed iteration is missed."""
    from lvmlib.mixtures.reference import log_likelihood

    params, lls = [(w, mu, cov)], [log_likelihood(x, w, mu, cov)]
    for t in range(1, max_iter + 1):
        params.append(tuple(m_step(x, e_step(x, *params[-1]))))
        lls.append(log_likelihood(x, *params[-1]))
        if t == max_iter:
            break
        if abs(lls[-1] - lls[-2]) < tol:
            return params, lls, True
    return params, lls, False


ISSUE_31 = {
    "2.3 max_iter tested before the stop rule": (ex.check_em_loop, _em_max_iter_first, "converged is False"),
    "1.1 latents clamped to +-3 'for stability'": (ex.check_sample_story, lambda d, n, g: _clamped_story(d, n, g, z_clip=3.0),
                                                    "clamped"),
    "1.1 noise clamped to +-3": (ex.check_sample_story, lambda d, n, g: _clamped_story(d, n, g, eps_clip=3.0), "clamped"),
    "1.1 noise truncated at +-2.5": (ex.check_sample_story, lambda d, n, g: _clamped_story(d, n, g, eps_clip=2.5),
                                     "clamped"),
    "8.1 no fallback at opposite endpoints": (ex.check_slerp, _slerp_sign_guard, "opposite endpoints"),
    "10.1 exp of logits overflows in float32": (ex.check_mixture_log_prob, _mixture_exp_weights, "overflow"),
    "5.1 log q at a detached z": (ex.check_log_weights, _log_weights_blocked_q, "detached"),
}


@pytest.mark.parametrize("name", ISSUE_31)
def test_issue_31_wrong_answers_fail_with_a_named_reason(name):
    check, answer, words = ISSUE_31[name]
    report = check(answer)
    assert report.status == "wrong", report.message
    assert words in report.message, report.message


def test_a_nan_gradient_is_named_as_nan_not_as_no_gradient():
    def where_around_log0(log_q_y, labelled):  # finite values, NaN gradient (the where's other branch)
        p = log_q_y.exp()
        return torch.where(p > 0, p * (labelled - torch.log(p)), torch.zeros_like(p)).sum(-1)
    report = ex.check_m2_unlabelled(where_around_log0)
    assert report.status == "wrong" and "gradient with respect to `log_q_y` is NaN" in report.message, report.message
    assert "no gradient reaches" not in report.message


def test_values_that_print_alike_are_shown_with_more_digits_and_their_dtype():
    from lvmlib.exercises._compare import _tensor_difference

    got, want = torch.tensor([-2000.12346], dtype=torch.float64), torch.tensor([-2000.12341], dtype=torch.float64)
    why = _tensor_difference(got, want, "", torch.float32)
    assert "float32" in why and "alike to 6 digits" in why and "-2000.12346" in why, why
    assert "float32" not in _tensor_difference(got, want + 1, "", torch.float32)  # 6 digits tell them apart
