"""exercises.choose: the student's function runs the notebook once its check passed, lvmlib's until then."""

import pytest
import torch

from lvmlib import exercises
from lvmlib.mixtures import reference


def _solution(x, weights, means, covariances):
    lj = torch.log(weights) + torch.distributions.MultivariateNormal(means, covariances).log_prob(x[:, None, :])
    return torch.exp(lj - torch.logsumexp(lj, 1, keepdim=True))


def _stub(x, weights, means, covariances):
    raise NotImplementedError("Exercise: replace this line with your code, then run the check below")


def test_a_passing_check_hands_the_notebook_the_students_function():
    used = exercises.choose(exercises.check_e_step(_solution), _solution, reference.e_step)
    assert used.student and used.fn is _solution
    x = torch.randn(5, 2, dtype=torch.float64)
    w, mu, cov = torch.tensor([0.5, 0.5], dtype=torch.float64), x[:2], torch.eye(2, dtype=torch.float64).expand(2, 2, 2)
    used(x, w, mu, cov)
    assert used.calls == 1
    assert "your _solution" in repr(used) and "passed" in used._repr_html_()


@pytest.mark.parametrize("fn", [_stub, lambda x, w, m, c: torch.ones(x.shape[0], 2)])
def test_until_then_lvmlibs_function_runs_and_the_message_says_so(fn):
    used = exercises.choose(exercises.check_e_step(fn), fn, reference.e_step, name="e_step")
    assert not used.student and used.fn is reference.e_step
    assert "lvmlib's lvmlib.mixtures.reference.e_step until your e_step passes" in repr(used)


def test_choose_needs_a_report():
    with pytest.raises(TypeError, match="Report"):
        exercises.choose(True, _solution, reference.e_step)
