"""Fixtures for the JupyterLab browser test: one Chromium and one JupyterLab server for the module
(torn down before nbval runs the notebooks, so they do not hold memory meanwhile).

Where Chromium or Playwright is missing the tests are skipped with how to get them, except
when the environment variable ``CI`` is set: there a missing browser is a failure.
"""

import pytest

from tools import labdriver


def _unavailable(message: str):
    if labdriver.in_ci():
        pytest.fail(f"{message} (CI is set, so the browser test must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (the OS's), driven by Playwright."""
    missing = None
    try:
        sync_playwright = labdriver.import_playwright()
        executable = labdriver.find_chromium()
    except labdriver.BrowserMissing as err:
        missing = str(err)
    if missing:  # outside the except block: no chained traceback in the report
        _unavailable(missing)
    with sync_playwright() as pw:
        browser = labdriver.launch_browser(pw, executable)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def lab(chromium):
    """JupyterLab serving a throw-away copy of notebooks/ (started only once a browser is there)."""
    with labdriver.LabServer() as server:
        yield server
