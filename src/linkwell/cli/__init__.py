"""The ``linkwell`` command line: thin commands over the library, one module per area."""

from linkwell.cli._app import main
from linkwell.cli.synth import synth

main.add_command(synth)

__all__ = ["main"]
