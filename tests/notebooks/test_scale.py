"""The lecture's scale, one switch away (issue 27): notebook 07 runs on Fashion-MNIST through papermill.

Notebooks 02, 07, 08, 09 and 10 start with a ``parameters`` cell (papermill's convention: the cell tagged
``parameters``; papermill injects the new values right after it). This runs the stored student edition of 07
on a 5,000-image subset of Fashion-MNIST for 1 epoch, top to bottom, and fails on any error: the code must
hold at 28x28 as well as at 8x8. ``make gpu-check`` runs it on all 60,000 images. Needs Debian's
``dataset-fashion-mnist`` (CI installs it); skipped elsewhere with that hint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lvmlib import data

ROOT = Path(__file__).resolve().parents[2]
PARAMETERIZED = ("02_mixture_of_gaussians_em", "07_variational_autoencoder", "08_latent_interpolation",
                 "09_learning_with_the_elbo", "10_priors_and_labels")


@pytest.mark.parametrize("name", PARAMETERIZED)
@pytest.mark.parametrize("edition", ["", "solutions"])
def test_the_first_code_cell_after_the_install_cell_is_the_parameters_cell(name, edition):
    nb = json.loads((ROOT / "notebooks" / edition / f"{name}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    params = code[1]  # code[0] is the install cell
    assert "parameters" in params.get("metadata", {}).get("tags", []), "".join(params["source"])[:200]
    source = "".join(params["source"])
    assert 'dataset = "digits"' in source and "n_images = None" in source


@pytest.mark.slow
@pytest.mark.skipif(not data.FASHION_MNIST_DIR.is_dir() and not os.environ.get("CI"),
                    reason="needs Debian's Fashion-MNIST files: sudo apt-get install dataset-fashion-mnist")
def test_notebook_07_runs_on_fashion_mnist(tmp_path):
    import papermill as pm

    out = tmp_path / "07_fashion.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "07_variational_autoencoder.ipynb"), str(out),
                        parameters={"dataset": "fashion-mnist", "n_images": 5000, "epochs": 1},
                        kernel_name="python3", progress_bar=False, cwd=str(ROOT / "notebooks"))
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    shown = "".join(t for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                    for t in o.get("text", []))
    assert "Dataset('fashion-mnist': train (5000, 784), test (1250, 784), images 28x28" in shown
