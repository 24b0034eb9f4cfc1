"""The test suite, laid out like the package (tests/mixtures/ for lvmlib.mixtures, ...; core/ for the top-level
modules, notebooks/ for the notebooks and their builder, packaging/ for what a release and a hosted kernel get,
browser/ for a real browser).  Shared fixtures: tests/conftest.py; the repository-wide set-up: the root conftest.py."""
