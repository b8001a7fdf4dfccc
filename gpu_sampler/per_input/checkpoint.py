"""Resumable per-input results: a small atomic ``.npz`` store of the parameters an expensive
per-input optimization chose (data-dependent sigma, ANCER) and of per-input certification counts,
so that an interrupted run resumes where it stopped instead of recomputing finished inputs.
"""

from __future__ import annotations

import os

import numpy as np

from ...core.atomic import atomic_path


class ParameterCheckpoint:
    """Per-input results of a long optimization, saved after every input (atomic ``.npz``).

    ``done(i)`` tells whether input ``i`` was finished in an earlier run; ``get(i)`` returns its
    arrays; ``put(i, **arrays)`` stores them and rewrites the file through ``os.replace``.
    ``path=None`` keeps everything in memory (no resume).
    """

    def __init__(self, path=None):
        self.path = None if path is None else os.fspath(path)
        self._data: dict[str, np.ndarray] = {}
        if self.path is not None and os.path.exists(self.path):
            with np.load(self.path, allow_pickle=False) as z:
                self._data = {k: z[k] for k in z.files}

    def done(self, index: int) -> bool:
        return any(k.startswith(f"{int(index)}/") for k in self._data)

    def get(self, index: int) -> dict:
        pre = f"{int(index)}/"
        return {k[len(pre):]: v for k, v in self._data.items() if k.startswith(pre)}

    def put(self, index: int, **arrays) -> None:
        for k, v in arrays.items():
            self._data[f"{int(index)}/{k}"] = np.asarray(v)
        if self.path is None:
            return
        with atomic_path(self.path, suffix=".npz") as tmp:
            np.savez(tmp, **self._data)


__all__ = ["ParameterCheckpoint"]
