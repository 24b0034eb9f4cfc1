"""Notebook 02's helpers and apps: the numbers on screen are the fits', picked from what is ready."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from lvmlib.mixtures import GaussianMixture
from lvmlib.lessons import nb02
from lvmlib.lessons.nb02 import choose_k
from lvmlib.lessons.nb02.digits import cluster_app, cluster_summary, digits_clusters
from lvmlib.mixtures import em_bound
from lvmlib.plotting import FADES, ResponsibilityPoints, ellipse_outlines

F64 = torch.float64


@pytest.fixture(scope="module")
def blobs():
    return nb02.blobs_data()


@pytest.fixture(scope="module")
def run(blobs):
    x_train = blobs[0]
    gm = nb02.fit_em_start(x_train, nb02.EM_STARTS["start 1"])
    return gm, nb02.em_precompute(gm, x_train)


@pytest.fixture(scope="module")
def runs(blobs, run):
    x_train = blobs[0]
    other = nb02.fit_em_start(x_train, nb02.EM_STARTS["start 2"])
    return {"a": run[1], "b": nb02.em_precompute(other, x_train)}


def test_blobs_data_split_and_dtype(blobs):
    x_train, x_test, y_train = blobs
    assert x_train.shape == (nb02.N_TRAIN, 2) and x_test.shape == (nb02.N_TEST, 2) and y_train.shape == (nb02.N_TRAIN,)
    assert x_train.dtype == F64 and sorted(np.unique(y_train.numpy())) == [0, 1, 2, 3]


def test_groups_colour_by_argmax_and_paleness():
    resp = np.array([[0.99, 0.01, 0.0], [0.1, 0.85, 0.05], [0.2, 0.1, 0.7], [0.4, 0.35, 0.25], [0.0, 0.0, 1.0]])
    groups = ResponsibilityPoints.groups(resp)
    levels = len(FADES)
    np.testing.assert_array_equal(groups // levels, [0, 1, 2, 0, 2])  # the most responsible component
    np.testing.assert_array_equal(groups % levels, [0, 1, 2, 3, 0])   # paler as the responsibility is shared


def test_ellipse_outlines_lie_on_the_mahalanobis_contour():
    means = np.array([[1.0, -2.0], [0.0, 3.0]])
    cov = np.array([[[2.0, 0.6], [0.6, 0.5]], [[0.3, -0.1], [-0.1, 1.0]]])
    pts = ellipse_outlines(means, cov, 2.0, num=50)
    assert pts.shape == (2, 50, 2)
    for k in range(2):
        d = pts[k] - means[k]
        maha = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov[k]), d)
        np.testing.assert_allclose(maha, 4.0)
    np.testing.assert_allclose(pts[:, 0], pts[:, -1])  # closed


def test_em_bound_is_a_lower_bound_tight_at_the_posterior(blobs):
    x = blobs[0][:200]
    gm = GaussianMixture(3, random_state=0).fit(x)
    w, mu, cov = (np.asarray(a) for a in (gm.weights_, gm.means_, gm.covariances_))
    post = np.asarray(gm.predict_proba(x))
    assert em_bound(x, w, mu, cov, post) == pytest.approx(gm.score(x), abs=1e-12)
    other = np.full_like(post, 1 / 3)
    low = em_bound(x, w, mu, cov, other)
    # brute force with scipy: E_q[log p(x, z)] + H(q)
    log_joint = np.stack([np.log(w[k]) + multivariate_normal(mu[k], cov[k]).logpdf(x.numpy()) for k in range(3)], 1)
    expected = (other * log_joint).sum(1).mean() + np.log(3)
    assert low == pytest.approx(expected, rel=1e-12)
    assert low < gm.score(x) - 0.1


def test_em_precompute_matches_the_history(run, blobs):
    gm, pre = run
    t_all = gm.n_iter_ + 1
    n = blobs[0].shape[0]
    assert pre.lower_bound.shape == (t_all,) and pre.m_bound.shape == (t_all - 1,)
    assert pre.groups.shape == (t_all, n) and pre.ell1.shape == (t_all, 4, 73, 2)
    np.testing.assert_allclose(pre.lower_bound, gm.history_["lower_bound"])
    np.testing.assert_allclose(pre.means, gm.history_["means"])
    t = gm.n_iter_ // 2
    resp = np.asarray(gm.predict_proba_at(blobs[0], t))
    np.testing.assert_array_equal(pre.groups[t] // len(FADES), resp.argmax(1))
    # the EM sawtooth: l_t <= L(q_t, theta_{t+1}) <= l_{t+1}
    assert (pre.m_bound >= pre.lower_bound[:-1] - 1e-10).all()
    assert (pre.lower_bound[1:] >= pre.m_bound - 1e-10).all()
    xs, ys = nb02._sawtooth(pre, 2)
    np.testing.assert_array_equal(xs, [0, 1, 1, 2, 2])
    np.testing.assert_allclose(ys, [pre.lower_bound[0], pre.m_bound[0], pre.lower_bound[1],
                                    pre.m_bound[1], pre.lower_bound[2]])


def test_em_app_picks_precomputed_numbers_without_fitting(runs, monkeypatch):
    app = nb02.em_app(runs, step=0)

    def forbidden(*args, **kwargs):
        raise AssertionError("the EM app's callback must not fit or evaluate a mixture")

    monkeypatch.setattr(GaussianMixture, "fit", forbidden)
    monkeypatch.setattr(GaussianMixture, "predict_proba", forbidden)
    r = runs["a"]
    app.set(start="a", step=5)
    assert f"iteration t = 5 of {r.n_iter}" in app.text.value
    assert f"{r.lower_bound[5]:.4f}" in app.text.value and f"{r.m_bound[5]:.4f}" in app.text.value
    ax_d, ax_b = app.fig.axes
    saw = [ln for ln in ax_b.lines if ln.get_animated()][0]
    assert len(saw.get_xdata()) == 11  # 0, then two points per iteration
    centres = [ln for ln in ax_d.lines if ln.get_marker() == "X"]
    np.testing.assert_allclose([c.get_xdata()[0] for c in centres], r.means[5][:, 0])
    # past the end of a short run: its converged state
    b = runs["b"]
    app.set(start="b", step=app.controls["step"].max)
    if b.n_iter < app.controls["step"].max:
        assert f"iteration t = {b.n_iter} of {b.n_iter} (converged" in app.text.value


def test_em_app_says_what_it_takes(run):
    with pytest.raises(TypeError, match=r"nb02\.em_precompute\(fit, x\)"):
        nb02.em_app({"a": dataclasses.asdict(run[1])})  # a dict of the fields, as em_precompute once returned


def test_k_app_fits_everything_first_and_the_callback_only_picks(blobs, monkeypatch):
    x_train, x_test, _ = blobs
    app = nb02.k_app(x_train, x_test, k=4)
    assert len(app.refit_seconds) == 10 * 10  # every (K, seed) fitted before the app is shown

    def no_refit(*a, **k):
        raise AssertionError("the K app refits inside its slider callback")

    monkeypatch.setattr(choose_k, "refit", no_refit)  # where k_app looks it up
    app.set(k=2, seed=1)
    monkeypatch.undo()
    gm = nb02.refit(x_train, 2, 1)
    assert f"{gm.score(x_test):.3f} (held out)" in app.text.value and f"BIC {gm.bic(x_train):.0f}" in app.text.value
    ax = app.fig.axes[0]
    assert ax.get_title() == "K = 2 components (init seed 1)"
    centres = [ln for ln in ax.lines if ln.get_marker() == "X"]
    shown = [c for c in centres if c.get_visible()]
    assert len(shown) == 2  # the other components' artists are hidden
    np.testing.assert_allclose(sorted(c.get_xdata()[0] for c in shown), sorted(np.asarray(gm.means_)[:, 0]))
    app.set(k=1)
    assert ax.get_title() == "K = 1 component (init seed 1)"


def test_time_refits_reports_wall_and_cpu(blobs):
    out = nb02.time_refits(blobs[0][:300], [1, 2], seeds=[0])
    assert isinstance(out, nb02.RefitTimes) and list(out.wall) == [1, 2] and list(out.cpu) == [1, 2]
    assert all(v > 0 for v in out.wall.values())


def test_k_sweep_scores_the_refits(blobs):
    x_train, x_test, _ = blobs
    sweep = nb02.k_sweep(x_train, x_test, [1, 2, 4], n_init=1)
    np.testing.assert_array_equal(sweep.ks, [1, 2, 4])
    gm = nb02.refit(x_train, 4, 0, n_init=1)
    assert sweep.test_ll[2] == pytest.approx(gm.score(x_test))
    assert sweep.bic[2] == pytest.approx(gm.bic(x_train))
    np.testing.assert_array_equal(sweep.n_params, [5, 11, 23])  # 6K - 1 in 2-D


def test_cluster_summary_counts_and_orders():
    clusters = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    labels = np.array([5, 5, 3, 3, 3, 3, 5, 5, 5])
    s = cluster_summary(clusters, labels, n_labels=6)
    assert s.counts.shape == (3, 6) and s.counts.sum() == 9
    np.testing.assert_array_equal(s.majority, [5, 3, 5])
    np.testing.assert_allclose(s.purity, [2 / 3, 1.0, 3 / 4])
    np.testing.assert_array_equal(s.order, [1, 2, 0])  # by majority label, then the larger cluster first


def test_cluster_app_shows_the_chosen_cluster():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(60, 64))
    labels = rng.integers(0, 10, size=60)
    clusters = rng.integers(0, 4, size=60)
    means = np.stack([x[clusters == c].mean(0) for c in range(4)])
    s = cluster_summary(clusters, labels)
    app = cluster_app(x, labels, clusters, means, s)
    app.set(cluster=2)
    cl = s.order[2]
    top = np.argsort(-s.counts[cl], kind="stable")[0]
    assert f"{s.counts[cl, top]} &times; '{top}'" in app.text.value
    ax_c, ax_m, ax_g = app.fig.axes
    np.testing.assert_allclose(ax_m.images[0].get_array(), means[cl].reshape(8, 8))
    frame = [p for p in ax_c.patches if p.get_animated()][0]
    assert frame.get_y() == pytest.approx(1.5)
    row_labels = [t.get_text() for t in ax_g.texts if t.get_text()]
    assert row_labels[0] == f"label {top}: {s.counts[cl, top]}"


def test_fit_restarts_and_digits_choice_by_likelihood():
    d = digits_clusters(seeds=[0, 1])
    assert len(d.fits) == 2 and d.best == int(np.argmax(d.train_ll))
    assert d.clusters.shape == (d.data.x_train.shape[0],)
    assert d.summary.counts.sum() == d.data.x_train.shape[0]
    assert all(f.covariance_type == "full" and f.reg_covar == 0.05 and f.n_components == 10 for f in d.fits)
    assert 0.4 < d.ari.max() < 1.0
