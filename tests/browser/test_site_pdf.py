"""``make pdf``: the course as one PDF (``tools/site.py --pdf``), printed offline by Chromium from
the site's single-page build.  It exists, has every notebook's title, slider apps as strips of
recorded positions, and no blank page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.test_site import ROOT, site_module

pytestmark = pytest.mark.browser


def test_course_pdf(tmp_path, chromium):  # chromium: skips (or fails in CI) where there is no browser
    pypdf = pytest.importorskip("pypdf")
    notebooks = Path(os.environ.get("LVMLIB_SITE_NOTEBOOKS", ROOT / "notebooks"))
    site = site_module()
    pdf = site.build_pdf(notebooks, tmp_path / "course.pdf", browser=chromium)
    assert pdf.exists() and pdf.stat().st_size > 10_000
    reader = pypdf.PdfReader(str(pdf))
    texts = [page.extract_text() or "" for page in reader.pages]
    blank = [i + 1 for i, page in enumerate(reader.pages) if not texts[i].strip() and not page.images]
    assert not blank, f"blank pages: {blank}"
    whole = " ".join(" ".join(t.split()) for t in texts)
    import nbformat

    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        title = site.title_of(nbformat.read(path, as_version=4), path.stem)
        head = " ".join(title.split())[:30]
        assert head in whole, f"the PDF lacks the title of {path.name}: {title!r}"
    assert "recorded positions" in whole, "no slider app printed as a strip of recorded positions"
