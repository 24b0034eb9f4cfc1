"""Exercise 9.1's check: passes the solution, says "not done" for the stub, names each known mistake."""

import pytest

from lvmlib import exercises as ex


def solution(f_values, z, loc, scale):
    u = z - loc
    f = f_values[:, None]
    return f * u / scale**2, f * (u**2 / scale**3 - 1 / scale)


def test_solution_passes():
    r = ex.check_score_function_terms(solution)
    assert r.passed, r.message


def test_stub_is_not_done_yet():
    def stub(*args):
        raise NotImplementedError

    r = ex.check_score_function_terms(stub)
    assert r.status == "todo" and "not done yet" in r.message


@pytest.mark.parametrize("mistake", ex.nb09._SCORE_MISTAKES, ids=lambda m: m.name)
def test_each_mistake_is_named(mistake):
    r = ex.check_score_function_terms(mistake.fn)
    assert r.status == "wrong" and r.mistake == mistake.name, r.message


def test_an_unknown_mistake_is_reported_without_a_name():
    r = ex.check_score_function_terms(lambda f, z, m, s: (2 * solution(f, z, m, s)[0], solution(f, z, m, s)[1]))
    assert r.status == "wrong" and r.mistake is None


def test_an_error_is_reported():
    r = ex.check_score_function_terms(lambda f, z, m, s: f @ z @ z)
    assert r.status == "error"
