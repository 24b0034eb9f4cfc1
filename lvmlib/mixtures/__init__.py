"""Mixture models fit by EM, with scikit-learn's API.

- :mod:`~lvmlib.mixtures.reference`: the textbook E-step and M-step of a Gaussian mixture, a few
  readable lines each (what exercises 2.1 and 2.2 ask for), tested equal to the fast path;
- :mod:`~lvmlib.mixtures.gaussian`: :class:`GaussianMixture` (same names and meanings as
  scikit-learn's), its steps in :mod:`~lvmlib.mixtures.gaussian_steps`;
- :mod:`~lvmlib.mixtures.bernoulli`: :class:`BernoulliMixture` for binary images;
- :mod:`~lvmlib.mixtures.em`: the EM driver both share (restarts, stopping rule, history) and
  the EM lower bound :func:`em_bound`; :mod:`~lvmlib.mixtures.init` the initializations;
  :mod:`~lvmlib.mixtures.sklearn_api` parameter checks; ``_cpu`` private speed machinery.

The names below are loaded on first use (PEP 562): the estimators import scikit-learn (about a
second), and ``lvmlib.mixtures.reference`` (plain torch; the exercise checks of notebook 02 use it)
must not pay for that (``tests/core/test_import_cost.py``).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the names are, for readers and type checkers; loaded by __getattr__
    from lvmlib.mixtures import reference
    from lvmlib.mixtures.bernoulli import BernoulliMixture
    from lvmlib.mixtures.em import ConvergenceWarning, EMHistory, em_bound
    from lvmlib.mixtures.gaussian import GaussianMixture

__all__ = [
    "GaussianMixture",
    "BernoulliMixture",
    "EMHistory",
    "ConvergenceWarning",
    "em_bound",
    "reference",
]


def __getattr__(name: str):
    if name == "GaussianMixture":
        from lvmlib.mixtures.gaussian import GaussianMixture as value
    elif name == "BernoulliMixture":
        from lvmlib.mixtures.bernoulli import BernoulliMixture as value
    elif name in ("EMHistory", "ConvergenceWarning", "em_bound"):
        import lvmlib.mixtures.em as em

        value = getattr(em, name)
    elif name == "reference":
        import lvmlib.mixtures.reference as value
    else:
        raise AttributeError(f"module 'lvmlib.mixtures' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
