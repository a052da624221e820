"""The root ``linkwell`` command and the one error boundary every command runs inside.

Commands parse options, call one library function and render its result. Errors arrive here:
a :class:`~linkwell.errors.LinkwellError` is printed as one clear line (no traceback) and exits
with its class's code; anything else is a bug in linkwell and says so. Only the command line
configures logging and draws progress bars.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from linkwell import __version__
from linkwell.cli._messages import console
from linkwell.errors import InternalError, LinkwellError

__all__ = ["LinkwellGroup", "main", "stderr"]

stderr = console(stderr=True)


class LinkwellGroup(click.Group):
    """A click group that turns linkwell's errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:  # noqa: ANN401
        """Run the command, translating errors at the boundary."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except LinkwellError as exc:
            stderr.print("[bold red]error:[/] ", end="")
            stderr.print(str(exc), markup=False)
            ctx.exit(exc.exit_code)
        except Exception as exc:
            if ctx.find_root().params.get("debug"):
                raise
            bug = InternalError(f"unexpected {type(exc).__name__}")
            stderr.print("[bold red]error:[/] ", end="")
            stderr.print(str(bug), markup=False)
            ctx.exit(bug.exit_code)


@click.group(cls=LinkwellGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="linkwell")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option("--debug", is_flag=True, help="Show a traceback for unexpected errors.")
def main(verbose: int, debug: bool) -> None:  # noqa: FBT001
    """Link survey answers to service data without any party holding both.

    \b
    Quick start:
      linkwell demo --out demo-output       the whole five-party flow on synthetic data
      linkwell synth --children 5000 --out area/
      linkwell validate area/secondary.csv --dataset survey-secondary \\
          --mapping area/mapping.toml --source secondary --out checked/

    Each party runs its own commands in its own workspace; see docs/ for the guide per role.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _ = debug
