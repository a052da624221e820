from __future__ import annotations

import pytest
from rich.table import Table

from linkwell.cli._messages import console


def test_output_in_a_pipe_keeps_whole_labels(capsys: pytest.CaptureFixture[str]) -> None:
    """Rich takes 80 columns without a terminal, which cut a counts table's headers to 'inval…'."""
    headers = ["source", "rows", "invalid-id", "duplicate", "keyed", "withheld-not-participant",
               "withheld-survey-excluded", "matched", "survey-only"]  # fmt: skip
    table = Table(*headers)
    table.add_row("authority-s12000047", *(f"{n:,}" for n in range(100_000, 100_008)))
    out = console()
    assert not out.is_terminal  # pytest captures it, as a pipe would
    out.print(table)
    printed = capsys.readouterr().out
    assert "…" not in printed
    assert all(header in printed for header in headers)
