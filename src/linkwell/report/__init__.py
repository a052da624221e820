"""The report for the partnership: a self-contained HTML page, a workbook and CSV tables.

:func:`write_report` analyses a release and writes the whole bundle, with a manifest of every
output's disclosure status and checksum; :func:`write_analysis` writes it for an analysis
already made. Names are imported on first use: the process that writes a national release's
workbook loads only the module it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkwell._exports import on_first_use

if TYPE_CHECKING:
    from linkwell.report.bundle import (
        OutputRecord,
        OutputStatus,
        ReportBundle,
        write_analysis,
        write_report,
    )

__all__ = ["OutputRecord", "OutputStatus", "ReportBundle", "write_analysis", "write_report"]

__getattr__ = on_first_use(__name__, dict.fromkeys(__all__, "linkwell.report.bundle"))


def __dir__() -> list[str]:
    return sorted(__all__)
