"""Sound lookup tables p_a -> certified radius for the Zhang et al. 2020 radial certificates.

The quadrature radius costs a search per input; a table built once per parameter set is then a
binary search. :class:`RadiusTable` is sound by construction: each entry is a certified pair
(p_j, r_j) -- r_j is certified at every p_a >= p_j (the dual bound grows with p_a, Zhang et al.
2020 Eq. 6) -- and a lookup returns the radius of the largest p_j <= p_a. Tables are saved
atomically (:mod:`smoothcert.core.atomic`) with their parameters, and ``load`` refuses a table
built for other parameters. :class:`TableMixin` gives the engine (:mod:`.engine`) its
``radius_table`` method.
"""

from __future__ import annotations

import os

import numpy as np

from ...core.atomic import atomic_path
from ...core.checks import check_int, check_probability
from ...core.rounding import EPS, as_output


class TableMixin:
    """``radius_table`` for :class:`.engine.FunctionalCertificate` (uses its ``_search``,
    ``_tails_at`` and ``_gap_guess``)."""

    def radius_table(self, p_grid=None, n: int = 1000, progress: bool = False):
        """A :class:`RadiusTable` for the binary radius (p_b = 1 - p_a).

        Default: n radii r_j geometrically spaced from 1e-3 of the radius at p_a = 1 - 1e-15 up
        to 1.25 times it (a lookup then loses at most 0.7% of the radius at n = 1000); for each, the
        smallest p_a certified at r_j, p_j = an upper bound on P(Lambda < x_j) with x_j minus a
        lower bound on the median of Lambda (then L(p, r_j) >= P(Lambda > -x_j) > 1/2 for every
        p >= p_j). With ``p_grid``: the radius at each grid value (slow path, one radius each).
        """
        if p_grid is not None:
            grid = np.sort(check_probability("p_grid", p_grid).ravel())
            radii = np.maximum.accumulate(self.radius(grid)) if grid.size else grid
            return RadiusTable(self.name, self.params, grid, radii)
        n = check_int("n", n, minimum=1)
        rt_max = 1.25 * self._gap_guess(1 - 1e-15, None)
        rts = rt_max * np.geomspace(1e-3, 1.0, n)
        ps = np.empty(n)
        self._memo = {}
        it = rts
        if progress:
            from tqdm import tqdm

            it = tqdm(rts, desc=f"{self.name} table")
        for j, rt in enumerate(it):
            ps[j] = self._p_certified(float(rt))
        keep = ps <= 1.0
        p_thr = np.minimum.accumulate(ps[keep][::-1])[::-1]
        radii = np.nextafter(rts[keep] * self.scale, 0.0)
        return RadiusTable(self.name, self.params, p_thr, radii)

    def _p_certified(self, rt):
        """Smallest p (an upper bound) with L(p, rt) > 1/2 by the construction of radius_table."""
        half = 0.5 + 1e-12
        y, _ = self._search(1.0 - half, half, rt)  # sf_lo(y) >= 1/2 + 1e-12
        if y is None:
            return np.inf
        t = self._tails_at(rt, [-y])[0]
        return t.cdf_hi() * (1 + 4 * EPS)




class RadiusTable:
    """Sound monotone lookup table p_a -> certified radius for one certificate and parameter set.

    ``lookup(p_a)`` returns the radius of the largest table point p_j <= p_a (0.0 below the first,
    inf at p_a = 1 where the theorem certifies everything): every returned radius is certified
    at p_j and therefore at any larger p_a. ``save``/``load`` use a .npz holding the parameters;
    ``load`` refuses a table built for other parameters.
    """

    def __init__(self, name, params, p_thresholds, radii):
        self.name = str(name)
        self.params = {k: (float(v) if not isinstance(v, int) else v) for k, v in params.items()}
        self.p = np.asarray(p_thresholds, float)
        self.r = np.asarray(radii, float)
        if self.p.shape != self.r.shape or np.any(np.diff(self.p) < 0) or np.any(np.diff(self.r) < 0):
            raise ValueError("p_thresholds and radii must be non-decreasing arrays of the same shape")

    def __len__(self):
        return self.p.size

    def lookup(self, p_a):
        """The radius certified at the largest table point <= p_a (p_a rounded down: a lookup
        never uses a point above the exact input)."""
        pa = check_probability("p_a", p_a, "down")
        idx = np.searchsorted(self.p, pa, side="right") - 1
        out = np.where(idx >= 0, self.r[np.clip(idx, 0, None)] if self.r.size else 0.0, 0.0)
        out = np.where(pa == 1.0, np.inf, np.where(pa <= 0.5, 0.0, out))
        return as_output(out, pa.ndim == 0)

    __call__ = lookup

    def save(self, path):
        """Write the table atomically (temporary file + os.replace)."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        keys = sorted(self.params)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, name=self.name, keys=np.array(keys),
                     values=np.array([float(self.params[k]) for k in keys]), p=self.p, r=self.r)
        return path

    @classmethod
    def load(cls, path, cert=None, **params):
        """Read a table; with ``cert`` (or name/params) it must match or ValueError is raised."""
        with np.load(os.fspath(path), allow_pickle=False) as z:
            name = str(z["name"])
            stored = dict(zip([str(k) for k in z["keys"]], [float(v) for v in z["values"]]))
            p, r = z["p"], z["r"]
        if cert is not None:
            want_name = cert.name
            want = {k: float(v) for k, v in cert.params.items()}
        else:
            want_name, want = params.pop("name", name), {k: float(v) for k, v in params.items()}
        if want_name != name or any(stored.get(k) != v for k, v in want.items()) or (
            cert is not None and set(stored) != set(want)
        ):
            raise ValueError(
                f"table {os.fspath(path)!r} was built for {name} {stored}, not {want_name} {want}"
            )
        return cls(name, stored, p, r)



