"""The report for the partnership: a self-contained HTML page, a workbook and CSV tables.

:func:`write_report` analyses a release and writes the whole bundle, with a manifest of every
output's disclosure status and checksum; :func:`write_analysis` writes it for an analysis
already made.
"""

from linkwell.report.bundle import (
    OutputRecord,
    OutputStatus,
    ReportBundle,
    write_analysis,
    write_report,
)

__all__ = ["OutputRecord", "OutputStatus", "ReportBundle", "write_analysis", "write_report"]
