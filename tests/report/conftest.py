"""A report written once per session from the synthetic release, shared by the read-only tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkwell.analysis import Analysis, analyse
from linkwell.config import DisclosurePolicy
from linkwell.report import ReportBundle, write_analysis
from tests.analysis.conftest import make_release


@pytest.fixture(scope="session")
def report_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weighted release of 3,000 children in 12 schools, two authorities."""
    return make_release(
        tmp_path_factory.mktemp("report-release") / "release.parquet", 3000, seed=7, weighted=True
    )


@pytest.fixture(scope="session")
def report_analysis(report_release: Path) -> Analysis:
    return analyse(report_release, DisclosurePolicy())


@pytest.fixture(scope="session")
def bundle(report_analysis: Analysis, tmp_path_factory: pytest.TempPathFactory) -> ReportBundle:
    out = tmp_path_factory.mktemp("report") / "out"
    return write_analysis(
        report_analysis,
        out,
        project_digest="f" * 64,
        disclosure_log=out.with_name("disclosure-log.csv"),
    )
