"""Double sampling (Li, Zhang, Xie & Li 2022, DSRS): the ``dsrs-gaussian-l2`` radius against
Cohen's at the same pA as the input dimension grows (the paper's point: in high dimension the Q
bound lifts the radius, Sec. 5 and their Fig. 1)."""

from __future__ import annotations

from typing import Sequence

from .plot import TWO_COLUMN, finish, new_figure

#: Input dimensions from Fashion-MNIST (784) to ImageNet (3 x 224 x 224 = 150,528).
DIMS = (784, 1568, 3072, 6272, 12288, 37632, 75264, 150528)


def dsrs_vs_cohen_figure(p_as: Sequence[float] = (0.9, 0.99),
                         q_as: Sequence[float] = (0.99, 0.999, 1 - 1e-6), dims: Sequence[int] = DIMS,
                         sigma: float = 1.0, ball_mass: float = 0.5, path=None):
    """One panel per pA: the certified l2 radius (units of sigma) against d (log axis), Cohen's
    ``sigma Phi^-1(pA)`` and DSRS at each qA (markers at the computed dimensions)."""
    from ..bounds.dsrs import against_cohen

    fig, axes = new_figure(TWO_COLUMN, ncols=len(p_as))
    for ax, pa in zip(axes, p_as):
        for qa in q_as:
            rows = against_cohen(dims, p_a=pa, q_a=qa, sigma=sigma, ball_mass=ball_mass)
            ax.plot([r["dim"] for r in rows], [r["dsrs"] / sigma for r in rows], marker="o", ms=3,
                    label=f"DSRS, $q_A = {qa:.7g}$")
        ax.axhline(rows[0]["cohen"] / sigma, color="k", ls="--", lw=1, label="Cohen et al.")
        ax.set_xscale("log")
        ax.set_xlabel("input dimension $d$")
        ax.set_ylabel(r"certified $\ell_2$ radius / $\sigma$")
        ax.set_title(f"$p_A = {pa:g}$, ball mass {ball_mass:g}")
        ax.set_xticks(list(dims)[::2] + [dims[-1]], labels=[f"{d:,}" for d in list(dims)[::2] + [dims[-1]]],
                      fontsize=7)
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return finish(fig, path)


__all__ = ["DIMS", "dsrs_vs_cohen_figure"]
