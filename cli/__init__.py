"""The ``smoothcert`` command line.

Subcommands: ``list``, ``radius``, ``certify``, ``verify``, ``figures``, ``demo`` (one module
each; ``common`` holds the shared checks). Each has ``--help`` with examples. Exit codes: 0
success, 1 a check failed (``verify``), 2 bad usage or bad input (a one-line message says what to
fix). Options are validated at the boundary, and a bad value raises
:class:`~smoothcert.core.errors.BadInput`; ``main`` turns only that into exit 2, so any other
exception is a bug and surfaces with its traceback (exit 1). Heavy parts (torch, matplotlib) are
imported only by the subcommands that need them, so ``list`` and ``radius`` work with the core
install alone.
"""

from __future__ import annotations

import argparse
import sys

from ..core.errors import BadInput
from .certify import add_certify
from .common import EXIT_USAGE, Formatter
from .demo import add_demo
from .figures import add_figures
from .radius import add_list, add_radius
from .verify import add_verify


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smoothcert",
        formatter_class=Formatter,
        description="Randomized-smoothing certificates: radii, certification, verification, figures.",
        epilog="Run 'smoothcert COMMAND --help' for the options and examples of each command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (add_list, add_radius, add_certify, add_verify, add_figures, add_demo):
        add(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except BadInput as exc:
        print(f"smoothcert {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
