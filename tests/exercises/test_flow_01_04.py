"""Notebooks 01-04 run the student's function: the lesson functions that take it call it, give lvmlib's
answer when it is right (the same draws, the same EM path to 1e-8), and show it when it is wrong."""

import warnings

import numpy as np
import pytest
import torch

from lvmlib import exercises
from lvmlib.inference import repeated_estimates
from lvmlib.lessons import nb01, nb02, nb03, nb04
from lvmlib.mixtures import reference

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _chosen(fn, library, *, right=True):
    report = exercises.Report("test", "passed" if right else "todo", "")
    return exercises.choose(report, fn, library)


def test_nb01_the_app_samples_are_the_samplers_draws():
    decoders = nb01.story_decoders(sizes=(1, 3))
    used = _chosen(nb01.story_recipe, nb01.story_recipe)
    story = nb01.sample_story(decoders, 200, generator=torch.Generator().manual_seed(0), sampler=used)
    assert used.calls == 2
    g = torch.Generator().manual_seed(0)
    for d in (1, 3):
        z, x = nb01.story_recipe(decoders[d], 200, g)
        np.testing.assert_allclose(story["z"][d], z.numpy())
        np.testing.assert_allclose(nb01.story_samples(story, d, 1.0, 200)[1], x.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert nb01.story_samples(story, 1, 0.0, 200)[1].shape == (200, 2)


def test_nb02_em_with_the_textbook_steps_takes_the_fast_paths_path():
    x, _, _ = nb02.blobs_data()
    steps = dict(e_step=_chosen(reference.e_step, reference.e_step), m_step=_chosen(reference.m_step, reference.m_step),
                 em_loop=_chosen(reference.em_loop, reference.em_loop))
    path = nb02.fit_em_start(x, nb02.EM_STARTS["start 1"], max_iter=6, steps=nb02.EMSteps(**steps))
    gm = nb02.fit_em_start(x, nb02.EM_STARTS["start 1"], max_iter=8)
    diff, compared = nb02.path_difference(path, gm)
    assert compared == 6 and diff < 1e-8
    assert steps["em_loop"].calls == 1 and path.n_iter_ == 6 and not path.converged_
    pre = nb02.em_precompute(path, x)
    calls = steps["e_step"].calls
    assert pre.groups.shape == (7, 1000) and calls >= 7 + 6  # the loop's E-steps and the app's colours


def test_nb02_a_wrong_e_step_changes_the_path():
    x, _, _ = nb02.blobs_data()
    def no_weights(x, w, m, c):
        return reference.e_step(x, torch.full_like(w, 1 / len(w)), m, c)
    path = nb02.fit_em_start(x, nb02.EM_STARTS["start 1"], max_iter=4, steps=nb02.EMSteps(no_weights, reference.m_step))
    gm = nb02.fit_em_start(x, nb02.EM_STARTS["start 1"], max_iter=6)
    assert nb02.path_difference(path, gm)[0] > 1e-4
    with pytest.raises(TypeError, match="EMSteps"):
        nb02.fit_em_start(x, nb02.EM_STARTS["start 1"], steps=(no_weights, reference.m_step, None))


def test_nb03_the_app_curve_is_the_functions():
    mixtures = nb03.mixture_family(max_k=3)
    used = _chosen(nb03.mixture_log_px, nb03.mixture_log_px)
    pre = nb03.mixture_precompute(mixtures, log_px=used)
    default = nb03.mixture_precompute(mixtures)
    assert used.calls == 6  # two grids per K
    for k in mixtures:
        np.testing.assert_allclose(pre.log_p[k], default.log_p[k], rtol=1e-12)
    shifted = nb03.mixture_precompute(mixtures, log_px=lambda x, w, m, s: nb03.mixture_log_px(x, w, m, s) - 1.0)
    assert np.allclose(shifted.log_p[2], default.log_p[2] - 1.0)


def test_nb04_repeated_estimates_reduce_with_the_students_function():
    model, x = nb04.demo_model(), torch.tensor([[nb04.DEMO_X]], dtype=torch.float64)
    used = _chosen(nb04.naive_mc, nb04.naive_mc)
    ns = nb04.N_GRID[:4]
    a = repeated_estimates(x, model, ns, 40, generator=torch.Generator().manual_seed(1), estimate=used)
    b = repeated_estimates(x, model, ns, 40, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert used.calls == len(ns) * 2  # blocks of 20 runs
    c = repeated_estimates(x, model, ns, 40, generator=torch.Generator().manual_seed(1),
                           estimate=lambda lw: lw.mean(0))  # Jensen: biased low
    assert (c.mean(1) < b.mean(1)).all()


def test_reference_em_loop_is_reference_em():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(80, 2, generator=g, dtype=torch.float64) + 3 * (torch.arange(80) % 2)[:, None]
    w, mu, cov = torch.full((2,), 0.5, dtype=torch.float64), x[:2].clone(), torch.eye(2, dtype=torch.float64).repeat(2, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = reference.em(x, w, mu, cov, tol=1e-6, max_iter=100)
    params, lls, conv = reference.em_loop(x, w, mu, cov, reference.e_step,
                                          reference.with_reg_covar(reference.m_step, 1e-6), tol=1e-6, max_iter=100)
    assert conv == out.converged and len(params) - 1 == out.n_iter and lls == out.log_likelihood
    torch.testing.assert_close(params[-1][2], out.covariances)
    assert np.all(np.diff(lls) > -1e-12)
