"""The ``linkwell`` command line: thin commands over the library, one module per area."""

from linkwell.cli._app import main
from linkwell.cli.audit import audit
from linkwell.cli.data import ids, validate
from linkwell.cli.keys import keys
from linkwell.cli.package import package
from linkwell.cli.synth import synth
from linkwell.cli.transport import transport

for _command in (audit, ids, keys, package, synth, transport, validate):
    main.add_command(_command)

__all__ = ["main"]
