"""tools/gpu_check.py (``make gpu-check``) here, on the CPU: small notebooks, its table, its refusals."""

from __future__ import annotations

import nbformat
import pytest

from tests.packaging.hosted_env import ROOT

from tools import gpu_check


def _notebook(path, *cells, parameters=None):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def test_runs_notebooks_on_the_device_and_tables_their_errors(tmp_path, capsys):
    good = _notebook(tmp_path / "01_good.ipynb", "from lvmlib.device import get_device\nprint(get_device())")
    bad = _notebook(tmp_path / "02_bad.ipynb", "x = 1", "raise ValueError('on purpose')", "print('never')")
    out = tmp_path / "out"
    status = gpu_check.main(["--device", "cpu", "--paths", str(good), str(bad), "--out", str(out), "--jobs", "2"])
    printed = capsys.readouterr().out
    assert status == 1, "an error anywhere fails the check"
    rows = {line.split()[0]: line for line in printed.splitlines() if line.startswith(("01_", "02_"))}
    assert rows["01_good"].split()[1] == "student" and rows["01_good"].split()[3:] == ["-", "0"]
    assert rows["02_bad"].split()[4:] == ["1:", "ValueError:", "on", "purpose"]
    executed = nbformat.read(out / "01_good.student.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "cpu", "LVMLIB_DEVICE reached the kernel"
    assert "wall clock; 1 with errors" in printed
    assert nbformat.read(good, as_version=4).cells[0].outputs == [], "the notebook run is not written over"


def test_parameters_are_injected_after_the_parameters_cell(tmp_path):
    nb = _notebook(tmp_path / "07_p.ipynb", "print(dataset, n_images, epochs)",
                   parameters='dataset = "digits"\nn_images = 500\nepochs = 3')
    row = gpu_check.run_notebook(nb, tmp_path / "out", "cpu", {"dataset": "fashion-mnist", "n_images": None})
    assert row.errors == [] and row.notebook == "07_p dataset='fashion-mnist', n_images=None"
    executed = nbformat.read(tmp_path / "out" / "07_p.student.full.ipynb", as_version=4)
    assert executed.cells[1].metadata["tags"] == ["injected-parameters"]
    assert executed.cells[2].outputs[0]["text"].strip() == "fashion-mnist None 3"


def test_a_parameter_the_notebook_does_not_have_is_an_error(tmp_path):
    nb = _notebook(tmp_path / "07_p.ipynb", "print(dataset)", parameters='dataset = "digits"')
    row = gpu_check.run_notebook(nb, tmp_path / "out", "cpu", {"dataset": "mnist", "n_images": None})
    assert row.errors == ["ValueError: the parameters cell does not assign ['n_images']; it assigns ['dataset']"]
    with pytest.raises(ValueError, match="no code cell tagged 'parameters'"):
        gpu_check.inject_parameters(nbformat.v4.new_notebook(), {"dataset": "mnist"})


def test_full_scale_names_parameters_the_notebooks_have():
    """FULL_SCALE's notebooks exist and their parameters cell (tools/notebook_src) assigns every name it sets."""
    from tools import nbbuild

    for stem, (_, parameters) in gpu_check.FULL_SCALE.items():
        nb = nbbuild.parse((ROOT / "tools" / "notebook_src" / f"{stem}.py").read_text(), "solutions", name=stem)
        gpu_check.inject_parameters(nb, parameters)  # raises on a name the cell does not assign
        assert (ROOT / "notebooks" / "solutions" / f"{stem}.ipynb").exists()


def test_cuda_is_refused_clearly_where_there_is_none(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert gpu_check.main(["--device", "cuda", "--notebooks", "01"]) == 2
    err = capsys.readouterr().err
    assert "sees no CUDA device" in err and "--device cpu" in err


def test_the_stored_cpu_time_comes_from_the_notebook(tmp_path):
    """The 'stored' column: the seconds nbclient recorded for each cell when the notebook was executed."""
    nb = nbformat.read(_notebook(tmp_path / "03_t.ipynb", "print(1)", "print(2)"), as_version=4)
    for cell, (a, b) in zip(nb.cells, [("00.000", "01.500"), ("02.000", "04.250")]):
        cell.metadata["execution"] = {"iopub.execute_input": f"2026-01-01T00:00:{a}Z",
                                      "shell.execute_reply": f"2026-01-01T00:00:{b}Z"}
    assert gpu_check.recorded_seconds(nb) == pytest.approx(3.75)
    assert gpu_check.recorded_seconds(nbformat.v4.new_notebook()) is None
    stored = nbformat.read(ROOT / "notebooks" / "01_latent_variable_models.ipynb", as_version=4)
    assert gpu_check.recorded_seconds(stored) > 0, "the stored notebooks carry their cells' timings"
