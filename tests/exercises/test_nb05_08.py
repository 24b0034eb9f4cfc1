"""The checks of notebooks 05-08's code exercises (lvmlib.exercises): each listed wrong answer is named.

The wrong answers below are written the way a student would write them (not taken from the
checks' own Mistake list), so a test fails if a check stops recognising the mistake it promises to name.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal

from lvmlib import exercises as ex


def _stub(*args):
    raise NotImplementedError("Exercise: replace this line with your code, then run the check below")


def _assert_named(report, name):
    assert report.status == "wrong", report.message
    assert report.mistake == name, report.message
    assert "not yet" in report.message


# ---------------------------------------------------------------- 05: log p-hat and the ESS

def log_p_hat_right(log_w):
    k = log_w.shape[0]
    m = log_w.max(0).values
    return m + torch.log(torch.exp(log_w - m).sum(0)) - math.log(k)  # the max trick, by hand


LOG_P_HAT_WRONG = {
    "mean": lambda lw: torch.mean(lw, dim=0),
    "no-logK": lambda lw: torch.logsumexp(lw, dim=0),
    "exp-first": lambda lw: torch.log(torch.mean(torch.exp(lw), dim=0)),
    "log-B": lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[-1]),
    "dim": lambda lw: torch.logsumexp(lw, -1) - math.log(lw.shape[-1]),
}


@pytest.mark.parametrize("name", LOG_P_HAT_WRONG)
def test_log_p_hat_mistakes_are_named(name):
    _assert_named(ex.check_log_p_hat(LOG_P_HAT_WRONG[name]), name)


def ess_right(log_w):
    w_bar = torch.softmax(log_w, dim=0)
    return 1.0 / (w_bar ** 2).sum(0)


ESS_WRONG = {
    "not-normalised": lambda lw: 1.0 / torch.exp(torch.logsumexp(2 * lw, 0)),
    "exp-first": lambda lw: torch.exp(lw).sum(0) ** 2 / (torch.exp(lw) ** 2).sum(0),
    "fraction": lambda lw: ess_right(lw) / lw.shape[0],
    "no-square": lambda lw: 1.0 / torch.softmax(lw, 0).sum(0),
    "dim": lambda lw: 1.0 / (torch.softmax(lw, 1) ** 2).sum(1),
    "planted-bugs": ex.nb05.ess_draft,  # exercise 5.2's draft, unchanged
    "normalised-over-points": lambda lw: 1.0 / (torch.softmax(lw, 1) ** 2).sum(0),  # its underflow fixed only
}


@pytest.mark.parametrize("name", ESS_WRONG)
def test_ess_mistakes_are_named(name):
    _assert_named(ex.check_ess(ESS_WRONG[name]), name)


# ---------------------------------------------------------------- 06: the ELBO and the IWAE bound

ELBO_WRONG = {
    "logsumexp": lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[0]),
    "sum": lambda lw: lw.sum(dim=0),
    "dim": lambda lw: lw.mean(dim=1),
}


@pytest.mark.parametrize("name", ELBO_WRONG)
def test_elbo_mistakes_are_named(name):
    _assert_named(ex.check_elbo(ELBO_WRONG[name]), name)


IWAE_WRONG = dict(LOG_P_HAT_WRONG)


@pytest.mark.parametrize("name", IWAE_WRONG)
def test_iwae_mistakes_are_named(name):
    report = ex.check_iwae_bound(IWAE_WRONG[name])
    _assert_named(report, name)
    if name == "mean":
        assert "ELBO" in report.message


# ---------------------------------------------------------------- 07: reparameterization, negative ELBO

def reparam_right(mu, log_sigma, eps):
    return torch.addcmul(mu, torch.exp(log_sigma), eps)


REPARAM_WRONG = {
    "log-sigma-as-sigma": lambda mu, ls, eps: mu + ls * eps,
    "variance": lambda mu, ls, eps: mu + torch.exp(ls) ** 2 * eps,
    "log-variance": lambda mu, ls, eps: mu + torch.exp(ls / 2) * eps,
    "no-reparam": lambda mu, ls, eps: (mu + torch.exp(ls) * eps).detach(),
    "planted-bugs": ex.nb07.reparameterized_sample_draft,  # exercise 7.1's draft, unchanged
}


@pytest.mark.parametrize("name", REPARAM_WRONG)
def test_reparam_mistakes_are_named(name):
    _assert_named(ex.check_reparameterized_sample(REPARAM_WRONG[name]), name)


@pytest.mark.parametrize("sampler", [
    lambda mu, ls, eps: Normal(mu, ls.exp()).sample(eps.shape[:-mu.dim()]),  # .sample(): no gradient
    lambda mu, ls, eps: torch.normal(mu.expand(eps.shape), ls.exp().expand(eps.shape)),  # zero gradient
], ids=["sample", "torch.normal"])
def test_sampling_without_the_trick_is_named(sampler):
    report = ex.check_reparameterized_sample(sampler)
    _assert_named(report, "no-reparam")
    assert "No gradient reaches mu and log_sigma" in report.message


def test_rsample_that_ignores_eps_is_named():
    report = ex.check_reparameterized_sample(lambda mu, ls, eps: Normal(mu, ls.exp()).rsample(eps.shape[:-mu.dim()]))
    _assert_named(report, "ignores-eps")


def neg_elbo_right(x, logits, mu, log_sigma):
    rec = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)       # [B]
    kl = 0.5 * (mu.pow(2) + torch.exp(2 * log_sigma) - 1 - 2 * log_sigma).sum(-1)         # [B]
    return (kl - rec).mean()


def _bce(x, logits):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def _kl(mu, ls):
    return 0.5 * (mu.pow(2) + torch.exp(2 * ls) - 1 - 2 * ls).sum(-1)


NEG_ELBO_WRONG = {
    "kl-sign": lambda x, l, mu, ls: (_bce(x, l) - _kl(mu, ls)).mean(),
    "sum-batch": lambda x, l, mu, ls: (_bce(x, l) + _kl(mu, ls)).sum(),
    "not-negated": lambda x, l, mu, ls: -(_bce(x, l) + _kl(mu, ls)).mean(),
    "pixel-mean": lambda x, l, mu, ls: F.binary_cross_entropy_with_logits(l, x) + _kl(mu, ls).mean(),
    "no-kl": lambda x, l, mu, ls: _bce(x, l).mean(),
    "log-variance": lambda x, l, mu, ls: (_bce(x, l) - 0.5 * (1 + ls - mu ** 2 - ls.exp()).sum(-1)).mean(),
    "sigmoid-log": lambda x, l, mu, ls: (-(x * torch.log(torch.sigmoid(l))
                                           + (1 - x) * torch.log(1 - torch.sigmoid(l))).sum(1) + _kl(mu, ls)).mean(),
}


@pytest.mark.parametrize("name", NEG_ELBO_WRONG)
def test_negative_elbo_mistakes_are_named(name):
    _assert_named(ex.check_negative_elbo(NEG_ELBO_WRONG[name]), name)


# ---------------------------------------------------------------- 08: slerp

def slerp_right(z0, z1, t):
    cos = torch.clamp(z0 @ z1 / (z0.norm() * z1.norm()), -1, 1)
    omega = torch.acos(cos)
    if torch.sin(omega) < 1e-6:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def _naive(z0, z1, t):
    omega = torch.acos(z0 @ z1 / (z0.norm() * z1.norm()))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


SLERP_WRONG = {
    "lerp": lambda z0, z1, t: z0 + t * (z1 - z0),
    "swapped": lambda z0, z1, t: slerp_right(z1, z0, t),
    "swapped-nan-parallel": lambda z0, z1, t: _naive(z1, z0, t),
    "unit-only": lambda z0, z1, t: slerp_right(z0 / z0.norm(), z1 / z1.norm(), t),
    "no-norms": lambda z0, z1, t: (lambda om: (torch.sin((1 - t) * om) * z0 + torch.sin(t * om) * z1)
                                   / torch.sin(om))(torch.acos(z0 @ z1)),
    "nan-parallel": _naive,
}


@pytest.mark.parametrize("name", SLERP_WRONG)
def test_slerp_mistakes_are_named(name):
    report = ex.check_slerp(SLERP_WRONG[name])
    _assert_named(report, name.split(",")[0])
    if name == "nan-parallel":
        assert "NaN" in report.message


# ---------------------------------------------------------------- every check: pass, todo, error

CHECKS = [
    (ex.check_log_p_hat, log_p_hat_right),
    (ex.check_ess, ess_right),
    (ex.check_elbo, lambda lw: lw.mean(0)),
    (ex.check_iwae_bound, log_p_hat_right),
    (ex.check_reparameterized_sample, reparam_right),
    (ex.check_negative_elbo, neg_elbo_right),
    (ex.check_slerp, slerp_right),
]


@pytest.mark.parametrize("check, right", CHECKS, ids=lambda v: getattr(v, "__name__", ""))
def test_right_answer_passes_and_stub_is_todo(check, right):
    report = check(right)
    assert report.status == "passed", report.message
    assert "passed" in repr(report)
    todo = check(_stub)
    assert todo.status == "todo" and "not done yet" in todo.message

    def broken(*args):
        return args[0].no_such_attribute
    assert check(broken).status == "error"


def test_right_answers_in_float64_and_lvmlib_functions_pass():
    from lvmlib import inference as est
    from lvmlib.vae import slerp
    assert ex.check_log_p_hat(lambda lw: est.log_mean_exp(lw, 0)).passed
    assert ex.check_ess(est.effective_sample_size).passed
    assert ex.check_iwae_bound(lambda lw: est.log_mean_exp(lw.double(), 0).to(lw.dtype)).passed
    assert ex.check_slerp(lambda z0, z1, t: slerp(z0, z1, torch.tensor([[t]], dtype=z0.dtype))[0]).passed


def test_unknown_wrong_answer_is_wrong_without_a_name():
    report = ex.check_slerp(lambda z0, z1, t: slerp_right(z0, z1, t) + 0.1)
    assert report.status == "wrong" and report.mistake is None
    report = ex.check_negative_elbo(lambda x, l, mu, ls: neg_elbo_right(x, l, mu, ls) * 1.5)
    assert report.status == "wrong" and report.mistake is None


def test_same_nan_matches_nan_only_in_the_same_places():
    nan = float("nan")
    assert ex.same_nan(torch.tensor([nan, 1.0]), torch.tensor([nan, 1.0]))[0]
    assert not ex.same_nan(torch.tensor([nan, 1.0]), torch.tensor([1.0, nan]))[0]
    assert not ex.same_nan(torch.tensor([nan]), torch.tensor([1.0]))[0]
    assert ex.same_nan(torch.tensor(nan), torch.tensor(nan))[0]


# ---------------------------------------------------------------- 05: log-weights; 06: the training objective

@pytest.mark.parametrize("mistake", ex.nb05.LOG_WEIGHTS_MISTAKES, ids=lambda m: m.name)
def test_log_weights_mistakes_are_named(mistake):
    report = ex.check_log_weights(mistake.fn)
    assert report.status == "wrong" and report.mistake == mistake.name, report.message


def test_log_weights_statistical_check_has_no_false_alarms():
    """A correct answer that ignores the generator (torch's global one, 20 seeds) passes every time: the
    check's statistics are at 6 standard errors (a false alarm below 1e-7 per check by design)."""
    def global_rng(x, model, q, K, generator=None):
        q = q.expand(torch.Size([x.shape[0]]))
        z = q.rsample((K,)) if q.has_rsample else q.sample((K,))
        return model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z)
    state = torch.get_rng_state()
    try:
        for seed in range(20):
            torch.manual_seed(seed)
            report = ex.check_log_weights(global_rng)
            assert report.passed and "not lvmlib's for the same generator" in report.message, (seed, report.message)
    finally:
        torch.set_rng_state(state)


def test_log_weights_with_its_reduction():
    from lvmlib import inference as est
    right = lambda x, m, q, K, generator=None: est.log_weights(x, m, q, K, generator=generator)  # noqa: E731
    assert ex.check_log_weights(right, lambda lw: est.log_mean_exp(lw, 0)).passed
    report = ex.check_log_weights(right, lambda lw: lw.mean(0))
    assert report.status == "wrong" and report.mistake == "mean", report.message


@pytest.mark.parametrize("mistake", ex.nb06.OBJECTIVE_MISTAKES, ids=lambda m: m.name)
def test_objective_mistakes_are_named(mistake):
    report = ex.check_objective(mistake.fn)
    assert report.status == "wrong" and report.mistake == mistake.name, report.message


def test_objective_reference_passes():
    assert ex.check_objective(ex.nb06.objective).passed
