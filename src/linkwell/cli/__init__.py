"""The ``linkwell`` command line: thin commands over the library, one module per area."""

from linkwell.cli._app import main

__all__ = ["main"]
