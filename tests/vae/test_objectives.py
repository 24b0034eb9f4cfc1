"""The student's code trains: ``train`` / ``train_m2`` take the objective as one object (lvmlib.vae.objectives),
run the student's function once its check passed and lvmlib's otherwise, and say whose ran."""

import math

import pytest
import torch

from lvmlib import exercises
from lvmlib.distributions import sample
from lvmlib.vae import (ELBO, IWAE, M2, VAE, M2Bound, MixturePrior, PriorTermELBO, evaluate, train,
                        train_label_settings, train_m2, train_prior_pair)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _tiny_data(n=48, d=8, seed=4):
    g = gen(seed)
    probs = torch.rand(3, d, generator=g)
    return (torch.rand(n, d, generator=g) < probs[torch.arange(n) % 3]).float()  # [n, d], three kinds


class Counting:
    """A student's function that counts its own calls (what really ran, not a wrapper's count)."""

    def __init__(self, fn, name):
        self.fn, self.calls, self.__name__ = fn, 0, name

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def _objective(x, model, encoder, K, kind="elbo", generator=None):  # exercise 6.1, solved
    q = encoder(x)
    z = sample(q, (K,), generator)
    log_w = model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z)
    return log_w.mean(0) if kind == "elbo" else torch.logsumexp(log_w, 0) - math.log(K)


def _objective_no_log_k(x, model, encoder, K, kind="elbo", generator=None):  # a plausible wrong answer
    q = encoder(x)
    z = sample(q, (K,), generator)
    log_w = model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z)
    return log_w.mean(0) if kind == "elbo" else torch.logsumexp(log_w, 0)


def _chosen_objective(fn):
    student = Counting(fn, "objective")
    used = exercises.choose(exercises.check_objective(student), student, exercises.nb06.objective)
    student.calls = 0  # count the training's calls only
    return student, used


def _train_iwae(fn=None, epochs=6):
    x = _tiny_data()
    model = VAE(x.shape[1], 2, (16,), generator=gen(1))
    hist = train(model, x, epochs, batch_size=16, lr=0.01, objective=IWAE(4, fn=fn), generator=gen(2), progress=False)
    return model, hist, x


def test_a_passing_iwae_objective_trains_and_the_history_says_it_was_the_students():
    student, used = _chosen_objective(_objective)
    assert used.student and used.who == "your objective"
    _, hist, x = _train_iwae(used, epochs=3)
    assert hist["computed_by"] == "your objective" and hist["objective"] == "iwae" and hist["num_samples"] == 4
    assert student.calls == 3 * math.ceil(x.shape[0] / 16)  # every batch's bound came from the student's function
    assert used.calls == student.calls


def test_a_wrong_objective_falls_back_to_lvmlibs_and_never_runs():
    student, used = _chosen_objective(_objective_no_log_k)
    assert not used.student and used.who == "lvmlib's objective"
    _, hist, _ = _train_iwae(used, epochs=2)
    assert hist["computed_by"] == "lvmlib's objective"
    assert student.calls == 0 and used.calls > 0


def test_the_students_iwae_objective_trains_to_lvmlibs_log_p():
    """The same seeds: the student's objective (6.1, solved) and lvmlib's give the same model up to round-off."""
    _, used = _chosen_objective(_objective)
    theirs, _, x = _train_iwae(None)
    yours, hist, _ = _train_iwae(used)
    assert hist["computed_by"] == "your objective"
    lp_theirs, _ = evaluate(theirs, x, 500, generator=gen(3))
    lp_yours, _ = evaluate(yours, x, 500, generator=gen(3))
    untrained, _ = evaluate(VAE(x.shape[1], 2, (16,), generator=gen(1)), x, 500, generator=gen(3))
    assert lp_yours > untrained + 0.5  # it trained
    assert abs(lp_yours - lp_theirs) < 0.02, (lp_yours, lp_theirs)


def test_lvmlibs_default_objective_names_itself_and_the_shorthand_still_works():
    x = _tiny_data(16)
    model = VAE(x.shape[1], 2, (8,), generator=gen(1))
    assert train(model, x, 1, progress=False)["computed_by"] == "lvmlib's elbo"
    hist = train(model, x, 1, objective="iwae", num_samples=3, progress=False)
    assert hist["computed_by"] == "lvmlib's iwae3" and hist["num_samples"] == 3
    assert ELBO().label == "elbo" and IWAE(7).label == "iwae7" and IWAE().num_samples == 5


def test_the_objective_is_one_object_and_bad_answers_are_refused_clearly():
    x = _tiny_data(16)
    model = VAE(x.shape[1], 2, (8,), generator=gen(1))
    with pytest.raises(ValueError, match="num_samples belongs to the objective"):
        train(model, x, 1, objective=IWAE(5), num_samples=5, progress=False)
    with pytest.raises(ValueError, match="unknown objective"):
        train(model, x, 1, objective="kl", progress=False)

    def batch_mean(*a, **k):  # a scalar instead of one value per point
        return _objective(*a, **k).mean()

    def detached(*a, **k):
        return _objective(*a, **k).detach()

    with pytest.raises(ValueError, match=r"batch_mean returned shape \(\); .* must have shape \[16\]"):
        train(model, x, 1, batch_size=16, objective=ELBO(fn=batch_mean), progress=False)
    with pytest.raises(ValueError, match="without a gradient"):
        train(model, x, 1, batch_size=16, objective=ELBO(fn=detached), progress=False)
    with pytest.raises(TypeError, match="returned list"):
        train(model, x, 1, batch_size=16, objective=ELBO(fn=lambda *a, **k: _objective(*a, **k).tolist()),
              progress=False)


# ------------------------------------------------------------------------------------------
# notebook 10: a mixture-prior VAE from 10.1 and 10.2, an M2 from 10.4
# ------------------------------------------------------------------------------------------


def _mixture_vae():
    return VAE(8, 2, (16,), prior=MixturePrior(3, 2, generator=gen(5)), generator=gen(1))


def test_the_prior_term_elbo_is_the_elbo_for_the_same_noise():
    x = _tiny_data(10)
    model = _mixture_vae()
    objective = PriorTermELBO(prior_term=exercises.nb10.prior_term, mixture_log_prob=exercises.nb10.mixture_log_prob,
                              num_samples=3)
    ours = objective(model, x, gen(7))
    assert ours.shape == (10,) and ours.requires_grad
    torch.testing.assert_close(ours, ELBO(3)(model, x, gen(7)), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(PriorTermELBO(3, prior_term=exercises.nb10.prior_term)(model, x, gen(7)), ours,
                               rtol=1e-5, atol=1e-4)  # the model's own log p(z)
    with pytest.raises(ValueError, match="not a MixturePrior"):
        objective(VAE(8, 2, (16,), generator=gen(1)), x, gen(7))


def _student_mixture(z, logits, loc, scale):  # 10.1, solved
    comp = torch.distributions.Normal(loc, scale).log_prob(z[:, None, :]).sum(-1)
    return torch.logsumexp(torch.log_softmax(logits, 0) + comp, dim=-1)


def _student_mixture_unnormalised(z, logits, loc, scale):  # 10.1's listed mistake
    comp = torch.distributions.Normal(loc, scale).log_prob(z[:, None, :]).sum(-1)
    return torch.logsumexp(logits + comp, dim=-1)


def _student_prior_term(mu, log_sigma, eps, log_prior):  # 10.2, solved
    q = torch.distributions.Independent(torch.distributions.Normal(mu, log_sigma.exp()), 1)
    z = mu + log_sigma.exp() * eps
    return (q.log_prob(z) - log_prior(z)).mean(0)


@pytest.mark.parametrize("mixture, whose", [(_student_mixture, "your mixture_log_prob"),
                                            (_student_mixture_unnormalised, "lvmlib's mixture_log_prob")])
def test_a_gmvae_trains_with_the_students_pieces_once_they_pass(mixture, whose):
    x = _tiny_data(32)
    mix_student = Counting(mixture, "mixture_log_prob")
    term_student = Counting(_student_prior_term, "prior_term")
    mix_used = exercises.choose(exercises.check_mixture_log_prob(mix_student), mix_student,
                                exercises.nb10.mixture_log_prob)
    term_used = exercises.choose(exercises.check_prior_term(term_student), term_student, exercises.nb10.prior_term)
    mix_student.calls = term_student.calls = 0
    objective = PriorTermELBO(prior_term=term_used, mixture_log_prob=mix_used)
    assert objective.who == f"your prior_term and {whose}"
    models = train_prior_pair(x, latent_dim=2, num_components=3, epochs=2, seed=0, priors=("mixture",),
                              objective=objective, recipe=_tiny_recipe())
    assert set(models) == {"mixture"}
    batches = 2 * math.ceil(x.shape[0] / 16)
    assert term_student.calls == batches
    assert mix_student.calls == (batches if whose.startswith("your") else 0)


def _tiny_recipe():
    from dataclasses import replace

    from lvmlib.vae import DIGITS_RECIPE

    return replace(DIGITS_RECIPE, hidden=(16,), batch_size=16)


def test_the_gmvae_of_the_students_pieces_is_lvmlibs_up_to_round_off():
    x = _tiny_data(32)
    objective = PriorTermELBO(prior_term=_student_prior_term, mixture_log_prob=_student_mixture)
    ours = train_prior_pair(x, 2, 3, 4, seed=0, priors=("mixture",), objective=objective, recipe=_tiny_recipe())
    theirs = train_prior_pair(x, 2, 3, 4, seed=0, priors=("mixture",), recipe=_tiny_recipe())
    for a, b in zip(ours["mixture"].parameters(), theirs["mixture"].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def _m2_unlabelled(log_q_y, labelled):  # 10.4, solved
    return (log_q_y.exp() * (labelled - log_q_y)).sum(-1)


def _m2_no_entropy(log_q_y, labelled):  # 10.4's listed mistake
    return (log_q_y.exp() * labelled).sum(-1)


def _m2_split():
    x = _tiny_data(40)
    y = torch.arange(40) % 3
    return x, y


def test_m2_bound_with_lvmlibs_unlabelled_sum_is_m2s_objective():
    x, y = _m2_split()
    model = M2(8, 3, 2, (16,), generator=gen(1))
    want = model.objective(x[:6], y[:6], x[6:], 10.0, generator=gen(3))
    got = M2Bound(10.0, exercises.nb10.unlabelled_bound)(model, x[:6], y[:6], x[6:], generator=gen(3))
    torch.testing.assert_close(got, want)
    log_q, labelled = model.unlabelled_parts(x[6:], eps=torch.zeros(1, 3, 34, 2))
    torch.testing.assert_close(_m2_unlabelled(log_q, labelled), model.unlabelled_bound(x[6:], eps=torch.zeros(1, 3, 34, 2)))


@pytest.mark.parametrize("fn, whose", [(_m2_unlabelled, "your unlabelled_bound"),
                                       (_m2_no_entropy, "lvmlib's unlabelled_bound")])
def test_m2_trains_with_the_students_bound_once_it_passes(fn, whose):
    x, y = _m2_split()
    student = Counting(fn, "unlabelled_bound")
    used = exercises.choose(exercises.check_m2_unlabelled(student), student, exercises.nb10.unlabelled_bound)
    student.calls = 0
    model = M2(8, 3, 2, (16,), generator=gen(1))
    hist = train_m2(model, x[:6], y[:6], x[6:], 5, batch_size=8, objective=M2Bound(10.0, used), generator=gen(2))
    assert hist.computed_by == whose
    assert student.calls == (5 if whose.startswith("your") else 0) and used.calls == 5


def test_the_students_m2_bound_trains_lvmlibs_m2():
    x, y = _m2_split()
    models = []
    for bound in (None, _m2_unlabelled):
        m = M2(8, 3, 2, (16,), generator=gen(1))
        train_m2(m, x[:6], y[:6], x[6:], 20, batch_size=8, objective=M2Bound(10.0, bound), generator=gen(2))
        models.append(m)
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_train_m2_takes_alpha_or_an_objective_not_both():
    x, y = _m2_split()
    model = M2(8, 3, 2, (16,), generator=gen(1))
    with pytest.raises(ValueError, match="alpha belongs to the objective"):
        train_m2(model, x[:6], y[:6], x[6:], 1, alpha=1.0, objective=M2Bound(1.0))
    with pytest.raises(TypeError, match="M2Bound"):
        train_m2(model, x[:6], y[:6], x[6:], 1, objective=ELBO())
    assert train_m2(model, x[:6], y[:6], x[6:], 1, alpha=1.0).computed_by == "lvmlib's M2.unlabelled_bound"


def test_label_settings_record_whose_bound_trained():
    from dataclasses import replace

    from lvmlib.vae import M2_RECIPE

    class Data:
        x_train, y_train = _m2_split()
        x_test, y_test = x_train[:12], y_train[:12]

    recipe = replace(M2_RECIPE, latent_dim=2, hidden=(8,), steps=3, batch_size=8)
    used = exercises.choose(exercises.check_m2_unlabelled(_m2_unlabelled), _m2_unlabelled,
                            exercises.nb10.unlabelled_bound, name="unlabelled_bound")
    out = train_label_settings(Data, (2,), recipe=recipe, unlabelled_bound=used)
    assert out[2].computed_by == "your unlabelled_bound" and used.calls == 3


def test_chosen_counts_runs_that_returned_and_says_whose():
    def boom(*a):
        raise RuntimeError("boom")

    used = exercises.choose(exercises.check_m2_unlabelled(boom), boom, exercises.nb10.unlabelled_bound)
    assert used.who == "lvmlib's unlabelled_bound"
    bad = exercises.Chosen("f", boom, True, "lvmlib.x.f")
    with pytest.raises(RuntimeError):
        bad()
    assert bad.calls == 0 and bad.who == "your f"
