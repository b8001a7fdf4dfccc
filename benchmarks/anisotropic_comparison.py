"""Choosing the smoothing per input and per dataset, soundly: the comparison on Fashion-MNIST.

Rows (every row names the procedure that makes it a certificate, docs/contributing.md, Soundness):

l2 (Gaussian, shipped ``fmnist-gaussian-0.25``)
  fixed sigma                    cohen-gaussian-l2, sigma = 0.25            fixed-distribution
  data-dependent sigma(x)        Alfarra et al. Alg. 1 -> cohen-gaussian-l2 memory-based (+ unsound twin)
  ANCER ellipsoid                Eiras et al. App. C   -> ancer-ellipsoid   memory-based (+ unsound twin)
  ARS dataset-wise maps          Hong & Hong Sec. 5    -> ars-gaussian-l2   fixed-distribution
  ARS generator mu(x), sigma(x)  Hong & Hong Sec. 5    -> ars-gaussian-l2   memory-based (+ unsound twin)
l1 (uniform, shipped ``fmnist-uniform-0.50``)
  fixed lambda                   uniform-l1                                 fixed-distribution
  data-dependent lambda(x)       Alfarra et al. (l1)   -> uniform-l1        memory-based (+ unsound twin)
  ANCER cross-polytope           Eiras et al. App. C   -> ancer-cross-polytope memory-based (+ unsound twin)

The "unsound twin" rows reuse the same Monte Carlo counts without the memory; they are there to
show what the literature reports and are marked UNSOUND in the TSV, the summary and the legend.
Each memory-based row keeps its memory in ``--out/memory-<row>.jsonl`` (append-only, resumable);
the PGD study certifies the perturbed inputs through the SAME memory as the clean ARS generator
row, after the clean inputs, so a perturbed copy inside a clean input's region gets its class.

Reported: certified accuracy at l2 / l1 radii (enclosed ball of each region), ACR, proxy-radius ACR
(ANCER Table 1 analogue), the superset share (ANCER Definition 1, Tables 4-5: the anisotropic
region contains the isotropic data-dependent one), optimization vs certification seconds per
input, and the ARS pre-perturbation study (their Sec. 6.3, Table 3: PGD l_inf 16/255, 10 steps,
before certification; fixed sigma vs the ARS generator).

CPU-sized defaults (2 cores): 16 test images, n0 = 100, n = 500, alpha = 0.001; 25 optimization
iterations with 16 samples; ARS trained jointly for 1 epoch on 2,000 training images. Every stage
is checkpointed in ``--out`` (atomic writes) and a rerun resumes; ``--quick`` is a smoke test.

    python benchmarks/anisotropic_comparison.py --out benchmarks/results/anisotropic
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
import zlib

import numpy as np
import torch

import smoothcert as sc
from smoothcert.core.atomic import atomic_path, atomic_write_text
from smoothcert.gpu_sampler.per_input.ancer import AncerConfig, ancer_certificate, optimize_ancer
from smoothcert.gpu_sampler.per_input.ars_generator import (
    ARSTrainConfig,
    DatasetNoise,
    NoiseGenerator,
    generator_maps,
    pgd_linf,
    train_ars,
)
from smoothcert.gpu_sampler.per_input.data_dependent import DataDependentConfig, optimize_sigmas
from smoothcert.gpu_sampler.per_input.memory import (
    PROCEDURES,
    certify_sequence,
    label_with_soundness,
    records_to_tsv,
    summarize,
)

L2_RADII = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
#: The ARS generator row; its memory also serves the PGD study (one smoothed classifier).
ARS_GENERATOR_ROW = "ARS generator mu(x), sigma(x) [jointly fine-tuned]"
L1_RADII = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="benchmarks/results/anisotropic")
    p.add_argument("--images", type=int, default=16, help="test images certified (from the embedded sample)")
    p.add_argument("--n0", type=int, default=100)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--alpha", type=float, default=0.001)
    p.add_argument("--iterations", type=int, default=25, help="data-dependent and ANCER iterations")
    p.add_argument("--samples", type=int, default=16, help="Monte Carlo samples per optimization step")
    p.add_argument("--lr-iso", type=float, default=0.04, help="data-dependent ascent step (ddsmoothing's)")
    p.add_argument("--train-images", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--gaussian-model", default="fmnist-gaussian-0.25")
    p.add_argument("--uniform-model", default="fmnist-uniform-0.50")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="smoke test: 4 images, n=100, 3 iterations")
    args = p.parse_args(argv)
    if args.quick:
        args.images, args.n, args.iterations, args.samples, args.train_images = 4, 100, 3, 4, 128
    return args


# ---------------------------------------------------------------------------------------------
def load_data(args):
    from smoothcert.gpu_sampler.data import disjoint_training_images, embedded_sample, to_tensor

    images, labels = embedded_sample()
    if not 1 <= args.images <= len(images):
        raise ValueError(f"--images must be in 1..{len(images)} (the embedded sample), got {args.images}")
    xs = to_tensor(images[: args.images])
    ys = labels[: args.images]
    # ARS training images: the train split when installed, else test images that are not certified
    tr_img, tr_lab, source = disjoint_training_images(args.images)
    k = min(args.train_images, len(tr_img))
    return xs, ys, to_tensor(tr_img[:k]), torch.as_tensor(tr_lab[:k]), source


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-")[:80]


def _memory_path(out, key):
    """The memory file of one smoothed classifier (Alfarra et al. Sec. 3.5), kept across runs."""
    return os.path.join(out, f"memory-{_slug(key)}.jsonl")


def _rng(args, salt):
    return torch.Generator().manual_seed(args.seed * 1000 + salt)


class _ARSComposite(torch.nn.Module):
    """``z -> f(z + mu(z) + sigma(z) eps)``: the smoothed ARS pipeline for an adaptive PGD."""

    def __init__(self, model, noise_model):
        super().__init__()
        self.model, self.noise_model = model, noise_model

    def forward(self, z):
        mu, s = self.noise_model(z)
        return self.model(z + mu + s * torch.randn_like(z))


def load_model(spec, fam):
    """A shipped model name or checkpoint, checked to be trained with ``fam`` noise."""
    from smoothcert.gpu_sampler.models import resolve_model

    model, info = resolve_model(spec)
    model.eval()
    if info.get("family") != fam:
        raise ValueError(f"{info.get('name')} was not trained with {fam} noise")
    info["sigma" if fam == "gaussian" else "half_width"] = info["std"] * (1.0 if fam == "gaussian" else 3 ** 0.5)
    return model, info


def run_rows(args, out, xs, ys, tr_x, tr_y):
    """Every row's records: name -> (records, norm, opt_seconds per input); the Gaussian model and
    the two ARS (classifier, noise model) pairs. Gaussian rows first, then ARS, then l1 rows."""
    dim = int(np.prod(xs.shape[1:]))
    cfg = dict(n0=args.n0, n=args.n, alpha=args.alpha, batch_size=args.batch_size, progress=True)
    rows = {}

    def certify_rows(key, model, certs, procedures, norm, opt_sec, shifts=None):
        for proc in procedures:
            name = f"{key}" if proc != "per-input-unsound" else f"{key} (no memory)"
            memory = _memory_path(out, key) if proc == "memory-based" else None
            recs = certify_sequence(model, xs, certs, proc, shifts=shifts, generator=_rng(args, zlib.crc32(key.encode()) % 997),
                                    checkpoint=os.path.join(out, f"certify-{_slug(key)}.npz"), desc=key,
                                    memory=memory, tag="clean", **cfg)
            rows[name] = (recs, norm, opt_sec)

    def family_rows(fam, norm):
        model, info = load_model(args.gaussian_model if fam == "gaussian" else args.uniform_model, fam)
        model_name = info["name"]
        base = info["sigma"] if fam == "gaussian" else info["half_width"]
        iso_name = "cohen-gaussian-l2" if fam == "gaussian" else "uniform-l1"
        param = "sigma" if fam == "gaussian" else "half_width"
        zero = np.zeros(len(xs))
        certify_rows(f"fixed {param}={base:.3g} [{model_name}]", model,
                     [sc.get(iso_name, **{param: base})] * len(xs), ["fixed-distribution"], norm, zero)
        dd_cfg = DataDependentConfig(sigma0=base, learning_rate=args.lr_iso, iterations=args.iterations,
                                     samples=args.samples, family=fam)
        sig, sig_sec = optimize_sigmas(model, xs, dd_cfg, generator=_rng(args, 1),
                                       checkpoint=os.path.join(out, f"opt-dd-{fam}.npz"))
        certify_rows(f"data-dependent {param}(x) [{model_name}]", model,
                     [sc.get(iso_name, **{param: float(s)}) for s in sig],
                     ["memory-based", "per-input-unsound"], norm, sig_sec)
        an_cfg = AncerConfig(iterations=args.iterations, samples=args.samples, family=fam)
        th, th_sec = optimize_ancer(model, xs, sig, an_cfg, generator=_rng(args, 2),
                                    checkpoint=os.path.join(out, f"opt-ancer-{fam}.npz"))
        certify_rows(f"ANCER {'ellipsoid' if fam == 'gaussian' else 'cross-polytope'} [{model_name}]", model,
                     [ancer_certificate(t, fam) for t in th], ["memory-based", "per-input-unsound"], norm,
                     th_sec + sig_sec)
        return model

    gauss_model = family_rows("gaussian", "l2")
    # ARS (Gaussian): dataset-wise maps (a fixed distribution) and the per-input generator
    ars = train_ars_models(args, out, gauss_model, tr_x, tr_y)
    (dw_model, dw_noise), (pi_model, gen), train_sec = ars
    mu, sigma = dw_noise.maps()
    certify_rows("ARS dataset-wise maps [jointly fine-tuned]", dw_model,
                 [sc.get("ars-gaussian-l2", sigma=sigma)] * len(xs), ["fixed-distribution"], "l2",
                 np.zeros(len(xs)), shifts=[mu] * len(xs))
    t0 = time.perf_counter()
    mus, sigmas = generator_maps(gen, xs)
    gen_sec = np.full(len(xs), (time.perf_counter() - t0) / len(xs))
    certify_rows(ARS_GENERATOR_ROW, pi_model,
                 [sc.get("ars-gaussian-l2", sigma=s) for s in sigmas], ["memory-based", "per-input-unsound"],
                 "l2", gen_sec, shifts=list(mus))
    rows["_train_seconds"] = train_sec
    family_rows("uniform", "l1")
    return rows, dim, gauss_model, ars


def train_ars_models(args, out, gauss_model, tr_x, tr_y):
    """Jointly fine-tune a copy of the Gaussian model with each ARS noise model (resumable)."""
    cfg = ARSTrainConfig(sigma0=0.25, epochs=args.epochs, batch_size=64, samples=2)
    t0 = time.perf_counter()
    dw_model = copy.deepcopy(gauss_model)
    dw = DatasetNoise(tuple(tr_x.shape[1:]), sigma0=0.25)
    train_ars(dw_model, dw, tr_x, tr_y, cfg, generator=_rng(args, 3), checkpoint=os.path.join(out, "ars-dataset.pt"))
    pi_model = copy.deepcopy(gauss_model)
    gen = NoiseGenerator(channels=tr_x.shape[1], sigma0=0.25)
    train_ars(pi_model, gen, tr_x, tr_y, cfg, generator=_rng(args, 4), checkpoint=os.path.join(out, "ars-generator.pt"))
    seconds = time.perf_counter() - t0
    timing = os.path.join(out, "ars-train-seconds.json")  # a resumed run reports the first run's time
    if os.path.exists(timing):
        seconds = json.loads(open(timing).read())["seconds"]
    else:
        atomic_write_text(timing, json.dumps({"seconds": seconds}))
    return (dw_model, dw), (pi_model, gen), seconds


# ---------------------------------------------------------------------------------------------
def superset_share(rows, dim, fam_key_aniso, fam_key_iso):
    """Share of inputs whose anisotropic (own, per-input) region contains the isotropic one."""
    a, _, _ = rows[fam_key_aniso]
    b, _, _ = rows[fam_key_iso]
    both = [(ra, rb) for ra, rb in zip(a, b) if ra.own_region is not None and rb.own_region is not None
            and ra.own_prediction == rb.own_prediction]
    if not both:
        return float("nan"), 0
    return float(np.mean([ra.own_region >= rb.own_region for ra, rb in both])), len(both)


def markdown(rows, dim, ys, args, extra) -> tuple[str, dict]:
    lines = ["# Anisotropic and data-dependent smoothing on Fashion-MNIST", "",
             f"{args.images} test images (embedded sample), n0 = {args.n0}, n = {args.n}, "
             f"alpha = {args.alpha}; optimization {args.iterations} iterations x {args.samples} samples.", "",
             "Certified accuracy at the radius of the largest ball inside each region (l2 rows: l2 radii "
             f"{', '.join(map(str, L2_RADII))}; l1 rows: l1 radii {', '.join(map(str, L1_RADII))}).", ""]
    head = "| method | norm | procedure | sound | " + " | ".join(f"r{i}" for i in range(len(L2_RADII))) + \
        " | ACR | proxy ACR | opt s/input | cert s/input | memory actions |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    summaries = {}
    for name, val in rows.items():
        if name.startswith("_"):
            continue
        recs, norm, opt_sec = val
        s = summarize(recs, ys, dim, name, include_unsound=True)  # one procedure per row: marked if unsound
        summaries[name] = s
        radii = L2_RADII if norm == "l2" else L1_RADII
        acc = [float(np.mean(s["radii"] >= t)) if t > 0 else s["accuracy"] for t in radii]
        cert_sec = float(np.mean([r.extra.get("cert_seconds", np.nan) for r in recs]))
        acts = ", ".join(f"{k} {v}" for k, v in s["actions"].items() if v)
        sound = "yes" if s["sound"] else "**NO - UNSOUND**"
        lines.append(f"| {s['name']} | {norm} | {s['procedures']} | {sound} | "
                     + " | ".join(f"{a:.2f}" for a in acc)
                     + f" | {s['acr']:.3f} | {s['proxy_acr']:.3f} | {float(np.mean(opt_sec)):.2f} | {cert_sec:.2f} | {acts} |")
    lines += ["", "Procedures: " + "; ".join(f"`{k}`: {v}" for k, v in PROCEDURES.items()), ""]
    lines += [f"- {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n", summaries


def figure(summaries, rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for name, s in summaries.items():
        norm = rows[name][1]
        ax = axes[0 if norm == "l2" else 1]
        grid = np.linspace(0, (L2_RADII if norm == "l2" else L1_RADII)[-1], 200)
        curve = [np.mean(s["radii"] >= t) if t > 0 else np.mean(s["radii"] > 0) for t in grid]
        ax.plot(grid, curve, ls="-" if s["sound"] else ":", label=s["name"])
    for ax, norm in zip(axes, ("l2", "l1")):
        ax.set_xlabel(f"{norm} radius (ball inside the certified region)")
        ax.set_ylabel("certified accuracy")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=6)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def pgd_study(args, out, xs, ys, dim, gauss_model, pi_model, gen):
    """ARS Sec. 6.3 / Table 3: certified accuracy before and after PGD l_inf 16/255 (10 steps)."""
    y = torch.as_tensor(ys)
    res = {}
    tag = f"{len(xs)}img"  # adversarial inputs depend on the whole batch: one set per image count
    adv_path = os.path.join(out, f"pgd-inputs-{tag}.pt")
    if os.path.exists(adv_path):
        adv_fixed, adv_ars = torch.load(adv_path)
    else:
        adv_fixed = pgd_linf(gauss_model, xs, y, eps=16 / 255, steps=10, noise_scale=0.25, samples=4,
                             generator=_rng(args, 5))
        adv_ars = pgd_linf(_ARSComposite(pi_model, gen), xs, y, eps=16 / 255, steps=10, samples=4)
        with atomic_path(adv_path) as tmp:
            torch.save((adv_fixed, adv_ars), tmp)
    cfg = dict(n0=args.n0, n=args.n, alpha=args.alpha, batch_size=args.batch_size)
    fixed = sc.get("cohen-gaussian-l2", sigma=0.25)
    recs = certify_sequence(gauss_model, adv_fixed, [fixed] * len(xs), "fixed-distribution",
                            checkpoint=os.path.join(out, f"certify-pgd-fixed-{tag}.npz"), desc="PGD fixed", **cfg)
    res["fixed sigma=0.25, after PGD"] = summarize(recs, ys, dim, "fixed")["accuracy"]
    mus, sigmas = generator_maps(gen, adv_ars)
    recs = certify_sequence(pi_model, adv_ars, [sc.get("ars-gaussian-l2", sigma=s) for s in sigmas],
                            "memory-based", shifts=list(mus), checkpoint=os.path.join(out, f"certify-pgd-ars-{tag}.npz"),
                            desc="PGD ARS", memory=_memory_path(out, ARS_GENERATOR_ROW), tag=f"PGD {tag}", **cfg)
    res["ARS generator (memory-based), after PGD"] = summarize(recs, ys, dim, "ars")["accuracy"]
    return res


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = args.out
    os.makedirs(out, exist_ok=True)
    xs, ys, tr_x, tr_y, source = load_data(args)
    rows, dim, gauss_model, ars = run_rows(args, out, xs, ys, tr_x, tr_y)
    shares = {}
    for fam, aniso, iso in (("gaussian", "ANCER ellipsoid", "data-dependent sigma(x)"),
                            ("uniform", "ANCER cross-polytope", "data-dependent half_width(x)")):
        ka = next(k for k in rows if k.startswith(aniso) and "no memory" not in k)
        ki = next(k for k in rows if k.startswith(iso) and "no memory" not in k)
        share, count = superset_share(rows, dim, ka, ki)
        shares[f"superset share {aniso} vs {iso} (per-input regions, ANCER Def. 1)"] = f"{share:.2f} of {count}"
    pgd = pgd_study(args, out, xs, ys, dim, gauss_model, ars[1][0], ars[1][1])
    clean = {"fixed sigma=0.25, clean": None, "ARS generator (memory-based), clean": None}
    for k in rows:
        if k.startswith("fixed sigma"):
            clean["fixed sigma=0.25, clean"] = summarize(rows[k][0], ys, dim)["accuracy"]
        if k == ARS_GENERATOR_ROW:
            clean["ARS generator (memory-based), clean"] = summarize(rows[k][0], ys, dim)["accuracy"]
    extra = {**shares, **{f"certified accuracy (radius > 0 or certified prediction) {k}": f"{v:.2f}"
                          for k, v in {**clean, **pgd}.items()},
             "ARS training": f"{rows['_train_seconds']:.0f} s for both noise models on {len(tr_x)} images "
                             f"({source}), {args.epochs} epoch(s)"}
    text, summaries = markdown(rows, dim, ys, args, extra)
    atomic_write_text(os.path.join(out, "summary.md"), text)
    for name, s in summaries.items():
        atomic_write_text(os.path.join(out, _slug(name) + ".tsv"), records_to_tsv(rows[name][0], ys, dim))
    figure(summaries, rows, os.path.join(out, "certified_accuracy.png"))
    atomic_write_text(os.path.join(out, "settings.json"), json.dumps(vars(args), indent=1))
    print(text)
    print("legend labels carry the soundness mark:", label_with_soundness("x", "per-input-unsound"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
