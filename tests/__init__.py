"""The test suite: a package, so its helpers are ``tests.hosted_env`` and ``tests.notebook_checks``."""
