"""The device contract of every code exercise (issue 27): a student's function gets its inputs on the
notebook's device (a GPU on CUDA or Apple machines) and must answer there without mixing devices.

No GPU here: PyTorch's ``meta`` device stands in for one (a meta/CPU mix raises as a CUDA/CPU mix does).
Three things are tested:

- answers that are right on the CPU but break on a GPU (a tensor made with ``torch.zeros(n)`` and no
  device, a CPU generator's draw used as is, ``.cpu()``, a device hard-coded to ``"cpu"``) are "wrong",
  with the ``device-mix`` / ``wrong-device`` mistake id and a message that names the device and the fix;
- which checks can run their cases on ``meta`` and which cannot, and why (:data:`NOT_ON_META`);
- the notebooks' hand-offs: the objects each notebook hands the student's function (its models, data,
  decoders, priors), moved to ``meta``, go through the notebook's solution without a device mix.

Hand-off paths that cannot run on ``meta``, and why: notebook 01's pictures and notebook 04's repeated runs
turn the draws into NumPy (values); notebook 02's EM loop (2.3) stops on a comparison of numbers; notebook 07's
training loop (7.4) records ``loss.item()``; notebook 08's slerp (8.1) branches on the angle. Exercises 2.1,
2.2, 3.1, 4.1, 5.2, 9.1 and 10.4 receive plain tensors on the notebook's device, which is what their checks'
own probes hand them. ``make gpu-check`` runs every notebook, both editions, on CUDA for the rest.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from torch.distributions import Independent, MultivariateNormal, Normal

from lvmlib import exercises as ex
from lvmlib.exercises import _core, _device
from lvmlib.exercises import nb01 as ex01

ROOT = Path(__file__).resolve().parents[2]
from tools.nbbuild import parse  # noqa: E402

META = torch.device("meta")


def _zeros_like_cpu(t):
    """The classic slip: a new tensor with no device (it lands on the CPU)."""
    return torch.zeros(t.shape, dtype=t.dtype)


#: exercise -> (check, an answer right on the CPU that breaks off it)
BREAKS_OFF_CPU = {
    "2.1": (ex.check_e_step, lambda x, w, m, c: torch.softmax(
        torch.log(w) + MultivariateNormal(m, c).log_prob(x[:, None, :]) + torch.zeros(x.shape[0], w.shape[0],
                                                                                   dtype=x.dtype), 1)),
    "2.2": (ex.check_m_step, lambda x, r: (
        r.sum(0) / x.shape[0] + torch.zeros(r.shape[1], dtype=r.dtype),
        (r.T @ x) / r.sum(0)[:, None],
        torch.einsum("nk,kni,knj->kij", r, x[None] - ((r.T @ x) / r.sum(0)[:, None])[:, None],
                     x[None] - ((r.T @ x) / r.sum(0)[:, None])[:, None]) / r.sum(0)[:, None, None])),
    "3.1": (ex.check_mixture_log_px, lambda x, w, m, s: torch.logsumexp(
        torch.log(w) + Normal(m, s).log_prob(x[:, None]), 1) + _zeros_like_cpu(x)),
    "4.1": (ex.check_naive_mc, lambda lw: (
        torch.logsumexp(lw, 0) - torch.full(lw.shape[1:], math.log(lw.shape[0]), dtype=lw.dtype),
        torch.exp(lw - (torch.logsumexp(lw, 0) - math.log(lw.shape[0]))).std(0) / math.sqrt(lw.shape[0]))),
    "5.2": (ex.check_ess, lambda lw: torch.exp(-torch.logsumexp(
        2 * (lw - torch.logsumexp(lw, 0, keepdim=True)), 0)) * torch.ones(lw.shape[1], dtype=lw.dtype)),
    "7.1": (ex.check_reparameterized_sample, lambda mu, ls, eps: (mu + ls.exp() * eps).cpu()),
    "9.1": (ex.check_score_function_terms, lambda f, z, loc, scale: (
        f[:, None] * (z - loc) / scale ** 2 + torch.zeros(z.shape, dtype=z.dtype),
        f[:, None] * ((z - loc) ** 2 / scale ** 3 - 1 / scale))),
    "10.1": (ex.check_mixture_log_prob, lambda z, logits, loc, scale: torch.logsumexp(
        torch.log_softmax(logits, 0) + Normal(loc, scale).log_prob(z[:, None, :]).sum(-1), -1)
        + torch.zeros(z.shape[0], dtype=z.dtype)),
    # the example: an accumulator built with torch.zeros(n) and no device
    "10.2": (ex.check_prior_term, lambda mu, ls, eps, log_prior: (lambda total: [
        total := total + Independent(Normal(mu, ls.exp()), 1).log_prob(mu + ls.exp() * e)
        - log_prior(mu + ls.exp() * e) for e in eps][-1] / eps.shape[0])(torch.zeros(mu.shape[0], dtype=mu.dtype))),
    "10.4": (ex.check_m2_unlabelled, lambda lq, lab: (lq.exp() * (lab - lq)).sum(-1)
             + torch.zeros(lq.shape[0], dtype=lq.dtype, device="cpu")),
}


def _check_named(name):
    return getattr(ex, name)


@pytest.mark.parametrize("key", sorted(BREAKS_OFF_CPU, key=lambda k: tuple(map(int, k.split(".")))))
def test_an_answer_that_breaks_off_the_cpu_is_wrong_with_a_helpful_message(key):
    check, answer = BREAKS_OFF_CPU[key]
    report = check(answer)
    assert report.status == "wrong", report.message
    assert report.mistake in (_device.MIXED, _device.WRONG_DEVICE), (report.mistake, report.message)
    assert "GPU" in report.message and "meta" in report.message and "device" in report.message, report.message


#: exercises whose check cannot run its cases on ``meta``, and why (their device contract rests on the
#: CUDA run of `make gpu-check` and on the hand-off test below where it can run)
NOT_ON_META = {
    "2.3": "the EM loop's stop rule compares numbers (abs(change) < tol), which a meta tensor has not",
    "7.4": "the training loop records loss.item() every batch and steps an optimizer on real numbers",
    "8.1": "slerp branches on the angle between its endpoints (sin(omega) < 1e-6), a value meta has not",
}

CHECKS = {"1.1": "check_sample_story", "2.1": "check_e_step", "2.2": "check_m_step", "2.3": "check_em_loop",
          "3.1": "check_mixture_log_px", "4.1": "check_naive_mc", "5.1": "check_log_weights", "5.2": "check_ess",
          "6.1": "check_objective", "7.1": "check_reparameterized_sample", "7.3": "check_negative_elbo",
          "7.4": "check_training_loop", "8.1": "check_slerp", "9.1": "check_score_function_terms",
          "10.1": "check_mixture_log_prob", "10.2": "check_prior_term", "10.4": "check_m2_unlabelled"}


def _solutions() -> dict:
    """name -> the notebook's solution function (the solutions edition's cell, executed)."""
    from lvmlib.distributions import sample

    found = {}
    for src in sorted((ROOT / "tools" / "notebook_src").glob("[01]*.py")):
        for cell in parse(src.read_text(), "solutions").cells:
            names = re.findall(r"^def (\w+)\(", cell.source, flags=re.M) if cell.cell_type == "code" else []
            if names and "### BEGIN SOLUTION" in src.read_text():
                ns = {"torch": torch, "math": math, "sample": sample, "MultivariateNormal": MultivariateNormal,
                      "Normal": Normal}
                try:
                    exec(compile(cell.source, str(src), "exec"), ns)  # noqa: S102 - our own notebook source
                except Exception:  # noqa: BLE001 - a cell that needs the notebook's state is not a solution
                    continue
                found.update({n: ns[n] for n in names if n in ns})
    return found


SOLUTIONS = _solutions()


@pytest.mark.parametrize("key", sorted(CHECKS, key=lambda k: tuple(map(int, k.split(".")))))
def test_which_checks_probe_the_device_and_the_solutions_keep_the_contract(key, monkeypatch):
    """Every check runs its device probe where its reference can run on meta; the three that cannot are
    named with the reason.  The probe is recorded by wrapping device_problem."""
    seen = []

    def recording(exercise, student, reference, cases, **kw):
        usable, skipped = _device.meta_cases(reference, cases)
        seen.append((usable, skipped))
        return _device.device_problem(exercise, student, reference, cases, **kw)
    monkeypatch.setattr(_core, "device_problem", recording)
    monkeypatch.setattr(ex01, "device_problem", recording)
    check = getattr(ex, CHECKS[key])
    check = getattr(check, "__wrapped__", check)  # in this process: the exported check runs in a forked child
    name = {"1.1": "sample_story", "2.1": "e_step", "2.2": "m_step", "2.3": "em_loop", "3.1": "mixture_log_px",
            "4.1": "naive_mc", "5.1": "log_weights", "5.2": "effective_sample_size", "6.1": "objective",
            "7.1": "reparameterized_sample", "7.3": "negative_elbo", "7.4": None, "8.1": "slerp",
            "9.1": "score_function_terms", "10.1": "mixture_log_prob", "10.2": "prior_term",
            "10.4": "unlabelled_bound"}[key]
    if name is None:  # 7.4's answer is the body of a loop: its check does not probe devices
        assert key in NOT_ON_META
        return
    report = check(SOLUTIONS[name])
    assert report.passed, report.message
    usable = sum(len(u) for u, _ in seen)
    if key in NOT_ON_META:
        assert usable == 0, f"{key} runs on meta now: take it out of NOT_ON_META"
    else:
        assert usable >= 1, (key, [s for _, s in seen])


# ---------------------------------------------------------------------------------------------
# The notebooks' hand-offs, with the notebook's own objects on `meta`
# ---------------------------------------------------------------------------------------------

def _on_meta(value):
    out = value
    for t in (out if isinstance(out, tuple) else (out,)):
        assert isinstance(t, torch.Tensor) and t.device.type == "meta", (type(t), getattr(t, "device", None))
    return out


def test_notebook_01_hands_its_decoders_on_the_device_to_the_sampler():
    """nb01.sample_story draws the app's samples with the student's sampler on decoders made by
    story_decoders(device=device); its pictures need values, so only the draws run on meta."""
    from lvmlib.lessons import nb01

    decoders = nb01.story_decoders(sizes=(1, 3), device=META)
    g = torch.Generator().manual_seed(0)
    with _device._NoValidation(), _device._GeneratorDevice():
        for dec in decoders.values():
            assert dec.device.type == "meta"
            _on_meta(SOLUTIONS["sample_story"](dec, 7, g))
            _on_meta(nb01.story_recipe(dec, 7, g))


def test_notebook_05_and_06_hand_the_toy_model_and_proposals_on_the_device():
    from lvmlib.distributions import gaussian_proposals
    from lvmlib.models.toy import toy_problem

    model, x = toy_problem()
    model, x = model.to(META), x.to(META)
    q = _device.to_device(gaussian_proposals([1.25], [0.5]))
    g = torch.Generator().manual_seed(0)
    with _device._NoValidation(), _device._GeneratorDevice():
        log_w = _on_meta(SOLUTIONS["log_weights"](x, model, q, 50, generator=g))
        _on_meta(SOLUTIONS["log_p_hat"](log_w))
        _on_meta(SOLUTIONS["effective_sample_size"](log_w))
        same_q = lambda xb: q.expand(torch.Size([xb.shape[0]]))  # noqa: E731 - notebook 06's same_q
        _on_meta(SOLUTIONS["objective"](x.expand(4, -1), model, same_q, 3, "iwae", generator=g))


def test_notebook_07_trains_with_the_students_loss_on_the_device():
    """Notebook 07's elbo_loss (reparameterize 7.1, negative ELBO 7.3) on a VAE moved to meta; its fit
    loop records loss.item() (values), so the loss, not the loop, runs here."""
    from lvmlib.vae import VAE

    model = VAE(64, 4).to(META)
    xb = torch.zeros(5, 64, device=META)
    g = torch.Generator().manual_seed(0)
    with _device._NoValidation(), _device._GeneratorDevice():
        q = model.encoder(xb)
        mu, log_sigma = q.mean, q.stddev.log()
        eps = torch.randn(mu.shape, generator=g, dtype=mu.dtype).to(mu.device)  # the notebook's line
        z = _on_meta(SOLUTIONS["reparameterized_sample"](mu, log_sigma, eps))
        _on_meta(SOLUTIONS["negative_elbo"](xb, model.decoder_net(z), mu, log_sigma))


def test_notebook_10_hands_its_mixture_prior_on_the_device():
    from lvmlib.vae import MixturePrior

    prior = MixturePrior(3, 4).to(META)  # 3 components in a 4-D latent, as an nn.Module moves
    mu = torch.zeros(5, 4, device=META)
    eps = torch.zeros(2, 5, 4, device=META)
    with _device._NoValidation():
        log_p = _on_meta(SOLUTIONS["mixture_log_prob"](mu, prior.logits, prior.loc, prior.scale()))
        assert log_p.shape == (5,)
        log_prior = ex.nb10.mixture_prior_log_prob(SOLUTIONS["mixture_log_prob"], prior.logits, prior.loc,
                                                   prior.scale())
        _on_meta(SOLUTIONS["prior_term"](mu, mu, eps, log_prior))
        _on_meta(SOLUTIONS["prior_term"](mu, mu, eps, ex.nb10.standard_normal_log_prob))
        lq = torch.log_softmax(torch.zeros(5, 10, device=META), -1)
        _on_meta(SOLUTIONS["unlabelled_bound"](lq, torch.zeros(5, 10, device=META)))


def test_the_probe_does_not_leave_distribution_validation_off():
    before = torch.distributions.Distribution._validate_args
    ex.check_prior_term(SOLUTIONS["prior_term"])
    assert torch.distributions.Distribution._validate_args == before
