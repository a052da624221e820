"""The ``linkwell`` command line: thin commands over the library, one module per area."""

from linkwell.cli._app import main
from linkwell.cli.keys import keys
from linkwell.cli.package import package

main.add_command(keys)
main.add_command(package)

__all__ = ["main"]
