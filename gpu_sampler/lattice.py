"""Exact sampling of Gaussian noise rounded to the input grid (the ``gaussian-grid`` family).

Voracek & Hein, "Sound Randomized Smoothing in Floating-Point Arithmetic" (ICLR 2023), Sec. 3:
on inputs quantized to ``levels`` steps the noise is drawn on the same grid, in integer units
``k = round(levels sigma G)``, so that ``levels x + k`` is an exact integer in float32 (below
2^24) and the classifier sees ``f((levels x + k) / levels)``, a fixed function of the grid point:
the law of what it sees is exactly the law the certificate (bounds/grid.py) assumes. Their only
assumption is a fair coin; ours is that ``torch.randint(0, 2^bits)`` through the caller's
generator returns fair bits (2^bits divides 2^64, so no modulo bias).

Inverse transform with lazily drawn bits (Knuth & Yao's idea): with ``U = (u + V) / Q``,
``Q = 2^bits``, ``u`` a uniform integer and ``V in [0, 1)`` the bits not yet drawn, the cell is
``k = min{i : U < b_i}``, ``b_i = Phi((i + 1/2) / s)``, ``s = levels sigma``. A table holds
``F_i = floor(Q b_i)`` (mpmath, exact): when ``u`` equals no ``F_i`` no boundary lies in
``[u/Q, (u+1)/Q)`` and ``k = #{i : F_i <= u} - M`` is decided by ``u`` alone (torch, on the
device). Otherwise (probability about ``2M / Q``, 1e-15 at 62 bits) more bits are drawn through
the same generator until the interval holds no boundary (mpmath, on the CPU). The law is exact.
"""

from __future__ import annotations

import functools
import math

import mpmath as mp
import torch

from ..bounds.grid import FLOAT32_EXACT
from ..core.checks import check_int
from .noise import NoiseSampler, sampler_for

#: Random bits per draw: 2^62 divides 2^64, so ``randint(0, 2^62)`` has no modulo bias.
BITS = 62
#: The table is refused beyond this many entries (``2 M``, about ``18 levels sigma``).
MAX_TABLE = 2**21
#: Decimal digits of the table's mpmath evaluation (Q b_i has at most 19 integer digits).
TABLE_DPS = 40


def _ncdf(t):
    """Phi(t) at the current mpmath precision (erfc keeps the lower tail's relative accuracy)."""
    return mp.erfc(-t / mp.sqrt(2)) / 2


def _half_cells(s: float, q: int) -> int:
    """The smallest M with ``Q Phi((1/2 - M) / s) < 1``: cells beyond +-M share the end entries."""
    m = max(1, math.ceil(9.5 * s + 0.5))  # Phi(-9.5) < 2^-64: one check, then a short walk
    with mp.workdps(TABLE_DPS):
        while m > 1 and q * _ncdf((mp.mpf(1) / 2 - (m - 1)) / mp.mpf(s)) < 1:
            m -= 1
        while not q * _ncdf((mp.mpf(1) / 2 - m) / mp.mpf(s)) < 1:
            m += 1
    return m


@functools.lru_cache(maxsize=16)
def boundary_table(s: float, q: int) -> tuple[int, tuple[int, ...]]:
    """``(M, [floor(Q Phi((i + 1/2) / s)) for i in -M .. M-1])``, exact integers.

    Each entry is evaluated at ``TABLE_DPS`` digits and re-evaluated at twice that where ``Q b_i``
    lies within ``1e-20`` of an integer, so the floor is exact. ``b_{-i-1} = 1 - b_i``.
    """
    m = _half_cells(s, q)
    table = []
    for i in range(-m, m):
        for dps in (TABLE_DPS, 2 * TABLE_DPS, 4 * TABLE_DPS):
            with mp.workdps(dps):
                v = q * _ncdf((mp.mpf(i) + mp.mpf(1) / 2) / mp.mpf(s))
                f = int(mp.floor(v))
                if mp.mpf(10) ** (20 - dps) * q < v - f < 1 - mp.mpf(10) ** (20 - dps) * q:
                    break
        table.append(f)
    return m, tuple(table)


#: Guide-table buckets: the top GUIDE_BITS bits of a draw index the table (Chen & Asau's guide
#: table for inverse transforms), so most draws need one comparison instead of a binary search.
GUIDE_BITS = 16


def _guide(table: torch.Tensor, bits: int):
    """The guide table: per bucket of the top bits of ``u``, ``#{F_i <= u}`` (int32) where the
    bucket holds no ``F_i`` (so it is the same for every ``u`` in it), else -1 (binary search);
    and the shift from ``u`` to its bucket."""
    shift = max(0, bits - GUIDE_BITS)
    starts = torch.arange(2 ** (bits - shift), dtype=torch.int64, device=table.device) << shift
    below = torch.searchsorted(table, starts, right=False)
    upto = torch.searchsorted(table, starts + ((1 << shift) - 1), right=True)
    return torch.where(upto == below, below, -1).to(torch.int32), shift


class LatticeNoise(NoiseSampler):
    """A sampler whose noise lives on the grid ``Z / levels``: :meth:`sample_units_into` draws it
    in integer units (exact), :meth:`to_units` maps grid inputs to integer units; the counting
    sampler adds the two exactly and divides by ``levels`` once, before the model."""

    levels: int = 1
    max_units: int = 0  # the largest |noise| in integer units

    def to_units(self, x: torch.Tensor) -> torch.Tensor:
        """``levels x`` as exact integers (same dtype); ``ValueError`` unless ``x`` is on the grid."""
        k = torch.round(x * self.levels)
        err = float((x * self.levels - k).abs().max()) if x.numel() else 0.0
        if err > 1e-3:
            raise ValueError(f"x must be quantized to multiples of 1/{self.levels} for {self.family} noise, "
                             f"got an entry {err:.3g} grid steps away from the grid")
        top = float(k.abs().max()) if x.numel() else 0.0
        if top + self.max_units >= FLOAT32_EXACT:
            raise ValueError(f"x has an entry {top / self.levels!r}: levels * |x| + {self.max_units} "
                             f"must stay below 2^24 for exact float32 sums")
        return k

    def sample_units_into(self, out: torch.Tensor, generator=None) -> torch.Tensor:
        raise NotImplementedError

    def _fill(self, out, generator):
        self.sample_units_into(out, generator).div_(self.levels)

    def draw(self, raws, generator=None):
        """The counting sampler's raw draw is the noise in integer units (the transform is the
        identity): it adds the inputs in units and divides by ``levels`` once."""
        self.sample_units_into(raws[0], generator)


@sampler_for("gaussian-grid")
class GaussianGridNoise(LatticeNoise):
    """``round(levels sigma G) / levels`` drawn exactly (module docstring); ``bits`` (tests only)
    lowers the bits per draw so that the multi-draw path runs often."""

    def __init__(self, params, shape, device, dtype, bits: int = BITS):
        super().__init__(params, shape, device, dtype)
        self.levels = int(params["levels"])
        self.sigma = float(params["sigma"])
        self.bits = check_int("bits", bits, minimum=1, maximum=BITS)
        self.q = 2**self.bits
        s = self.levels * self.sigma
        if not 9.5 * s < MAX_TABLE / 2:
            raise ValueError(f"sigma={self.sigma!r} at levels={self.levels} needs a table of about "
                             f"{19 * s:.3g} entries (at most {MAX_TABLE}): use a smaller sigma")
        self.half, table = boundary_table(s, self.q)
        self.max_units = self.half
        self.table = torch.tensor(table, dtype=torch.int64, device=self.device)
        self._s = s
        self._code, self._shift = _guide(self.table, self.bits)

    def sample_units_into(self, out, generator=None):
        """Fill ``out`` with ``round(levels sigma G)`` (exact integers) through ``generator``."""
        u = torch.randint(0, self.q, out.shape, generator=generator, device=self.device, dtype=torch.int64)
        idx = torch.take(self._code, u >> self._shift).view(out.shape)  # -1: the bucket holds an F_i
        slow = (idx < 0).nonzero(as_tuple=True)
        us = u[slow]
        at = torch.searchsorted(self.table, us, right=True)
        idx[slow] = at.to(idx.dtype)
        tie = (self.table[(at - 1).clamp(min=0)] == us).nonzero(as_tuple=True)[0]
        for j in tie.tolist():  # about 2M / 2^bits of the entries: almost never at 62 bits
            pos = tuple(int(d[j]) for d in slow)
            idx[pos] = self._resolve(int(us[j]), generator) + self.half
        return out.copy_(idx.sub_(self.half))

    def _resolve(self, u: int, generator) -> int:
        """The cell of ``U = (u + V) / Q`` drawing more bits of ``V`` until no boundary lies in
        the interval of ``U`` (every comparison in exact rationals against mpmath values with a
        margin far below the interval's width)."""
        num, den = u, self.q  # U in [num / den, (num + 1) / den)
        while True:
            digits = 30 + int(math.log10(den)) + 1
            with mp.workdps(digits):
                lo, hi = mp.mpf(num) / den, mp.mpf(num + 1) / den
                tol = mp.mpf(10) ** (10 - digits)
                if lo > 0 and hi < 1:
                    x = mp.sqrt(2) * mp.erfinv(2 * lo - 1) * self._s
                    guess = int(mp.floor(x + mp.mpf(1) / 2))
                    for i in range(guess - 2, guess + 3):
                        below = _ncdf((mp.mpf(i) - mp.mpf(1) / 2) / self._s)
                        above = _ncdf((mp.mpf(i) + mp.mpf(1) / 2) / self._s)
                        if below + tol < lo and hi + tol < above:
                            return i
            v = int(torch.randint(0, self.q, (1,), generator=generator, device=self.device,
                                  dtype=torch.int64).item())
            num, den = num * self.q + v, den * self.q


__all__ = ["BITS", "GaussianGridNoise", "LatticeNoise", "boundary_table"]
