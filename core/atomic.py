"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A reader never sees a half-written file, and a failed write leaves neither a partial target nor a
stray temporary file. Standard library only. It lives in ``bounds`` (whose radius tables are saved
through it) in ``core``, the bottom layer that every writer (bounds' radius tables, verify,
gpu_sampler, figures, the CLI, benchmarks) may import (docs/contributing.md, Layers).
"""

from __future__ import annotations

import contextlib
import os
import tempfile

#: Mode of the written files. ``mkstemp`` creates 0600; results and checkpoints are shared.
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """Yield a temporary path next to ``path``; move it onto ``path`` when the block succeeds.

    The folder of ``path`` is created when missing. The temporary file is named
    ``.<name>.<random><suffix>`` (hidden); pass the target's extension as ``suffix`` for writers
    that infer the format from it (``np.savez`` appends ``.npz`` otherwise, ``savefig`` reads the
    format from it). On any exception the temporary file is removed and the exception re-raised.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=suffix)
    os.close(fd)
    try:
        os.chmod(tmp, FILE_MODE)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write(text)
