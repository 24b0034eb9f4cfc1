"""Mixture models fit by EM, with scikit-learn's API.

- :mod:`~lvmlib.mixtures.reference`: the textbook E-step and M-step of a Gaussian mixture, a few
  readable lines each (what exercises 2.1 and 2.2 ask for), tested equal to the fast path;
- :mod:`~lvmlib.mixtures.gaussian`: :class:`GaussianMixture` (same names and meanings as
  scikit-learn's), its steps in :mod:`~lvmlib.mixtures.gaussian_steps`;
- :mod:`~lvmlib.mixtures.bernoulli`: :class:`BernoulliMixture` for binary images;
- :mod:`~lvmlib.mixtures.em`: the EM driver both share (restarts, stopping rule, history) and
  the EM lower bound :func:`em_bound`; :mod:`~lvmlib.mixtures.init` the initializations;
  :mod:`~lvmlib.mixtures.sklearn_api` parameter checks; ``_cpu`` private speed machinery.
"""

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
