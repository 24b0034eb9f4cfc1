"""Shared fixtures of the test suite (the repository-wide set-up is the root ``conftest.py``)."""

import pytest


@pytest.fixture(scope="session")
def colab_runs(tmp_path_factory):
    """``colab_runs(name)``: the stored student notebook ``notebooks/<name>.ipynb`` run in the Colab-like venv
    through its own install cell (``hosted_env.colab_run``), once per session; lvmlib's wheel built once."""
    from tests.packaging import hosted_env

    done, wheel = {}, []

    def run(name: str) -> "hosted_env.ColabRun":
        if name not in done:
            if not wheel:
                wheel.append(hosted_env.build_dist(tmp_path_factory.mktemp("dist"), sdist=False))
            done[name] = hosted_env.colab_run(hosted_env.ROOT / "notebooks" / f"{name}.ipynb", wheel[0],
                                              tmp_path_factory.mktemp(f"colab-{name}"))
        return done[name]

    return run
