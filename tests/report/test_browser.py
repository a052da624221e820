"""The report in headless Chromium: every chart renders, no console error, nothing fetched.

Chromium is Debian's (installed by ``.ci/sysdeps``), driven by Playwright with no browser
download; a full-page screenshot is written under the test's temporary directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from linkwell.report import ReportBundle

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.browser
def test_report_renders_in_chromium(bundle: ReportBundle, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run `make sysdeps` (.ci/sysdeps installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    page_copy = tmp_path / "report.html"
    shutil.copy(bundle.html, page_copy)
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_copy.as_uri(), wait_until="load")
            page.evaluate(
                "document.querySelectorAll('details')"
                ".forEach(d => { if (d.querySelector('svg')) d.open = true; })"
            )
            sizes = page.evaluate(
                "Array.from(document.querySelectorAll('svg')).map(s => {"
                " const b = s.getBoundingClientRect();"
                " return [s.id || s.getAttribute('aria-labelledby'),"
                " b.width, b.height, s.querySelectorAll('rect,circle,line').length]; })"
            )
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert requests == [page_copy.as_uri()]
    assert len(sizes) >= 4
    for label, width, height, marks in sizes:
        assert width > 100, label
        assert height > 50, label
        assert marks > 3, label
    assert screenshot.stat().st_size > 10_000
