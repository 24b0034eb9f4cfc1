"""Tests of lvmlib.vae: the bounds' properties, training, checkpoints, shapes, bad input."""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lvmlib.data import load_dataset
from lvmlib.device import one_thread
from lvmlib.vae import VAE, evaluate, slerp, train

D, DZ = 64, 3


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """Networks this small gain nothing from intra-op threads (see ``lvmlib.device.one_thread``)."""
    with one_thread():
        yield


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", binarize=True)


@pytest.fixture(scope="module")
def trained(digits):
    """A small VAE trained briefly on digits (shared, never modified by tests)."""
    g = torch.Generator().manual_seed(0)
    model = VAE(D, DZ, (32,), generator=g)
    train(model, digits.x_train, 15, batch_size=64, lr=3e-3, generator=g, progress=False)
    return model


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------
# the bounds
# ------------------------------------------------------------------------------------------


def test_iwae_with_one_sample_is_the_elbo(trained, digits):
    x = digits.x_test[:40]
    assert torch.equal(trained.iwae(x, 1, generator=gen(3)), trained.elbo(x, 1, generator=gen(3)))


def test_iwae_above_elbo_in_expectation(trained, digits):
    """E[L_K] >= E[L_1] (Burda et al. 2016), per point, beyond Monte Carlo error."""
    x = digits.x_test[:30]
    g = gen(1)
    with torch.no_grad():
        elbo = trained.elbo(x, 2000, generator=g)  # [B]: each the mean of 2000 one-sample terms
        iwae = torch.stack([trained.iwae(x, 20, generator=g) for _ in range(100)])  # [100, B]
    gap = iwae.mean(0) - elbo  # [B]
    assert gap.shape == (30,)
    assert gap.mean() > 0.1
    assert (gap > -0.2).all(), gap.min()  # MC error per point is a few hundredths of a nat
    # and L_K increases with K on average
    with torch.no_grad():
        iwae200 = trained.iwae(x, 200, generator=g)
    assert iwae200.mean() > iwae.mean()


def test_elbo_is_differentiable(digits):
    model = VAE(D, DZ, (16,), generator=gen())
    model.elbo(digits.x_train[:8], 2, generator=gen()).mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.encoder_net[0].weight.grad.abs().sum() > 0  # reparameterization reaches q


def test_evaluate_is_tighter_than_the_elbo_and_chunk_size_only_changes_the_draw(trained, digits):
    x = digits.x_test[:50]
    mean, stderr = evaluate(trained, x, 500, generator=gen(2))
    assert isinstance(mean, float) and isinstance(stderr, float) and stderr > 0
    assert mean > trained.elbo(x, 100, generator=gen(2)).mean().item()
    mean_chunked, _ = evaluate(trained, x, 500, chunk_size=7, generator=gen(2))
    # another chunk size draws other samples: the same estimate up to Monte Carlo error (seen: 0.01)
    assert mean_chunked == pytest.approx(mean, abs=0.05)


# ------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------


def test_training_lowers_the_loss_on_a_tiny_set(digits):
    x = digits.x_train[:64]
    model = VAE(D, 2, (32,), generator=gen())
    before = model.elbo(x, 50, generator=gen(9)).mean().item()
    hist = train(model, x, 40, batch_size=16, lr=3e-3, x_valid=digits.x_test[:32], generator=gen(), progress=False)
    after = model.elbo(x, 50, generator=gen(9)).mean().item()
    assert after > before + 5
    assert hist["train"][-1] > hist["train"][0]
    assert hist["epoch"] == list(range(1, 41))
    assert len(hist["valid"]) == len(hist["seconds"]) == 40
    assert all(math.isfinite(v) for v in hist["valid"])


def test_training_with_the_iwae_objective(digits):
    x = digits.x_train[:64]
    model = VAE(D, 2, (16,), generator=gen())
    hist = train(model, x, 5, batch_size=32, objective="iwae", num_samples=5, generator=gen(), progress=False)
    assert hist["objective"] == "iwae" and hist["num_samples"] == 5
    assert hist["train"][-1] > hist["train"][0]


def test_training_is_deterministic_and_leaves_the_global_rng_alone(digits):
    x = digits.x_train[:100]
    state = torch.get_rng_state()
    runs = []
    for _ in range(2):
        model = VAE(D, 2, (16,), generator=gen(5))
        hist = train(model, x, 3, batch_size=32, x_valid=x[:20], generator=gen(5), progress=False)
        runs.append((model.state_dict(), hist["train"]))
    assert torch.equal(torch.get_rng_state(), state)
    assert runs[0][1] == runs[1][1]
    assert all(torch.equal(runs[0][0][k], runs[1][0][k]) for k in runs[0][0])


def test_dataloader_input(digits):
    x, y = digits.x_train[:96], digits.y_train[:96]
    model = VAE(D, 2, (16,), generator=gen())
    hist = train(model, DataLoader(TensorDataset(x, y), batch_size=32), 3, generator=gen(), progress=False)
    assert len(hist["train"]) == 3 and all(math.isfinite(v) for v in hist["train"])
    # a loader of bare tensors, float64 data: cast to the model's dtype
    hist = train(model, DataLoader(x.double(), batch_size=50), 2, generator=gen(), progress=False)
    assert len(hist["train"]) == 2
    # batches are checked
    with pytest.raises(ValueError, match="0 and 1"):
        train(model, DataLoader(x * 0.5, batch_size=32), 1, progress=False)


def test_progress_bar_runs(digits, capsys):
    model = VAE(D, 2, (8,), generator=gen())
    train(model, digits.x_train[:32], 2, generator=gen(), progress=True)
    assert "elbo" in capsys.readouterr().err


class _NaNAfter(VAE):
    """A VAE whose training objective turns NaN after ``calls`` batches."""

    calls = 5

    def bound(self, x, objective, num_samples, generator):
        out = super().bound(x, objective, num_samples, generator)
        _NaNAfter.calls -= 1
        return out * float("nan") if _NaNAfter.calls < 0 else out


def test_nan_loss_raises_and_restores_the_last_good_weights(digits):
    x = digits.x_train[:64]  # 2 batches of 32 per epoch: NaN in epoch 3
    _NaNAfter.calls = 5
    model = _NaNAfter(D, 2, (16,), generator=gen())
    reference = VAE(D, 2, (16,), generator=gen())  # the same run, without the NaN
    train(reference, x, 2, batch_size=32, generator=gen(), progress=False)
    with pytest.raises(FloatingPointError, match="lower lr") as info:
        train(model, x, 10, batch_size=32, generator=gen(), progress=False)
    assert "epoch 3" in str(info.value)
    assert info.value.history["train"] and len(info.value.history["train"]) == 2
    for k, v in model.state_dict().items():
        assert torch.isfinite(v).all()
        assert torch.equal(v, reference.state_dict()[k]), k  # weights after epoch 2


def test_train_rejects_bad_arguments(digits):
    model = VAE(D, 2, (8,))
    x = digits.x_train[:16]
    with pytest.raises(ValueError, match="objective"):
        train(model, x, 1, objective="kl", progress=False)
    with pytest.raises(ValueError, match="lr"):
        train(model, x, 1, lr=-1.0, progress=False)
    with pytest.raises(ValueError, match="data_dim"):
        train(model, x[:, :10], 1, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        train(model, torch.full((4, D), float("nan")), 1, progress=False)
    assert train(model, x, 0, progress=False)["train"] == []


# ------------------------------------------------------------------------------------------
# shapes and the model protocol
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("likelihood, obs_scale", [("bernoulli", None), ("gaussian", None), ("gaussian", 0.3)])
def test_shapes(likelihood, obs_scale, digits):
    model = VAE(D, DZ, (16, 8), likelihood=likelihood, obs_scale=obs_scale, generator=gen())
    x = digits.x_train[:5]
    prior = model.prior()
    assert prior.batch_shape == () and prior.event_shape == (DZ,)
    q = model.encoder(x)
    assert q.batch_shape == (5,) and q.event_shape == (DZ,)
    z = torch.randn(7, 5, DZ)
    px = model.likelihood(z)
    assert px.batch_shape == (7, 5) and px.event_shape == (D,)
    assert px.log_prob(x).shape == (7, 5)
    assert model.decoder(z[0]).batch_shape == (5,)
    assert model.elbo(x).shape == (5,) and model.elbo(x, 4).shape == (5,)
    assert model.iwae(x, 6).shape == (5,)
    assert model.sample(4, generator=gen()).shape == (4, D)
    assert model.sample(4, generator=gen(), mean=False).shape == (4, D)
    assert model.reconstruct(x).shape == (5, D) and model.reconstruct(x[0]).shape == (D,)
    for method in ("linear", "slerp"):
        path, zs = model.interpolate(x[0], x[1], 6, method, return_latents=True)
        assert path.shape == (6, D) and zs.shape == (6, DZ)
    assert model.interpolate(x[:1], x[1:2], 3).shape == (3, D)


def test_bernoulli_outputs_are_probabilities_and_samples_binary(trained):
    probs = trained.sample(20, generator=gen())
    assert ((probs > 0) & (probs < 1)).all()
    pixels = trained.sample(20, generator=gen(), mean=False)
    assert set(pixels.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(trained.sample(3, generator=gen(4)), trained.sample(3, generator=gen(4)))


def test_prior_buffers_follow_the_model(digits):
    model = VAE(D, DZ, (8,)).to(torch.float64)
    assert model.prior().mean.dtype == torch.float64
    assert model.elbo(digits.x_train[:4]).dtype == torch.float64  # float32 data is cast
    names = dict(model.named_buffers())
    assert {"prior_loc", "prior_scale"} <= set(names)


# ------------------------------------------------------------------------------------------
# interpolation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["linear", "slerp"])
def test_interpolation_endpoints_decode_the_endpoint_means(trained, digits, method):
    x0, x1 = digits.x_test[0], digits.x_test[1]
    path, zs = trained.interpolate(x0, x1, 7, method, return_latents=True)
    mu = trained.encoder(torch.stack([x0, x1])).mean
    torch.testing.assert_close(zs[0], mu[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(zs[-1], mu[1], rtol=0, atol=1e-6)
    torch.testing.assert_close(path[0], trained.reconstruct(x0), rtol=0, atol=1e-6)
    torch.testing.assert_close(path[-1], trained.reconstruct(x1), rtol=0, atol=1e-6)
    assert not torch.allclose(path[3], path[0])


def test_slerp_stays_on_the_sphere_and_falls_back_to_linear():
    t = torch.linspace(0, 1, 9).unsqueeze(-1)
    z0, z1 = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0])
    path = slerp(z0, z1, t)
    torch.testing.assert_close(path.norm(dim=-1), torch.full((9,), 2.0))
    torch.testing.assert_close(path[4], torch.tensor([2.0, 2.0]) / math.sqrt(2))
    parallel = slerp(z0, 3 * z0, t)
    torch.testing.assert_close(parallel, (1 - t) * z0 + t * 3 * z0)


# ------------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_save_load_roundtrip(tmp_path, trained, likelihood, digits):
    model = trained if likelihood == "bernoulli" else VAE(D, DZ, (16,), likelihood="gaussian", generator=gen())
    path = tmp_path / "vae.pt"
    model.save(path)
    loaded = VAE.load(path)
    assert loaded.config == model.config
    x = digits.x_test[:10]
    assert torch.equal(loaded.elbo(x, 3, generator=gen(1)), model.elbo(x, 3, generator=gen(1)))
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    assert torch.equal(loaded.sample(4, generator=gen(2)), model.sample(4, generator=gen(2)))


def test_save_load_keeps_the_dtype(tmp_path):
    model = VAE(D, 2, (8,), generator=gen()).double()
    model.save(tmp_path / "m.pt")
    loaded = VAE.load(tmp_path / "m.pt", map_location="cpu")
    assert loaded.prior_loc.dtype == torch.float64
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


_RAN = []


def _side_effect():
    _RAN.append("ran")
    return {}


class Payload:
    """Unpickling this calls _side_effect: what a malicious checkpoint would do."""

    def __reduce__(self):
        return (_side_effect, ())


def test_load_refuses_a_checkpoint_with_a_pickled_object(tmp_path, trained):
    path = tmp_path / "evil.pt"
    trained.save(path)
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["extra"] = Payload()
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match="pickled"):
        VAE.load(path)
    assert _RAN == []  # nothing was executed


def test_load_refuses_other_files(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="VAE.save"):
        VAE.load(tmp_path / "other.pt")


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


def test_bad_input_raises_clear_errors(trained, digits):
    x = digits.x_test[:4]
    with pytest.raises(ValueError, match="likelihood"):
        VAE(D, 2, likelihood="poisson")
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(D, 0)
    with pytest.raises(ValueError, match="obs_scale"):
        VAE(D, 2, obs_scale=0.1)
    with pytest.raises(ValueError, match=r"\[B, 64\]"):
        trained.elbo(x[:, :63])
    with pytest.raises(ValueError, match="unsqueeze"):
        trained.elbo(x[0])
    bad = x.clone()
    bad[1, 2] = float("nan")
    for fn in (trained.elbo, trained.encoder, trained.reconstruct, lambda v: evaluate(trained, v, 10)):
        with pytest.raises(ValueError, match="NaN"):
            fn(bad)
    with pytest.raises(ValueError, match="binarize"):
        trained.iwae(x * 0.5, 3)
    with pytest.raises(ValueError, match="latent_dim"):
        trained.likelihood(torch.zeros(2, DZ + 1))
    with pytest.raises(ValueError, match="method"):
        trained.interpolate(x[0], x[1], 5, "cubic")
    with pytest.raises(ValueError, match="steps"):
        trained.interpolate(x[0], x[1], 1)
    with pytest.raises(ValueError, match="one point"):
        trained.interpolate(x[:2], x[1], 5)


# ------------------------------------------------------------------------------------------
# CUDA
# ------------------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda(tmp_path, digits):
    model = VAE(D, 2, (16,), generator=gen()).to("cuda")
    assert model.prior().mean.device.type == "cuda"
    hist = train(model, digits.x_train[:128], 2, generator=gen(), x_valid=digits.x_test[:32], progress=False)
    assert len(hist["train"]) == 2
    train(model, DataLoader(TensorDataset(digits.x_train[:64]), batch_size=32), 1, progress=False)
    cuda_gen = torch.Generator(device="cuda").manual_seed(0)
    assert model.elbo(digits.x_test[:8], generator=cuda_gen).device.type == "cuda"
    assert model.sample(3, generator=gen()).device.type == "cuda"
    mean, _ = evaluate(model, digits.x_test[:20], 100, generator=gen())
    assert math.isfinite(mean)
    model.save(tmp_path / "m.pt")
    assert VAE.load(tmp_path / "m.pt", map_location="cuda").prior_loc.device.type == "cuda"


# ------------------------------------------------------------------------------------------
# loud failures
# ------------------------------------------------------------------------------------------


def test_a_diverging_run_raises_with_the_epoch_and_a_hint(digits):
    model = VAE(64, 2, generator=gen(5))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(FloatingPointError, match=r"diverged in epoch 1.*lr=0\.001") as info:
        train(model, digits.x_train, 3, lr=1e6, progress=False, generator=gen(6))
    assert info.value.history["train"] == []
    for k, v in model.state_dict().items():  # restored to the start of the diverging epoch
        torch.testing.assert_close(v, before[k])


def test_divergence_floor():
    from lvmlib.vae.training import _diverged
    assert not _diverged(-25.0, -20.0, 64)      # a bad epoch is not divergence
    assert not _diverged(-600.0, -20.0, 64)     # 580 nats down: still above best - 10 * 64
    assert _diverged(-700.0, -20.0, 64)
    assert _diverged(-7.7e28, -40.0, 64)


def test_empty_inputs_are_clear_errors(digits):
    model = VAE(64, 2)
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, digits.x_test[:0], 10)
    with pytest.raises(ValueError, match="x_valid is empty"):
        train(model, digits.x_train[:20], 1, x_valid=digits.x_test[:0], progress=False)
    with pytest.raises(ValueError, match="x_train is empty"):
        train(model, digits.x_train[:0], 1, progress=False)


# ------------------------------------------------------------------------------------------
# reliability (issue 24): atomic saves, history on interruption, safe loading, entry checks
# ------------------------------------------------------------------------------------------


def test_a_save_cut_short_keeps_the_previous_checkpoint(tmp_path, trained, monkeypatch):
    path = tmp_path / "model.pt"
    trained.save(path)
    before = path.read_bytes()

    def full_disk(obj, f, *args, **kwargs):
        handle = open(f, "wb") if isinstance(f, (str, os.PathLike)) else f
        handle.write(b"PK\x03\x04 half a checkpoint")
        handle.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        VAE(D, DZ, (32,)).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old checkpoint is whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no temp file left behind
    VAE.load(path)


def test_save_replaces_the_file_and_keeps_writing_to_file_objects(tmp_path, trained):
    path = tmp_path / "model.pt"
    VAE(D, DZ, (32,)).save(path)
    trained.save(str(path))
    assert torch.equal(VAE.load(path).state_dict()["decoder_net.0.weight"], trained.state_dict()["decoder_net.0.weight"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
    buffer = io.BytesIO()
    trained.save(buffer)
    buffer.seek(0)
    assert VAE.load(buffer).config == trained.config


class _Interrupted(Exception):
    pass


class _Loader:
    """A DataLoader stand-in: ``bad_epoch`` raises ``error`` in its second batch."""

    def __init__(self, x, bad_epoch, error):
        self.x, self.bad_epoch, self.error, self.epoch = x, bad_epoch, error, 0

    def __iter__(self):
        self.epoch += 1
        yield self.x[:32]
        if self.epoch == self.bad_epoch:
            raise self.error
        yield self.x[32:64]


@pytest.mark.parametrize("error", [KeyboardInterrupt(), _Interrupted("a corrupt image file")],
                         ids=["ctrl-c", "bad-batch"])
def test_an_interrupted_run_keeps_its_history_and_a_usable_model(digits, error):
    x = digits.x_train[:64]
    reference = VAE(D, 2, (16,), generator=gen())
    train(reference, _Loader(x, 0, None), 2, x_valid=x, generator=gen(), progress=False)  # epochs 1-2, whole
    model = VAE(D, 2, (16,), generator=gen())
    with pytest.raises(type(error)) as info:
        train(model, _Loader(x, 3, error), 10, x_valid=x, generator=gen(), progress=False)
    history = info.value.history
    assert history["epoch"] == [1, 2] and len(history["train"]) == 2 and len(history["valid"]) == 2
    for k, v in model.state_dict().items():  # the weights that history describes: after epoch 2
        assert torch.equal(v, reference.state_dict()[k]), k
    assert all(p.grad is None for p in model.parameters())
    assert torch.isfinite(model.elbo(x)).all()
    train(model, x, 1, progress=False)  # and it trains on


def test_a_bad_dataloader_batch_in_a_later_epoch_keeps_the_history(digits):
    x = digits.x_train[:64]

    class Loader(_Loader):
        def __iter__(self):
            self.epoch += 1
            yield self.x[:32]
            yield self.x[32:64, :10] if self.epoch == 2 else self.x[32:64]

    model = VAE(D, 2, (16,), generator=gen())
    with pytest.raises(ValueError, match="data_dim") as info:
        train(model, Loader(x, 0, None), 5, generator=gen(), progress=False)
    assert info.value.history["epoch"] == [1]


def test_train_checks_every_argument_before_the_first_epoch(digits):
    model = VAE(D, 2, (8,))
    x = digits.x_train[:16]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(TypeError, match="x_valid .*NumPy.*torch"):
        train(model, x, 1, x_valid=digits.x_test[:8].numpy(), progress=False)
    with pytest.raises(TypeError, match="x_train .*NumPy.*torch"):
        train(model, x.numpy(), 1, progress=False)
    for bad in (0, "cuda", np.random.default_rng(0)):
        with pytest.raises(TypeError, match="generator must be a torch.Generator"):
            train(model, x, 1, generator=bad, progress=False)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # nothing trained
    history = train(model, x, 1, lr=np.float32(1e-3), progress=False)  # a NumPy scalar is a number
    assert history["epoch"] == [1]
    with pytest.raises(ValueError, match="lr must be a positive number"):
        train(model, x, 1, lr=np.float64("nan"), progress=False)


def test_vae_methods_refuse_a_generator_that_is_not_one(trained, digits):
    from lvmlib.vae import MixturePrior
    from lvmlib.vae import evaluate_points

    x = digits.x_test[:4]
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        trained.elbo(x, generator=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        trained.sample(3, generator="cuda")
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        evaluate_points(trained, x, 10, generator=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        VAE(D, 2, (8,), generator=1)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        VAE(D, 2, (8,), prior=MixturePrior(3, 2)).sample(2, generator=0)


def _forge(path, trained, **config):
    ckpt = {"format": "lvmlib.vae.VAE", "version": 1, "config": {**trained.config, **config},
            "dtype": "float32", "state_dict": {k: v.clone() for k, v in trained.state_dict().items()}}
    torch.save(ckpt, path)


@pytest.mark.parametrize("hidden", [2**19, 2**40])
def test_a_forged_checkpoint_is_refused_before_any_network_is_built(tmp_path, trained, monkeypatch, hidden):
    import lvmlib.vae.model as vae_module

    built = []
    real_mlp = vae_module.mlp

    def recording_mlp(sizes, *args, **kwargs):
        built.append((torch.empty(0).device.type, list(sizes)))
        return real_mlp(sizes, *args, **kwargs)

    monkeypatch.setattr(vae_module, "mlp", recording_mlp)
    path = tmp_path / "forged.pt"
    _forge(path, trained, hidden=[hidden])
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match="forged.pt") as info:
        VAE.load(path)
    assert "shape" in str(info.value) and "hidden" in str(info.value)
    assert all(device == "meta" for device, _ in built), built  # no real weights were allocated


def test_a_checkpoint_whose_tensors_do_not_fit_its_config_is_named(tmp_path, trained):
    path = tmp_path / "mixed.pt"
    _forge(path, trained, latent_dim=DZ + 1)
    with pytest.raises(ValueError, match="mixed.pt.*shape"):
        VAE.load(path)
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["latent_dim"] = DZ
    del ckpt["state_dict"]["prior_loc"]
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match="mixed.pt.*prior_loc"):
        VAE.load(path)


@pytest.mark.parametrize("cut", ["empty", "half", "header"])
def test_a_truncated_or_empty_checkpoint_is_a_value_error_naming_the_file(tmp_path, trained, cut):
    whole = tmp_path / "whole.pt"
    trained.save(whole)
    raw = whole.read_bytes()
    path = tmp_path / f"{cut}.pt"
    path.write_bytes({"empty": b"", "half": raw[: len(raw) // 2], "header": raw[:30]}[cut])
    with pytest.raises(ValueError, match=f"{cut}.pt"):
        VAE.load(path)
    with pytest.raises(FileNotFoundError):
        VAE.load(tmp_path / "missing.pt")


def test_an_atomic_save_gives_the_file_the_usual_permissions(tmp_path, trained):
    path = tmp_path / "model.pt"
    trained.save(path)
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert path.stat().st_mode == plain.stat().st_mode


def test_an_empty_batch_in_the_middle_of_an_epoch_is_skipped_with_a_warning():
    """Issue 31: a loader's empty batch used to end train with an autograd RuntimeError naming neither."""
    import warnings

    from lvmlib.vae import VAE, train

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 6, generator=g) > 0.5).float()
    batches = [x[:16], x[:0], x[16:]]  # a DataLoader-like iterable with an empty batch in the middle
    model = VAE(6, 2, (8,), generator=torch.Generator().manual_seed(1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = train(model, batches, 2, generator=g, progress=False)
    assert len(history["train"]) == 2 and all(math.isfinite(v) for v in history["train"])
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any("empty batch" in str(w.message) for w in caught)
