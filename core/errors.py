"""The one exception type for bad user input.

``BadInput`` subclasses ``ValueError``, so every caller that expects the library's documented
``ValueError`` on bad input still catches it. The command line (``cli.main``) turns only this
class (and argparse's own usage errors) into exit status 2 with a one-line message; any other
exception below it is a bug and surfaces with its traceback. Pure Python: no imports, so any
layer may raise it.
"""

from __future__ import annotations


class BadInput(ValueError):
    """A value given by the user is invalid; the message names the argument and the value."""


__all__ = ["BadInput"]
