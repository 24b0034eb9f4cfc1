"""Training and evaluating a :class:`~lvmlib.vae.VAE`: the Adam loop on the ELBO or the IWAE bound,
and the importance-sampled log p(x) of held-out points.

Training maximizes the ELBO (Kingma and Welling 2014) or L_K (Burda, Grosse and Salakhutdinov
2016) averaged over minibatches; each epoch's bound is checked for divergence (a fall far below
the best bound so far raises, naming the epoch and the learning rate).  Evaluation is
log p-hat(x) = logsumexp_k [log p(x, z_k) - log q(z_k | x)] - log K with z_k ~ q(z | x), through
:mod:`lvmlib.inference`.  ``train``, ``evaluate`` and ``evaluate_points`` are re-exported by
:mod:`lvmlib.vae`, where the notebooks find them.
"""

from __future__ import annotations

import math
import warnings
import time
from typing import Iterable

import numpy as np
import torch

from lvmlib import inference as estimators
from lvmlib._util import check_generator, mean_se, positive_int, positive_number
from lvmlib.vae.model import VAE
from lvmlib.vae.objectives import Objective, as_objective

__all__ = ["train", "evaluate", "evaluate_points"]


def _first_tensor(batch) -> torch.Tensor:
    """A DataLoader batch may be x, (x, y, ...) or [x, y, ...]: the data is the first."""
    if isinstance(batch, (tuple, list)):
        batch = batch[0]
    if not isinstance(batch, torch.Tensor):
        raise TypeError(f"DataLoader batches must be tensors or tuples starting with one, got {type(batch).__name__}")
    return batch


def _batches(data, model: VAE, batch_size: int, shuffle: bool, generator) -> Iterable[torch.Tensor]:
    """Batches [b, Dx] on the model's device: slices of a (shuffled) tensor, or a DataLoader's.

    A tensor was checked once by :func:`train`; DataLoader batches are checked here, on
    the loader's device before the copy (no GPU sync).
    """
    if isinstance(data, torch.Tensor):
        if shuffle:
            g_dev = generator.device if generator is not None else data.device
            perm = torch.randperm(data.shape[0], generator=generator, device=g_dev).to(data.device)
            data = data[perm]  # one gather per epoch; batches below are views
        for start in range(0, data.shape[0], batch_size):
            yield data[start : start + batch_size]
    else:
        for batch in data:
            yield model.check_x(_first_tensor(batch))


def _mean_bound(model: VAE, data, objective: Objective, generator, batch_size: int = 1024) -> float:
    """The bound averaged over all points of ``data`` (no gradients)."""
    total, n = None, 0
    with torch.no_grad():
        for xb in _batches(data, model, batch_size, False, generator):
            if xb.shape[0] == 0:
                continue
            s = objective(model, xb, generator).sum()
            total = s if total is None else total + s
            n += xb.shape[0]
    return float(total) / n


def _diverged(bound: float, best: float, data_dim: int) -> bool:
    """Whether an epoch's mean bound has fallen so far below the best one that training diverged.

    The floor is ``best - 10 * max(|best|, data_dim)`` nats per point: ten times worse than the
    best epoch, and at least ten nats per dimension below it.  For binary data the trivial model
    that says 1/2 for every pixel scores -data_dim * log 2 (about -0.7 nats per dimension), so no
    model that is still learning sits ten nats per dimension below its own best; a healthy run's
    epoch-to-epoch noise is a fraction of a nat per point.  What it catches: a learning rate so
    large that the bound runs off by orders of magnitude while staying finite (lr=1e6 took the
    digits ELBO from about -40 to -7.7e28 with no NaN).
    """
    return bound < best - 10.0 * max(abs(best), float(data_dim))


def _adam(params: list, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel where the device has one (CPU, CUDA, MPS): the same update
    as the default implementation, in one kernel instead of ~12 small ops per parameter,
    which matters for networks this small (a large share of a step; see ``benchmarks/``)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(params, lr=lr)


def train(
    model: VAE,
    x_train,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    objective: Objective | str = "elbo",
    num_samples: int | None = None,
    x_valid=None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> dict:
    """Train ``model`` with Adam on an objective (the ELBO, the IWAE bound, ...); a progress bar per epoch.

    Adam (the fused kernel where the device has one).  Each step maximizes the batch mean of
    ``objective(model, xb, generator)``, e.g. ``ELBO(K)`` (Kingma and Welling 2014) or ``IWAE(K)``
    (Burda et al. 2016), i.e. minimizes its negative.  The objective is one object (like numpyro's
    ``loss=Trace_ELBO()``): ``train(model, x, 50, objective=IWAE(5, fn=objective_used))`` trains with a
    student's function of exercise 6.1 and records whose code ran in ``history["computed_by"]``.  The bar (``tqdm.auto``: a widget in Jupyter, text in a terminal) advances
    once per epoch and shows the epoch's mean training bound and the validation bound.
    The running loss is summed on the model's device and read once per epoch.

    Args:
        model: a :class:`VAE` (trained in place).
        x_train: a tensor [N, Dx] (shuffled every epoch with ``generator``; the last batch
            may be smaller) or a ``DataLoader`` yielding x or (x, y, ...) batches (its own
            order; batches are moved to the model's device and dtype).
        epochs: passes over the data.
        batch_size: points per step (tensor input only).
        lr: Adam's learning rate.
        objective: an :class:`lvmlib.vae.Objective` (:class:`~lvmlib.vae.ELBO`, :class:`~lvmlib.vae.IWAE`,
            :class:`~lvmlib.vae.PriorTermELBO`), or the shorthand ``"elbo"`` / ``"iwae"``.
        num_samples: K for the shorthand only (default 1; the ELBO averages K one-sample terms);
            an Objective carries its own (``IWAE(5)``), and giving both is an error.
        x_valid: optional tensor [M, Dx] (or DataLoader); its bound (same objective and K,
            no gradients) is recorded after every epoch.
        generator: optional ``torch.Generator`` for the shuffling and the Monte Carlo
            samples: the same seed gives the same training run (on the same device).
        progress: show the progress bar.

    Returns:
        history dict: ``"epoch"`` (1..epochs), ``"train"`` (per epoch, the mean bound over
        the epoch's batches, nats per point, taken while the weights change), ``"valid"``
        (per epoch, empty without ``x_valid``), ``"seconds"`` (wall time since the start, per
        epoch), ``"objective"`` (``"elbo"`` or ``"iwae"``), ``"num_samples"``, ``"computed_by"`` (whose code
        computed the objective: "your objective", "lvmlib's elbo", ...).

    Raises:
        FloatingPointError: the loss became NaN or infinite, or training diverged (see
            :func:`_diverged`).
        ValueError, TypeError: bad arguments (all checked before the first epoch) or data (shape,
            NaN, non-binary data for a Bernoulli VAE; a DataLoader's batches are checked as they come).

    Whatever stops a run part-way (the errors above, an exception from a DataLoader, Ctrl-C's
    ``KeyboardInterrupt``) propagates with the history of the completed epochs attached as
    ``err.history``, and the model is left usable, with the weights at the start of the
    interrupted epoch (those the history describes) and no gradients.  In Jupyter, after
    Ctrl-C: ``import sys; history = sys.last_value.history``.

    Taught in notebook 07 (The variational autoencoder); also used in 09 and 10.
    """
    from tqdm.auto import tqdm

    if not isinstance(model, VAE):
        raise TypeError(f"model must be an lvmlib VAE, got {type(model).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    batch_size = positive_int(batch_size, "batch_size")
    if num_samples is not None:
        num_samples = positive_int(num_samples, "num_samples")
    lr = positive_number(lr, "lr")
    generator = check_generator(generator)
    for name, data in (("x_train", x_train), ("x_valid", x_valid)):
        if isinstance(data, np.ndarray):
            raise TypeError(f"{name} is a NumPy array: pass a tensor, torch.as_tensor({name}, dtype=torch.float32), "
                            f"or a DataLoader")
    objective = as_objective(objective, num_samples)
    num_samples = objective.num_samples
    if isinstance(x_train, torch.Tensor):
        x_train = model.check_x(x_train)
        if x_train.shape[0] == 0:
            raise ValueError("x_train is empty")
    elif not hasattr(x_train, "__iter__"):
        raise TypeError(f"x_train must be a tensor [N, D] or a DataLoader, got {type(x_train).__name__}")
    if isinstance(x_valid, torch.Tensor):
        x_valid = model.check_x(x_valid)
        if x_valid.shape[0] == 0:
            raise ValueError("x_valid is empty: pass at least one point, or x_valid=None to skip validation")
    elif x_valid is not None and not hasattr(x_valid, "__iter__"):
        raise TypeError(f"x_valid must be None, a tensor [M, D] or a DataLoader, got {type(x_valid).__name__}")

    label = objective.label
    history = {"epoch": [], "train": [], "valid": [], "seconds": [], "objective": objective.kind,
               "num_samples": num_samples, "computed_by": objective.who}
    optimizer = _adam(list(model.parameters()), lr)
    ref = model.prior_loc  # a buffer: the model's device and dtype
    start_time = time.perf_counter()
    start_bound = None
    bar = tqdm(range(1, epochs + 1), desc=f"VAE z={model.latent_dim} {label}", unit="epoch", disable=not progress)
    snapshot = None
    try:
        for epoch in bar:
            snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
            total = torch.zeros((), device=ref.device, dtype=ref.dtype)
            n = 0
            empty = 0
            for xb in _batches(x_train, model, batch_size, True, generator):
                if xb.shape[0] == 0:  # a loader's empty batch: its mean would be NaN, and so would the weights
                    empty += 1
                    continue
                bound = objective(model, xb, generator)  # [b]
                loss = -bound.mean()
                if start_bound is None:  # the untrained model's bound: the reference for divergence (one sync)
                    start_bound = float(loss.detach().neg())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += bound.detach().sum()
                n += xb.shape[0]
            if empty:
                warnings.warn(f"epoch {epoch}: x_train gave {empty} empty batch(es); they were skipped (check the "
                              "DataLoader's sampler or batch_sampler)", RuntimeWarning, stacklevel=2)
            if n == 0:
                raise ValueError("x_train gave no batches")
            train_bound = float(total) / n  # the one sync of the epoch
            if not math.isfinite(train_bound):
                raise FloatingPointError(
                    f"the training {label} became {train_bound} in epoch {epoch} (lr={lr:g}); the model was "
                    f"restored to its weights at the start of that epoch. Try a lower lr (e.g. {lr / 10:g}) "
                    f"and check the data for extreme values."
                )
            best = max(history["train"] + [start_bound])
            if math.isfinite(best) and _diverged(train_bound, best, model.data_dim):
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: the mean training {label} fell from {best:.4g} (its best) "
                    f"to {train_bound:.4g} nats per point (lr={lr:g}); the model was restored to its weights at the "
                    f"start of that epoch. Lower the learning rate (e.g. lr={min(lr / 100, 1e-3):g}; the default is 1e-3)."
                )
            postfix = {label: f"{train_bound:.2f}"}
            if x_valid is not None:
                valid = _mean_bound(model, x_valid, objective, generator)
                postfix["valid"] = f"{valid:.2f}"
            # the epoch is complete: record it all at once (an interruption above records none of it)
            history["epoch"].append(epoch)
            history["train"].append(train_bound)
            if x_valid is not None:
                history["valid"].append(valid)
            history["seconds"].append(time.perf_counter() - start_time)
            snapshot = None
            bar.set_postfix(postfix, refresh=False)
    except BaseException as err:  # Ctrl-C, a bad batch, NaN, divergence, out of memory, ...
        _rewind(model, optimizer, snapshot, history)
        try:
            err.history = history
        except AttributeError:  # an exception type that takes no attributes: the history is lost with it
            pass
        raise
    finally:
        bar.close()
    return history


def _rewind(model: VAE, optimizer, snapshot: dict | None, history: dict) -> None:
    """After an interrupted epoch: the weights at its start (those ``history`` describes), no stale gradients.

    The weights a half-done epoch left may be half-updated (an interrupted optimizer step);
    the snapshot taken at the epoch's start is consistent with the recorded epochs.  Adam's
    moments keep the half epoch's updates, which only shifts a continued run's first steps.
    """
    with torch.no_grad():
        if snapshot is not None:
            model.load_state_dict(snapshot)
    optimizer.zero_grad(set_to_none=True)


# ----------------------------------------------------------------------------------------
# evaluation
# ----------------------------------------------------------------------------------------


def evaluate_points(
    model: VAE,
    x: torch.Tensor,
    num_samples: int = 5000,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-sampled log p-hat(x) for every point, with the encoder as proposal: what
    :func:`evaluate` averages (same arguments).

    Returns:
        tensor of shape [B], without gradients, on the model's device.
    """
    x = model.check_x(x)
    num_samples = positive_int(num_samples, "num_samples")
    with torch.no_grad():
        return estimators.importance_sampling(x, model, model.encode, num_samples, generator=generator,
                                              chunk_size=chunk_size)  # [B]


def evaluate(
    model: VAE,
    x: torch.Tensor,
    num_samples: int = 5000,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """Importance-sampled log p(x) with the encoder as proposal, averaged over the points.

    log p-hat(x) = logsumexp_k [log p(x, z_k) - log q(z_k | x)] - log K, z_k ~ q(z | x)
    (Burda et al. 2016, section 5: the k = 5000 estimate).  It is a lower bound in
    expectation (Jensen) that tightens as K grows; computed by
    :func:`lvmlib.inference.importance_sampling`, chunked over samples so memory stays
    bounded, without gradients.

    Args:
        model: a :class:`VAE`.
        x: data, shape [B, Dx].
        num_samples: K.
        chunk_size: samples per chunk (``None``: the estimators' default).
        generator: optional ``torch.Generator``.

    Returns:
        (mean, stderr): the mean of log p-hat(x) over the B points in nats, and its standard
        error across points (std / sqrt(B); NaN for B = 1).  The Monte Carlo error of each
        point's estimate is not included (tiny at K = 5000 next to the spread across points).
    """
    log_p = evaluate_points(model, x, num_samples, chunk_size, generator)  # [B]
    if log_p.shape[0] == 0:
        raise ValueError("evaluate needs at least one point; x is empty (shape [0, D])")
    return tuple(mean_se(log_p))
