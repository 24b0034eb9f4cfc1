"""The find-the-bugs exercises (1.1, 3.1, 5.2, 7.1; lvmlib.exercises._planted): each notebook shows a draft with two
planted bugs. The draft the notebook shows must be the one the check knows (it is named "both planted bugs are still
there"); fixing either bug alone is named as "one remains" with where it shows; the messages never name the fix; the
notebook's solution passes; and the plausible half-fixes a student writes fail."""

import math
import re
from pathlib import Path

import pytest
import torch
from torch.distributions import Normal

from lvmlib import exercises as ex
from lvmlib.exercises import _planted

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "tools" / "notebook_src"

#: exercise -> (notebook source, the draft's name, the check, the one-bug-left mistake ids, words the messages
#: of the planted mistakes must not contain: the fix)
DRAFTS = {
    "1.1": ("01_latent_variable_models", "sample_story_draft", ex.check_sample_story, ("uniform-z", "shared-noise"),
            ("randn", "mean.shape", "[num_samples, Dx]")),
    "3.1": ("03_marginalization", "mixture_log_px_draft", ex.check_mixture_log_px,
            ("sum-probabilities", "variance-as-scale"), ("logsumexp", "Normal(means, stds)", "stds)")),
    "5.2": ("05_importance_sampling", "ess_draft", ex.check_ess, ("exp-first", "normalised-over-points"),
            ("logsumexp", "dim=0", "dim 0", "log space")),
    "7.1": ("07_variational_autoencoder", "reparameterized_sample_draft", ex.check_reparameterized_sample,
            ("variance", "no-reparam"), ("log_sigma.exp() * eps", ".detach()", "remove", "without the")),
}


def notebook_draft(key):
    """The draft function exactly as the notebook's source defines it."""
    stem, name, _, _, _ = DRAFTS[key]
    text = (SRC / f"{stem}.py").read_text()
    m = re.search(rf"^def {name}\(.*?(?=^\S)", text, flags=re.S | re.M)
    assert m, f"{stem} defines no {name}"
    ns = {"torch": torch, "math": math, "Normal": Normal}
    exec(compile(m.group(0), f"{stem}:{name}", "exec"), ns)  # noqa: S102 - our own notebook source
    return ns[name]


@pytest.mark.parametrize("key", DRAFTS)
def test_the_notebooks_draft_is_the_one_the_check_knows(key):
    stem, name, check, _, _ = DRAFTS[key]
    report = check(notebook_draft(key))
    assert report.status == "wrong" and report.mistake == _planted.BOTH, report.message
    assert "Both planted bugs" in report.message and name in report.message
    text = (SRC / f"{stem}.py").read_text()
    assert f"exercises.{check.__name__}({name})" in text, "the notebook runs the check on its draft"


def _one_left(key):
    _, _, check, ids, _ = DRAFTS[key]
    module = {"1.1": ex.nb01, "3.1": ex.nb03, "5.2": ex.nb05}.get(key)
    if module is not None:
        listed = {m.name: m for m in {"1.1": ex.nb01._STORY_MISTAKES, "3.1": ex.nb03._MIXTURE_MISTAKES,
                                      "5.2": ex.nb05.ESS_MISTAKES}[key]}
        return {i: listed[i].fn for i in ids}
    return {"variance": lambda mu, ls, eps: mu + ls.exp() ** 2 * eps,
            "no-reparam": lambda mu, ls, eps: (mu + ls.exp() * eps).detach()}


@pytest.mark.parametrize("key", DRAFTS)
def test_one_bug_fixed_says_one_remains_and_where_without_the_fix(key):
    _, name, check, ids, fix_words = DRAFTS[key]
    for mistake, fn in _one_left(key).items():
        report = check(fn)
        assert report.status == "wrong" and report.mistake == mistake, report.message
        assert "one remains. It shows" in report.message and name in report.message, report.message
        head = report.message  # the diagnosis and the case that shows it
        for word in fix_words:
            assert word not in head, f"{mistake}: the message names the fix ({word!r}): {head}"
    both = check(notebook_draft(key)).message
    for word in fix_words:
        assert word not in both, both


# half-fixes a student plausibly writes while debugging each draft: every one must fail
def _story(dec, n, g, *, z=None, eps_shape=None):
    zz = torch.randn(n, dec.latent_dim, generator=g).to(dec.device) if z is None else z(dec, n, g)
    px = dec(zz)
    eps = torch.randn(eps_shape(px, n) if eps_shape else px.mean.shape, generator=g).to(dec.device)
    return zz, px.mean + px.stddev * eps


HALF_FIXES = {
    "1.1": {
        "centred uniform z (torch.rand * 2 - 1)": lambda d, n, g: _story(
            d, n, g, z=lambda d, n, g: torch.rand(n, d.latent_dim, generator=g) * 2 - 1),
        "uniform z scaled to variance 1 (sqrt 12)": lambda d, n, g: _story(
            d, n, g, z=lambda d, n, g: (torch.rand(n, d.latent_dim, generator=g) - 0.5) * math.sqrt(12)),
        "noise [n, 1] expanded to [n, Dx]": lambda d, n, g: _story(d, n, g, eps_shape=lambda px, n: (n, 1)),
        "noise [1, Dx] shared by the samples": lambda d, n, g: _story(d, n, g, eps_shape=lambda px, n: (1,) + px.mean.shape[1:]),
        "the draft with |z| (folded normal)": lambda d, n, g: _story(
            d, n, g, z=lambda d, n, g: torch.randn(n, d.latent_dim, generator=g).abs()),
    },
    "3.1": {
        "variance fixed, log(sum + 1e-300) for stability": lambda x, w, m, s: torch.log(
            (torch.log(w) + Normal(m, s).log_prob(x[:, None])).exp().sum(1) + 1e-300),
        "variance fixed, logsumexp of the probabilities": lambda x, w, m, s: torch.logsumexp(
            (torch.log(w) + Normal(m, s).log_prob(x[:, None])).exp(), 1),
        "logsumexp, the variance 'fixed' by sqrt": lambda x, w, m, s: torch.logsumexp(
            torch.log(w) + Normal(m, s.sqrt()).log_prob(x[:, None]), 1),
        "variance fixed, terms clamped at -700 before exp": lambda x, w, m, s: torch.log(
            (torch.log(w) + Normal(m, s).log_prob(x[:, None])).clamp_min(-700).exp().sum(1)),
        "logsumexp over dim 0": lambda x, w, m, s: torch.logsumexp(torch.log(w) + Normal(m, s).log_prob(x[:, None]), 0),
    },
    "5.2": {
        "global max subtracted before exp, dim 1 kept": lambda lw: (lambda w: 1 / ((w / w.sum(1, keepdim=True)) ** 2).sum(0))(
            torch.exp(lw - lw.max())),
        "global max subtracted before exp, dim 0": lambda lw: (lambda w: 1 / ((w / w.sum(0, keepdim=True)) ** 2).sum(0))(
            torch.exp(lw - lw.max())),
        "log_w clamped at -700 before exp": lambda lw: (lambda w: 1 / ((w / w.sum(0, keepdim=True)) ** 2).sum(0))(
            torch.exp(lw.clamp_min(-700))),
        "softmax over dim 1": lambda lw: 1 / (torch.softmax(lw, 1) ** 2).sum(0),
        "log space, but squared before normalising": lambda lw: torch.exp(
            -(torch.logsumexp(2 * lw, 0) - torch.logsumexp(lw, 0))),
    },
    "7.1": {
        "detach replaced by requires_grad_()": lambda mu, ls, eps: (mu + ls.exp() * eps).detach().requires_grad_(),
        "sigma 'fixed' as sqrt(exp(log_sigma))": lambda mu, ls, eps: mu + ls.exp().sqrt() * eps,
        "detach moved onto mu": lambda mu, ls, eps: mu.detach() + ls.exp() * eps,
        "detach moved onto sigma": lambda mu, ls, eps: mu + ls.exp().detach() * eps,
        "under torch.no_grad()": lambda mu, ls, eps: _no_grad(lambda: mu + ls.exp() * eps),
    },
}


def _no_grad(f):
    with torch.no_grad():
        return f()


RIGHT = {
    "5.2": {"per-point max subtracted before exp": lambda lw: (lambda w: 1 / ((w / w.sum(0, keepdim=True)) ** 2).sum(0))(
        torch.exp(lw - lw.max(0, keepdim=True).values))},
    "7.1": {"detach replaced by clone": lambda mu, ls, eps: (mu + ls.exp() * eps).clone(),
            "sigma as sqrt of the variance": lambda mu, ls, eps: mu + torch.exp(2 * ls).sqrt() * eps},
}


@pytest.mark.parametrize("key,name", [(k, n) for k, v in HALF_FIXES.items() for n in v])
def test_a_half_fix_fails(key, name):
    report = DRAFTS[key][2](HALF_FIXES[key][name])
    assert report.status == "wrong", report.message
    assert report.message.startswith("Exercise ") and "not yet" in report.message


@pytest.mark.parametrize("key,name", [(k, n) for k, v in RIGHT.items() for n in v])
def test_a_right_fix_in_other_words_passes(key, name):
    report = DRAFTS[key][2](RIGHT[key][name])
    assert report.passed, report.message


def test_planted_mistakes_come_first_with_a_both_and_one_per_bug():
    ms = _planted.planted("f_draft", lambda: 0, [("a", "here.", lambda: 1), ("b", "there.", lambda: 2)])
    assert [m.name for m in ms] == [_planted.BOTH, "a", "b"]
    assert "0 of 2 fixed" in ms[0].explain and "It shows here." in ms[1].explain and "f_draft" in ms[2].explain
