"""Every public lvmlib function and class points back to the notebook that teaches it (issue 29, the way d2l's
library functions say where they are defined), and the pointer stays true as notebooks change."""

from __future__ import annotations

from tools import taught_in


def _taught_in():
    return taught_in


def test_every_docstring_points_to_the_notebooks_that_use_it():
    """``python tools/taught_in.py`` rewrites the lines; ``--check`` lists any that a notebook change made stale."""
    assert _taught_in().main(["--check"]) == 0, "run: python tools/taught_in.py (then review the diff)"


def test_what_counts_as_a_use():
    t = _taught_in()
    used = t._names("from lvmlib.vae import train, VAE as V\nx = inference.elbo(1)\naccuracy = {}\n"
                    "# lvmlib.vae.MixturePrior is the module\ns = 'slerp(a, b)'\n")
    assert {"train", "VAE", "elbo", "MixturePrior"} <= used
    assert not {"accuracy", "slerp", "x", "s"} & used  # a local variable or a string is not a use
    code = {"04": ("Naive Monte Carlo", {"log_weights"}), "05": ("Importance sampling", {"log_weights"}),
            "10": ("Priors and labels", {"importance_sampling"})}
    assert t.pointer("log_weights", code) == "Taught in notebook 04 (Naive Monte Carlo); also used in 05."
    assert t.pointer("importance_sampling", code).startswith("Taught in notebook 05 (Importance sampling)")
    assert t.pointer("nowhere", code) is None
    import lvmlib.inference as inference
    assert "Taught in notebook 05 (Importance sampling); also used in 10." in inference.importance_sampling.__doc__
