"""The ``linkwell`` command line: thin commands over the library, one module per area."""

from linkwell.cli._app import main
from linkwell.cli.data import ids, validate

main.add_command(validate)
main.add_command(ids)

__all__ = ["main"]
