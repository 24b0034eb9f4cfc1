"""What an import costs: notebooks that never fit a mixture do not load scikit-learn.

Each import runs in a fresh interpreter (a subprocess), since this process has long loaded
everything.  scikit-learn takes about a second to import; ``lvmlib.mixtures`` loads its
estimators (the only users of scikit-learn at import time) on first use.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(statement: str) -> set[str]:
    """Top-level package names in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = f"import sys\n{statement}\nprint(' '.join(sorted({{m.partition('.')[0] for m in sys.modules}})))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


@pytest.mark.parametrize("statement", [
    "import lvmlib",
    "import lvmlib.exercises",
    "from lvmlib.mixtures import reference",
])
def test_import_does_not_load_scikit_learn(statement):
    loaded = _loaded_after(statement)
    assert "lvmlib" in loaded
    assert "sklearn" not in loaded, (
        f"`{statement}` imports scikit-learn (about 1 s in every notebook); find who with "
        f"`python -X importtime -c '{statement}' 2>&1 | grep -B30 sklearn` and import it inside the function that needs it")


def test_the_estimators_still_load_scikit_learn():
    """The check above can fail: the same probe sees scikit-learn once an estimator is imported."""
    assert "sklearn" in _loaded_after("from lvmlib.mixtures import GaussianMixture")
