"""The ``linkwell`` command line: thin commands over the library, one module per area."""

from linkwell.cli._app import main
from linkwell.cli.transport import transport

main.add_command(transport)

__all__ = ["main"]
