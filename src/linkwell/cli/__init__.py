"""The ``linkwell`` command line: thin commands over the library, one module per area."""

from linkwell.cli._app import main
from linkwell.cli.audit import audit

main.add_command(audit)

__all__ = ["main"]
