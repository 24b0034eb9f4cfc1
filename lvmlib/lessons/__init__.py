"""The lessons: one module per notebook (``nb01`` ... ``nb10``; ``nb02`` is a package with its EM
path, choosing K and digits experiment, ``nb03`` one with its enumeration timing), holding that notebook's problems, experiments, apps and figures, plus what several lessons share (``toy``: the slider grids of notebooks
05-06, whose toy problem is :mod:`lvmlib.models.toy`).

A lesson module computes nothing a closed-form test would check: that math lives in the families
(:mod:`lvmlib.models`, :mod:`lvmlib.inference`, :mod:`lvmlib.mixtures`, :mod:`lvmlib.vae`).  Each
``nbNN`` has ``examples()`` yielding ``(name, app)`` as its notebook builds them (the slider tests
and benchmark use it).  :data:`NOTEBOOK_MODULES` is found from the files, not kept by hand.
"""

import pkgutil
import re

NOTEBOOK_MODULES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"nb\d\d", m.name)))

__all__ = ["NOTEBOOK_MODULES"]
