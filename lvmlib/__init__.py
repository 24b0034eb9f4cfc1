"""lvmlib: the algorithms behind the latent-variable-model notebooks.

One module per concept (see ``DESIGN.md``): ``device``, ``data``, ``models``, ``gmm``,
``estimators``, ``vae``, ``plotting``, ``widgets``.  Import the submodules explicitly,
e.g. ``from lvmlib.mixtures import GaussianMixture``.
"""

from lvmlib.data import load_dataset
from lvmlib.device import get_device, set_seed

__all__ = ["get_device", "set_seed", "load_dataset"]

_SUBMODULES = ("plotting",)  # reachable as lvmlib.<name> after `import lvmlib`, loaded on first use


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"lvmlib.{name}")
    raise AttributeError(f"module 'lvmlib' has no attribute {name!r}")
__version__ = "0.1.0"
