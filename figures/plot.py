"""Shared matplotlib plumbing of the figures: pyplot-free figures and atomic PNG/PDF/text writes.

Every ``*_figure`` function of :mod:`smoothcert.figures` builds its
:class:`matplotlib.figure.Figure` with :func:`new_figure` (no pyplot, so no GUI backend is ever
touched) and, given ``path=``, writes ``path.png`` and ``path.pdf`` atomically through
:func:`finish` (a temporary file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

from pathlib import Path

from ..core.atomic import atomic_path, atomic_write_text

#: Figure width for a single paper column is about 3.3 in; two-column figures use 6.8 in.
ONE_COLUMN, TWO_COLUMN = (4.2, 3.2), (8.4, 3.4)


def new_figure(size=ONE_COLUMN, ncols: int = 1):
    """A pyplot-free Figure with ``ncols`` axes (the Agg canvas is attached by ``savefig``)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def save_figure(fig, path, formats=("png", "pdf"), dpi: int = 200) -> list[Path]:
    """Write ``path.png`` and ``path.pdf`` (a .png/.pdf suffix of ``path`` is dropped) atomically,
    so no half-written file is ever left."""
    base = Path(path)
    if base.suffix.lower() in (".png", ".pdf"):
        base = base.with_suffix("")
    written = []
    for ext in formats:
        target = base.with_name(f"{base.name}.{ext}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi)
        written.append(target)
    return written


def save_text(path, text: str) -> Path:
    """Write a table (or any text) atomically."""
    atomic_write_text(path, text)
    return Path(path)


def finish(fig, path):
    """``fig``, written to ``path`` (PNG + PDF, :func:`save_figure`) when a path is given."""
    if path is not None:
        save_figure(fig, path)
    return fig

