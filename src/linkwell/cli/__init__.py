"""The ``linkwell`` command line: thin commands over the library, one module per area."""

from linkwell.cli._app import main
from linkwell.cli.report import report

main.add_command(report)

__all__ = ["main"]
