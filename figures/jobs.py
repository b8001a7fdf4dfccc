"""The figure set embedded in ``docs/guide.md``: its groups, and :func:`docs_figures` to draw it.

Each group of :data:`DOCS_GROUPS` is one job function below that draws its files into the output
folder and returns their names. A group whose optional input is missing (Cohen et al.'s files,
torch) raises :class:`MissingInput` and is skipped; any other error fails the run
(:class:`FigureGroupsFailed`) after the other groups are drawn.
"""

from __future__ import annotations

import math
import sys
import traceback
from pathlib import Path

import numpy as np

from .cohen import certified_accuracy_figure
from .dsrs import dsrs_vs_cohen_figure
from .landscape import landscape_docs_figures
from .radius import radius_vs_pa_figure, rops_figure
from .regions import proxy_vs_l2_figure, region_radii, region_volume_figure
from .results import COHEN_DATA
from .zhang import dual_landscape_figure, radial_density_figure
from .zoo import NORMS, linf_dimension_figure, zoo_radius_figure


class MissingInput(Exception):
    """A figure group's optional input is absent (Cohen et al.'s files, or torch): the group is
    skipped with this message. Every other error in a group is a failure."""


class FigureGroupsFailed(RuntimeError):
    """Raised by :func:`docs_figures` after the other groups are drawn when some group raised."""


#: The figure groups of :func:`docs_figures` and the files each writes.
DOCS_GROUPS = {
    "cohen": ["cohen_imagenet", "cohen_cifar10", "cohen_high_prob"],
    "radius": ["radius_vs_pa_l1", "radius_vs_pa_l2"],
    "regions": ["proxy_vs_l2", "region_volume"],
    "zhang": ["zhang_radial_l2", "zhang_radial_l1", "zhang_dual_l2_k0", "zhang_dual_l2_k8"],
    "rops": ["laplace_vs_gaussian"],
    "landscape": ["landscape_random", "landscape_hessian"],
    "zoo": [f"zoo_radius_{norm}" for norm in NORMS] + ["zoo_linf_vs_dim"],
    "dsrs": ["dsrs_vs_cohen"],
}


def _cohen_files(data_dir: Path, dataset: str, pairs) -> list[Path]:
    return [data_dir / f"{dataset}__noise_{n}__test__sigma_{s}.tsv" for n, s in pairs]


def _job_cohen(out: Path, data: Path, quick: bool, model_name: str) -> list[str]:
    """Cohen et al. (2019) Figs. 7-8 from their released files."""
    if not data.is_dir():
        raise MissingInput(f"Cohen et al. results not found at {data}")
    im = _cohen_files(data, "imagenet__resnet50", [("0.25", "0.25"), ("0.50", "0.50"), ("1.00", "1.00")])
    cf = _cohen_files(data, "cifar10__resnet110",
                      [("0.12", "0.12"), ("0.25", "0.25"), ("0.50", "0.50"), ("1.00", "1.00")])
    labs_i = [r"$\sigma = 0.25$", r"$\sigma = 0.50$", r"$\sigma = 1.00$"]
    labs_c = [r"$\sigma = 0.12$"] + labs_i
    certified_accuracy_figure(im, labs_i, max_radius=4.0, title="ImageNet, ResNet-50 (Cohen et al. 2019 data)",
                              path=out / "cohen_imagenet")
    certified_accuracy_figure(cf, labs_c, max_radius=1.5, title="CIFAR-10, ResNet-110 (Cohen et al. 2019 data)",
                              path=out / "cohen_cifar10")
    certified_accuracy_figure([im[1]], [r"$\sigma = 0.50$"], max_radius=2.0, variant="both",
                              title="approximate vs high-probability (ImageNet)", path=out / "cohen_high_prob")
    return DOCS_GROUPS["cohen"]


def _job_radius(out: Path, data: Path, quick: bool, model_name: str) -> list[str]:
    """Radius against pA at matched noise, l1 and l2 families (Teng et al. 2020 Fig. 6)."""
    l1 = ["teng-laplace-l1", "teng-laplace-l1-binary", "lecuyer-laplace-l1", "cohen-gaussian-l2",
          "uniform-l1", "zhang-l1"]
    fig = radius_vs_pa_figure(l1, std=0.5, dim=784, shares=(None, 0.5), as_norm="l1",
                              path=out / "radius_vs_pa_l1")
    l2 = ["cohen-gaussian-l2", "ancer-gaussian-mixture", "zhang-l2", "zhang-linf"]
    radius_vs_pa_figure(l2, std=0.5, dim=784, shares=(None, 0.5), as_norm="l2",
                        path=out / "radius_vs_pa_l2")
    for why in fig.skipped:
        print(f"radius_vs_pa: skipped {why}", file=sys.stderr)
    return DOCS_GROUPS["radius"]


def _job_regions(out: Path, data: Path, quick: bool, model_name: str) -> list[str]:
    """ANCER's proxy against l2 radius with random per-input sigma, and region volumes."""
    from ..bounds import get

    rng = np.random.default_rng(0)
    d, n_inputs = 64, 300
    enc, prox = [], []
    for _ in range(n_inputs):  # per-input sigma, as ANCER optimizes one per input
        sig = 0.5 * np.exp(rng.normal(0.0, 0.35, d))
        e, p = region_radii("ancer-ellipsoid", {"sigma": sig}, [rng.uniform(0.55, 0.999)])
        enc.append(e[0])
        prox.append(p[0])
    proxy_vs_l2_figure(np.array(enc), np.array(prox), labels=[f"ANCER ellipsoid, d = {d}, random per-input $\\sigma$"],
                       path=out / "proxy_vs_l2")
    sig = 0.5 * np.exp(np.linspace(-0.5, 0.8, 16))
    region_volume_figure(["cohen-gaussian-l2", "teng-laplace-l1", "uniform-l1",
                          get("ancer-ellipsoid", sigma=sig),
                          get("ancer-cross-polytope", half_width=sig * math.sqrt(3))],
                         std=0.5, dim=16, path=out / "region_volume")
    return DOCS_GROUPS["regions"]


def _job_zhang(out: Path, data: Path, quick: bool, model_name: str) -> list[str]:
    """Zhang et al. (2020) radial densities (Fig. 1) and dual landscapes at k = 0 and 8."""
    radial_density_figure("zhang-l2", ks=(0, 100, 300, 500), dim=784, path=out / "zhang_radial_l2")
    radial_density_figure("zhang-l1", ks=(0, 100, 300, 500), dim=784, path=out / "zhang_radial_l1")
    n = 20_000 if quick else 200_000
    dual_landscape_figure("zhang-l2", p=0.8, radii=(0.1, 0.25, 0.5), dim=16, k=0, n=n,
                          path=out / "zhang_dual_l2_k0")
    dual_landscape_figure("zhang-l2", p=0.8, radii=(0.1, 0.25, 0.5), dim=16, k=8, n=n,
                          path=out / "zhang_dual_l2_k8")
    return DOCS_GROUPS["zhang"]


def _job_rops(out: Path, data: Path, quick: bool, model_name: str) -> list[str]:
    """Laplace against Gaussian certified l1 radii (after Teng et al. 2020 App. D)."""
    rops_figure(std=0.5, path=out / "laplace_vs_gaussian")
    return DOCS_GROUPS["rops"]


def _job_landscape(out: Path, data: Path, quick: bool, model_name: str) -> list[str]:
    """The two landscape slices of the shipped model at an embedded test image (needs torch)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise MissingInput("torch is not installed (pip install smoothcert[torch])")
    from ..gpu_sampler.data import embedded_sample
    from ..gpu_sampler.models import shipped_model, shipped_noise

    images, _ = embedded_sample()
    return landscape_docs_figures(out, shipped_model(model_name),
                                  float(shipped_noise(model_name)["sigma"]), images[0], quick)


def _job_zoo(out: Path, data: Path, quick: bool, model_name: str) -> list[str]:
    """Yang et al. (2020): every registered certificate's radius against pA at std 0.5, one
    figure and Markdown table per norm, and the l_inf radius against d up to 150,528."""
    skipped = []
    for norm in NORMS:
        skipped += zoo_radius_figure(norm, std=0.5, dim=784, path=out / f"zoo_radius_{norm}").skipped
    skipped += linf_dimension_figure(pa=0.99, std=0.5, path=out / "zoo_linf_vs_dim").skipped
    for why in skipped:
        print(f"zoo: skipped {why}", file=sys.stderr)
    return DOCS_GROUPS["zoo"]


def _job_dsrs(out: Path, data: Path, quick: bool, model_name: str) -> list[str]:
    """DSRS against Cohen's radius for d from 784 to 150,528 (Li et al. 2022); quick: the two
    ends, one pA and two qA."""
    if quick:
        dsrs_vs_cohen_figure(p_as=(0.9,), q_as=(0.999, 1 - 1e-6), dims=(784, 150528),
                             path=out / "dsrs_vs_cohen")
    else:
        dsrs_vs_cohen_figure(path=out / "dsrs_vs_cohen")
    return DOCS_GROUPS["dsrs"]


_JOBS = {"cohen": _job_cohen, "radius": _job_radius, "regions": _job_regions, "zhang": _job_zhang,
         "rops": _job_rops, "landscape": _job_landscape, "zoo": _job_zoo,
         "dsrs": _job_dsrs}


def docs_figures(out_dir, data_dir=None, model_name: str = "fmnist-gaussian-0.50",
                 quick: bool = False, resume: bool = False, groups=None) -> list[Path]:
    """Draw every figure embedded in ``docs/guide.md`` into ``out_dir`` (PNG + PDF each).

    ``groups`` picks some of :data:`DOCS_GROUPS` (default all). ``data_dir`` holds Cohen et al.'s
    files (default :data:`~smoothcert.figures.results.COHEN_DATA`, the copy shipped as package
    data). A group whose optional input is missing (torch, or the files in ``data_dir``) is
    skipped with a message on stderr (:class:`MissingInput`); a group that raises anything else
    is a failure: its traceback is printed, the other groups are still drawn, and then
    :class:`FigureGroupsFailed` is raised. ``quick`` uses fewer samples. Progress is shown with
    tqdm; each file is written atomically, so an interrupted run leaves only complete figures;
    ``resume=True`` skips the groups whose PNG and PDF files all exist.
    """
    from tqdm import tqdm

    chosen = list(DOCS_GROUPS) if groups is None else list(groups)
    unknown = [g for g in chosen if g not in DOCS_GROUPS]
    if unknown:
        raise ValueError(f"groups must be among {list(DOCS_GROUPS)}, got {unknown[0]!r}")
    out = Path(out_dir)
    data = COHEN_DATA if data_dir is None else Path(data_dir)
    written: list[Path] = []
    failed = []
    for group in tqdm(chosen, desc="figures", unit="group", file=sys.stderr):
        expected = DOCS_GROUPS[group]
        if resume and all((out / f"{n}.{e}").is_file() for n in expected for e in ("png", "pdf")):
            written += [out / f"{n}.png" for n in expected]
            continue
        try:
            names = _JOBS[group](out, data, quick, model_name)
        except MissingInput as exc:
            print(f"{group}: skipped, input missing ({exc})", file=sys.stderr)
            continue
        except Exception as exc:  # noqa: BLE001 -- reported below and re-raised as a failure
            traceback.print_exc(file=sys.stderr)
            failed.append((group, exc))
            continue
        written += [out / f"{n}.png" for n in names]
    if failed:
        raise FigureGroupsFailed("figure groups failed: " + "; ".join(
            f"{g} ({type(e).__name__}: {e})" for g, e in failed)) from failed[0][1]
    return written
