"""lvmlib: the algorithms behind the latent-variable-model notebooks.

One module per concept (see ``DESIGN.md``): ``device``, ``data``, ``models``, ``gmm``,
``estimators``, ``vae``, ``plotting``, ``widgets``.  Import the submodules explicitly,
e.g. ``from lvmlib.gmm import GaussianMixture``.
"""

from lvmlib.data import load_dataset
from lvmlib.device import get_device, set_seed

__all__ = ["get_device", "set_seed", "load_dataset"]
__version__ = "0.1.0"
