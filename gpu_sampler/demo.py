"""The main job: certify the embedded Fashion-MNIST sample with the shipped models.

Three smoothed classifiers, one per noise family, all at per-coordinate noise std 0.5 and each
certified with its own theorem (docs/catalog.md):

* ``cohen-gaussian-l2`` -- Cohen et al. 2019 Thm 1, model ``fmnist-gaussian-0.50`` (sigma = 0.5);
* ``teng-laplace-l1`` -- Teng et al. 2020 Thm 1, model ``fmnist-laplace-0.50`` (b = 0.5/sqrt 2);
* ``uniform-l1`` -- Yang et al. 2020, model ``fmnist-uniform-0.50`` (lambda = 0.5 sqrt 3).

For each, CERTIFY (Cohen et al. Sec. 3.2) runs on every ``skip``-th embedded test image and the
rows go to ``<out_dir>/<certificate>.tsv``. Printed: certified accuracy (Cohen's approximate
certified accuracy: the fraction of inputs classified correctly with radius >= r) on a radius
grid in each certificate's own norm, and the average certified radius (ACR, Zhai et al. 2020).

The figure (drawn by ``smoothcert demo``, which sits above ``figures``) compares the three in
the l1 norm, where all are valid: a Gaussian l2 radius R also certifies the l1 ball of radius R,
since ||delta||_2 <= ||delta||_1 (the l2 ball of radius R contains that l1 ball).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

from ..core.checks import check_int

#: (certificate, shipped model, noise parameter name, value)
DEMO_RUNS = (
    ("cohen-gaussian-l2", "fmnist-gaussian-0.50", "sigma", 0.5),
    ("teng-laplace-l1", "fmnist-laplace-0.50", "scale", 0.5 / math.sqrt(2.0)),
    ("uniform-l1", "fmnist-uniform-0.50", "half_width", 0.5 * math.sqrt(3.0)),
)
RADIUS_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)

#: Defaults sized for < 3 minutes on two idle CPU cores: 3 x 100 inputs x 564 forward passes
#: (about 2,500 forward passes per second with two threads). With n = 500 and alpha = 0.001 the
#: largest certifiable p_A lower bound is alpha^(1/n) = 0.98628 (Gaussian radius 1.10 at sigma 0.5).
DEFAULTS = {"num_images": 100, "n0": 64, "n": 500, "alpha": 0.001, "batch_size": 1000}


@dataclass
class DemoResult:
    """One certificate's run: the TSV path and its summary numbers."""

    certificate: str
    model: str
    norm: str
    path: str
    clean_smoothed_accuracy: float  # fraction certified correctly at radius 0 (no abstention)
    accuracy_at: dict  # radius -> certified accuracy
    acr: float  # average certified radius (wrong or abstain count 0)
    seconds: float


def certified_accuracy(radius, correct, r: float) -> float:
    """Cohen et al.'s approximate certified accuracy at ``r``: mean of [correct and radius >= r]."""
    radius, correct = np.asarray(radius, float), np.asarray(correct, int)
    return float(np.mean((correct == 1) & (radius >= r)))


def average_certified_radius(radius, correct) -> float:
    """ACR (Zhai et al. 2020 Eq. 9): mean of radius * [correct]."""
    return float(np.mean(np.where(np.asarray(correct, int) == 1, np.asarray(radius, float), 0.0)))


def run_demo(out_dir="demo_output", num_images=DEFAULTS["num_images"], n0=DEFAULTS["n0"],
             n=DEFAULTS["n"], alpha=DEFAULTS["alpha"], batch_size=DEFAULTS["batch_size"], seed=0,
             precision="float32", device="cpu", resume=False, progress=True, log=print):
    """Run the demo; returns the list of :class:`DemoResult` (the command line draws the figure).

    ``num_images`` evenly spaced images of the 500 embedded (skip = 500 // num_images). Without
    ``resume`` the demo's TSVs in ``out_dir`` are started afresh.
    """
    import torch

    import smoothcert as sc

    from .data import embedded_sample
    from .dataset import certify_dataset, read_rows
    from .models import shipped_model

    images, labels = embedded_sample()
    num_images = check_int("num_images", num_images, minimum=1, maximum=len(images))
    skip = len(images) // num_images
    os.makedirs(out_dir, exist_ok=True)
    log(f"smoothcert demo: {num_images} embedded Fashion-MNIST test images (every {skip}th of "
        f"{len(images)}), n0={n0}, n={n}, alpha={alpha}, batch={batch_size}, precision={precision}, "
        f"seed={seed}, device={device}, torch threads={torch.get_num_threads()}")
    results = []
    for cert_name, model_name, param, value in DEMO_RUNS:
        cert = sc.get(cert_name, **{param: value})
        path = os.path.join(out_dir, cert_name + ".tsv")
        if not resume and os.path.exists(path):
            os.remove(path)
        t0 = time.perf_counter()
        certify_dataset(shipped_model(model_name, device), cert, images, labels, path, n0=n0, n=n,
                        alpha=alpha, batch_size=batch_size, skip=skip, max_count=num_images,
                        precision=precision, seed=seed, progress=progress, device=device)
        seconds = time.perf_counter() - t0
        rows = read_rows(path)
        rad = [float(r["radius"]) for r in rows]
        cor = [int(r["correct"]) for r in rows]
        results.append(DemoResult(
            cert_name, model_name, cert.norm, path, certified_accuracy(rad, cor, 0.0),
            {r: certified_accuracy(rad, cor, r) for r in RADIUS_GRID},
            average_certified_radius(rad, cor), seconds))
    log("")
    log(format_table(results))
    log(f"\nwrote {', '.join(r.path for r in results)}")
    return results


def format_table(results) -> str:
    """Certified accuracy on :data:`RADIUS_GRID` and ACR, one row per certificate."""
    head = f"{'certificate':<20} {'norm':<4} " + " ".join(f"r={r:<5g}" for r in RADIUS_GRID) + "   ACR    time"
    lines = [head, "-" * len(head)]
    for res in results:
        cells = " ".join(f"{res.accuracy_at[r]:<7.3f}" for r in RADIUS_GRID)
        lines.append(f"{res.certificate:<20} {res.norm:<4} {cells} {res.acr:6.3f} {res.seconds:6.1f}s")
    lines.append("certified accuracy = fraction of images predicted correctly with radius >= r "
                 "(r in each certificate's norm, pixel units in [0, 1]); ACR = average certified radius")
    return "\n".join(lines)
