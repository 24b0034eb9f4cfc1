"""Notebook 10's exercise checks: the right answer passes, each known mistake is named, a stub is 'not done'."""

import math

import pytest
import torch
from torch.distributions import Normal

from lvmlib import exercises as ex


def _mix_right(z, logits, loc, scale):
    comp = Normal(loc, scale).log_prob(z[:, None, :]).sum(-1)
    return torch.logsumexp(torch.log_softmax(logits, 0) + comp, -1)


def _comp(z, loc, scale):
    return Normal(loc, scale).log_prob(z[:, None, :]).sum(-1)


MIX_WRONG = {
    "unnormalised-weights": lambda z, lg, loc, s: torch.logsumexp(lg + _comp(z, loc, s), -1),
    "exp-then-log": lambda z, lg, loc, s: (torch.softmax(lg, 0) * _comp(z, loc, s).exp()).sum(-1).log(),
    "average-of-logs": lambda z, lg, loc, s: (torch.softmax(lg, 0) * _comp(z, loc, s)).sum(-1),
}


def test_mixture_check_passes_the_right_answer():
    assert ex.check_mixture_log_prob(_mix_right).status == "passed"


@pytest.mark.parametrize("name", sorted(MIX_WRONG))
def test_mixture_check_names_each_mistake(name):
    report = ex.check_mixture_log_prob(MIX_WRONG[name])
    assert report.status == "wrong" and report.mistake == name, report.message


def test_mixture_check_other_errors():
    def stub(*a):
        raise NotImplementedError

    assert ex.check_mixture_log_prob(stub).status == "todo"
    assert "not done yet" in ex.check_mixture_log_prob(stub).message
    report = ex.check_mixture_log_prob(lambda z, lg, loc, s: _comp(z, loc, s))  # forgot to combine: [B, K]
    assert report.status == "wrong" and report.mistake is None and "shape" in report.message
    report = ex.check_mixture_log_prob(lambda z, lg, loc, s: 1 / 0)
    assert report.status == "error" and "ZeroDivisionError" in report.message


def _m2_right(lq, lab):
    return (lq.exp() * (lab - lq)).sum(-1)


M2_WRONG = {
    "no-entropy": lambda lq, lab: (lq.exp() * lab).sum(-1),
    "entropy-sign": lambda lq, lab: (lq.exp() * (lab + lq)).sum(-1),
    "logsumexp": lambda lq, lab: torch.logsumexp(lq + lab, -1),
    "plain-average": lambda lq, lab: lab.mean(-1),
}


def test_m2_check_passes_the_right_answer_written_another_way():
    def other(lq, lab):  # E_q[B_l] + H, with the entropy from torch.distributions
        return (lq.exp() * lab).sum(-1) + torch.distributions.Categorical(logits=lq).entropy()

    assert ex.check_m2_unlabelled(_m2_right).status == "passed"
    assert ex.check_m2_unlabelled(other).status == "passed"


@pytest.mark.parametrize("name", sorted(M2_WRONG))
def test_m2_check_names_each_mistake(name):
    report = ex.check_m2_unlabelled(M2_WRONG[name])
    assert report.status == "wrong" and report.mistake == name, report.message


def test_m2_check_unknown_mistake_and_stub():
    report = ex.check_m2_unlabelled(lambda lq, lab: _m2_right(lq, lab) + 1.0)
    assert report.status == "wrong" and report.mistake is None

    def stub(lq, lab):
        raise NotImplementedError

    assert ex.check_m2_unlabelled(stub).status == "todo"


def test_m2_reference_is_lvmlib_m2():
    """The check's reference is what lvmlib.vae.m2 computes (so a pass means the library's formula)."""
    from lvmlib.vae import M2

    torch.manual_seed(0)
    model = M2(6, 3, 2, (5,), generator=torch.Generator().manual_seed(1)).double()
    x = torch.randint(0, 2, (4, 6)).double()
    eps = torch.randn(1, 3, 4, 2, dtype=torch.float64)
    lab = torch.stack([model.labelled_bound(x, torch.full((4,), c), eps=eps[:, c]) for c in range(3)], -1)
    lq = torch.log_softmax(model.classifier_net(x), -1)
    assert torch.allclose(model.unlabelled_bound(x, eps=eps), _m2_right(lq, lab), atol=1e-10)
    assert math.isfinite(float(lab.detach().sum()))
