"""Inference: everything that reduces log-weights or gradient terms.

- :mod:`~lvmlib.inference.estimators`: one path, :func:`log_weights` [K, B], and its reductions
  (naive Monte Carlo, importance sampling, ELBO, IWAE, effective sample size), all in log space;
- :mod:`~lvmlib.inference.repeated`: many independent runs of an estimator, from one stream;
- :mod:`~lvmlib.inference.gradients`: score-function and reparameterization gradient estimators;
- :mod:`~lvmlib.inference.amortization`: the amortization gap (per-point q against an encoder);
- :mod:`~lvmlib.inference.upper`: an upper bound in expectation, the harmonic-mean estimator, and why it fails.

Sampling with an explicit generator lives one layer down, in :mod:`lvmlib.distributions`.
"""

from lvmlib.inference.amortization import GapRun, GapSplit, LocalQ, gap_run, gap_split, optimize_local_q
from lvmlib.inference.estimators import (
    effective_sample_size,
    elbo,
    importance_sampling,
    iwae_bound,
    log_mean_exp,
    log_weights,
    naive_monte_carlo,
)
from lvmlib.inference.gradients import (
    ESTIMATORS,
    GradientRuns,
    GradientSamples,
    estimator_variance,
    exact_quadratic_gradient,
    gradient_runs,
    gradient_samples,
    gradient_terms,
    quadratic,
)
from lvmlib.inference.upper import harmonic_mean_estimate
from lvmlib.inference.repeated import (
    BlockEstimates,
    RunEstimates,
    block_estimates,
    fraction_carrying,
    relative_std_one_sample,
    repeated_estimates,
    run_estimates,
    weight_shares,
)

__all__ = [
    "log_weights",
    "naive_monte_carlo",
    "importance_sampling",
    "elbo",
    "iwae_bound",
    "effective_sample_size",
    "log_mean_exp",
    "RunEstimates",
    "run_estimates",
    "BlockEstimates",
    "block_estimates",
    "repeated_estimates",
    "weight_shares",
    "fraction_carrying",
    "relative_std_one_sample",
    "ESTIMATORS",
    "GradientSamples",
    "quadratic",
    "exact_quadratic_gradient",
    "gradient_samples",
    "GradientRuns",
    "gradient_runs",
    "estimator_variance",
    "gradient_terms",
    "LocalQ",
    "optimize_local_q",
    "GapSplit",
    "gap_split",
    "GapRun",
    "gap_run",
    "harmonic_mean_estimate",
]
