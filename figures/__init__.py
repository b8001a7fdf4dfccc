"""Comparison figures and result tables (matplotlib, no display needed): the package's front.

Every ``*_figure`` function returns a :class:`matplotlib.figure.Figure` built without pyplot (so
no GUI backend is ever touched) and, given ``path=``, writes ``path.png`` and ``path.pdf``
atomically (:mod:`.plot`). This module only re-exports the public names of its parts:

* :mod:`.results` -- reading Cohen-format results (:func:`read_tsv`) and certified-accuracy
  statistics (:func:`approximate_accuracy`, :func:`high_probability_accuracy`,
  :func:`average_certified_radius`, :func:`envelope`); Cohen et al.'s released files ship as
  package data (:data:`COHEN_DATA`, with their alphas in :data:`COHEN_ALPHA`).
* :mod:`.cohen` -- :func:`certified_accuracy_table` (Cohen et al. 2019 Table 1, Markdown or
  LaTeX) and :func:`certified_accuracy_figure` (their Figs. 7-8).
* :mod:`.radius` -- :func:`radius_vs_pa_figure` (Teng et al. 2020 Fig. 6) and
  :func:`rops_figure` (Laplace vs Gaussian, after Teng et al. App. D).
* :mod:`.regions` -- :func:`proxy_vs_l2_figure` (Eiras et al., ANCER, Fig. 3) and
  :func:`region_volume_figure`.
* :mod:`.zhang` -- :func:`radial_density_figure` (Zhang et al. 2020 Fig. 1) and
  :func:`dual_landscape_figure` (their Sec. 3).
* :mod:`.landscape` -- :func:`landscape_slice_figure` (ANCER Figs. 1 and 7; needs torch).
* :mod:`.zoo` -- the noise zoo (Yang et al. 2020): :func:`zoo_radius_figure` (radius against pA
  of every registered certificate of one norm at matched std, with its Markdown table) and
  :func:`linf_dimension_figure` (l_inf radius against the input dimension).
* :mod:`.jobs` -- :func:`docs_figures`, the set embedded in ``docs/guide.md``.
"""

from __future__ import annotations

from .cohen import certified_accuracy_figure, certified_accuracy_table
from .jobs import DOCS_GROUPS, FigureGroupsFailed, MissingInput, docs_figures
from .landscape import (
    FASHION_MNIST_CLASSES,
    landscape_docs_figures,
    landscape_slice_figure,
)
from .plot import ONE_COLUMN, TWO_COLUMN, new_figure, save_figure, save_text
from .radius import ball_inclusion_factor, radius_vs_pa_figure, rops_figure
from .regions import proxy_vs_l2_figure, region_radii, region_volume_figure
from .results import (
    ALPHA_COLUMN,
    COHEN_ALPHA,
    COHEN_DATA,
    REQUIRED_COLUMNS,
    SOUND_COLUMN,
    CertificationResults,
    approximate_accuracy,
    average_certified_radius,
    certification_alpha,
    check_one_norm,
    envelope,
    high_probability_accuracy,
    parse_time,
    radius_norm,
    read_tsv,
)
from .zhang import (
    dual_landscape_figure,
    dual_objective,
    radial_density_figure,
    radial_log_density,
    zhang_log_ratio_samples,
)
from .zoo import linf_dimension_figure, zoo_radius_figure


__all__ = [
    "check_one_norm",
    "radius_norm",
    "ALPHA_COLUMN",
    "COHEN_ALPHA",
    "COHEN_DATA",
    "DOCS_GROUPS",
    "FASHION_MNIST_CLASSES",
    "ONE_COLUMN",
    "REQUIRED_COLUMNS",
    "SOUND_COLUMN",
    "TWO_COLUMN",
    "CertificationResults",
    "FigureGroupsFailed",
    "MissingInput",
    "approximate_accuracy",
    "average_certified_radius",
    "ball_inclusion_factor",
    "certification_alpha",
    "certified_accuracy_figure",
    "certified_accuracy_table",
    "docs_figures",
    "dual_landscape_figure",
    "dual_objective",
    "envelope",
    "high_probability_accuracy",
    "landscape_docs_figures",
    "landscape_slice_figure",
    "new_figure",
    "parse_time",
    "proxy_vs_l2_figure",
    "radial_density_figure",
    "radial_log_density",
    "radius_vs_pa_figure",
    "read_tsv",
    "region_radii",
    "region_volume_figure",
    "rops_figure",
    "save_figure",
    "save_text",
    "zhang_log_ratio_samples",
    "linf_dimension_figure",
    "zoo_radius_figure",
]
