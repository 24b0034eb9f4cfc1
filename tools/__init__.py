"""The repository's tools (not part of the installed ``lvmlib``): the notebook builder, nbval's plugins, the
nbgrader course and class, the grades report, the GPU check, the site, and the JupyterLab browser driver.

A package so that tests and benchmarks import them as ``tools.X`` (pytest puts the repository root on
``sys.path`` through the root ``conftest.py``; ``python -m benchmarks.X`` runs from the root).  Each command
still runs as ``python tools/X.py`` from the root: a tool that needs a sibling imports ``tools.Y`` and,
run as a script (its folder, not the root, on ``sys.path``), the sibling ``Y`` directly.
"""
