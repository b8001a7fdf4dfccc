"""``python -m smoothcert`` is the ``smoothcert`` command."""

from .cli import main

raise SystemExit(main())
