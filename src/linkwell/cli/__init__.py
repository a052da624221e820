"""The ``linkwell`` command line: thin commands over the library, one module per area."""

from linkwell.cli._app import main
from linkwell.cli.analyst import analyst
from linkwell.cli.audit import audit
from linkwell.cli.data import ids, validate
from linkwell.cli.demo import demo, verify_separation_command
from linkwell.cli.exchange import receive, send
from linkwell.cli.indexer import indexer
from linkwell.cli.keys import keys
from linkwell.cli.linker import linker
from linkwell.cli.package import package
from linkwell.cli.provider import provider
from linkwell.cli.report import report
from linkwell.cli.synth import synth
from linkwell.cli.transport import transport
from linkwell.cli.workspace import workspace

for _command in (
    analyst, audit, demo, ids, indexer, keys, linker, package, provider, receive, report, send,
    synth, transport, validate, verify_separation_command, workspace,
):  # fmt: skip
    main.add_command(_command)

__all__ = ["main"]
