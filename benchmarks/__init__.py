"""The benchmarks (not tests: nothing here asserts on time).  Run one from the repository root as
``python -m benchmarks.bench_<name>`` (``make bench`` runs them all so), which puts the root first on
``sys.path``: this checkout's ``lvmlib`` and ``tools`` are the ones imported.  Results: benchmarks/README.md."""
