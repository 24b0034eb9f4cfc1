"""lvmlib.vae.m2: the labelled bound against a hand computation, the unlabelled bound against the class-by-class sum."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from lvmlib.vae import M2, accuracy, label_subset, train_classifier, train_m2
from lvmlib.nets import mlp


def _tiny(seed=0):
    return M2(5, 3, 2, (4,), generator=torch.Generator().manual_seed(seed)).double()


def _x(b=4, d=5, seed=1):
    return (torch.rand(b, d, generator=torch.Generator().manual_seed(seed)) < 0.5).double()


def test_labelled_bound_by_hand():
    m, x, y = _tiny(), _x(), torch.tensor([0, 2, 1, 2])
    eps = torch.randn(3, 4, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = m.labelled_bound(x, y, 3, eps=eps).detach().numpy()
    with torch.no_grad():
        oh = torch.nn.functional.one_hot(y, 3).double()
        mu, raw = m.encoder_net(torch.cat([x, oh], -1)).chunk(2, -1)
        sd = torch.nn.functional.softplus(raw) + 1e-5
        z = mu + sd * eps  # [S, B, 2]
        logits = m.decoder_net(torch.cat([z, oh.expand(3, -1, -1)], -1)).numpy()
    z, mu, sd, xn = z.numpy(), mu.numpy(), sd.numpy(), x.numpy()
    p = 1 / (1 + np.exp(-logits))
    log_px = (xn * np.log(p) + (1 - xn) * np.log(1 - p)).sum(-1)
    log_pz = norm.logpdf(z).sum(-1)
    log_q = norm.logpdf(z, mu, sd).sum(-1)
    want = (log_px + log_pz - log_q - math.log(3)).mean(0)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_unlabelled_bound_is_the_sum_over_classes_plus_entropy():
    m, x = _tiny(), _x()
    eps = torch.randn(2, 3, 4, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    got = m.unlabelled_bound(x, 2, eps=eps)
    q = torch.softmax(m.classifier_net(x), -1)
    brute = torch.zeros(4, dtype=torch.float64)
    for c in range(3):
        brute += q[:, c] * m.labelled_bound(x, torch.full((4,), c), 2, eps=eps[:, c])
    brute += -(q * q.log()).sum(-1)
    assert torch.allclose(got, brute, atol=1e-12)


def test_unlabelled_bound_below_log_px_by_enumeration_of_y():
    """B_u <= log p(x) = logsumexp_y log p(x, y), where log p(x, y) is estimated tightly by IS over z."""
    m, x = _tiny(4), _x(3, 5, 5)
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():
        bu = m.unlabelled_bound(x, 2000, generator=g).mean()
        # log p(x, y) by importance sampling with q(z|x,y): logsumexp of the labelled log-weights
        lp = []
        for c in range(3):
            y = torch.full((3,), c)
            eps = torch.randn(4000, 3, 2, generator=g, dtype=torch.float64)
            qz = m.encoder(x, y)
            z = qz.base_dist.loc + qz.base_dist.scale * eps
            lw = m.likelihood(z, y).log_prob(x) + m.prior().log_prob(z) - qz.log_prob(z) - math.log(3)
            lp.append(torch.logsumexp(lw, 0) - math.log(4000))
        log_px = torch.logsumexp(torch.stack(lp), 0).mean()
    assert bu < log_px


def test_bad_input():
    m, x = _tiny(), _x()
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        m.labelled_bound(x, torch.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        m.labelled_bound(x, torch.tensor([0, -1, 2, 0]))
    with pytest.raises(ValueError, match="integer class labels"):
        m.labelled_bound(x, torch.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match=r"shape \[B\] = \[4\]"):
        m.labelled_bound(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"shape \[B, 5\]"):
        m.unlabelled_bound(x[:, :3])
    with pytest.raises(ValueError, match="other than 0 and 1"):
        m.unlabelled_bound(x * 0.5)
    with pytest.raises(ValueError, match="NaN"):
        m.classifier(x * float("nan"))
    with pytest.raises(ValueError, match="eps must have shape"):
        m.unlabelled_bound(x, eps=torch.zeros(1, 4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="no labelled points"):
        train_m2(m, x[:0], torch.zeros(0, dtype=torch.long), x, 5)
    with pytest.raises(ValueError, match="no labelled points"):
        train_classifier(mlp([5, 3]), x[:0], torch.zeros(0, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="at least one"):
        m.objective(x[:0], torch.zeros(0, dtype=torch.long), x[:0], 1.0)
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        M2(5, 1, 2)
    with pytest.raises(ValueError, match="fewer than per_class"):
        label_subset(torch.tensor([0, 0, 1]), 2)


def test_label_subset():
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 2])
    idx = label_subset(y, 2, generator=torch.Generator().manual_seed(0))
    assert len(idx) == 6 and torch.bincount(y[idx]).tolist() == [2, 2, 2] and len(set(idx.tolist())) == 6
    assert torch.equal(label_subset(y, None), torch.arange(10))


def test_training_learns_a_separable_toy_problem_with_one_label_per_class():
    """Two well-separated binary prototypes, one label each: M2 labels the unlabelled points right."""
    g = torch.Generator().manual_seed(7)
    proto = torch.tensor([[1.0] * 6 + [0.0] * 6, [0.0] * 6 + [1.0] * 6])
    y = torch.randint(0, 2, (200,), generator=g)
    flip = torch.rand(200, 12, generator=g) < 0.05
    x = (proto[y] + flip.float()) % 2
    idx = torch.tensor([int((y == 0).nonzero()[0]), int((y == 1).nonzero()[0])])
    m = M2(12, 2, 2, (16,), generator=g)
    hist = train_m2(m, x[idx], y[idx], x, 200, batch_size=32, lr=1e-2, alpha=1.0, generator=g)
    assert accuracy(m.predict, x, y) > 0.95
    assert len(hist.objective) == 2 and hist.objective[-1] > hist.objective[0]
    img = m.generate(torch.zeros(2, 2), torch.tensor([0, 1]))
    assert img.shape == (2, 12) and (img[0, :6].mean() > img[0, 6:].mean()) and (img[1, 6:].mean() > img[1, :6].mean())
