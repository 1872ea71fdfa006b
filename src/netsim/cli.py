"""The ``netsim`` command line: parse, call one library function, print.

Every :class:`netsim.errors.NetsimError` is printed as a single line on
stderr (``error: ...``) with exit status 2; no traceback is shown.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from netsim import __version__
from netsim.errors import NetsimError

app = typer.Typer(
    name="netsim",
    help="Simulate changes to Beijing's air-quality monitoring network: kriged maps, "
    "GB 3095 / HJ 663 / HJ 633 statistics and scenario runs against a synthetic truth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"netsim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """netsim: monitoring-network simulator."""


# --- command: krige ---
# --- command: stats ---
# --- command: schema / run ---
# --- command: map ---
# --- command: sweep ---


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn :class:`NetsimError` into a one-line message and exit status 2."""
    try:
        app(args=argv, standalone_mode=False)
    except NetsimError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except FileNotFoundError as exc:
        err_console.print(f"[bold red]error:[/] {exc.filename or exc}: file not found", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted; no partial output was left behind", soft_wrap=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
