"""Certified accuracy of one shipped model under every noise family of the zoo (issue: the noise zoo).

For each registered noise family with a torch sampler (``gpu_sampler.noise.samplers()``), the
shipped model (default ``fmnist-gaussian-0.50``, trained with Gaussian noise of std 0.5) is
certified on the embedded Fashion-MNIST sample under that family's noise at the same
per-coordinate std, with Cohen et al.'s CERTIFY (``gpu_sampler.dataset.certify_dataset``: n0
selection samples, n estimation samples, Clopper-Pearson at alpha, binary rule). One sampling run
per noise law: the family's certificates built at that std with the same law share its counts
(each re-certified from the stored counts with ``estimators.certify_counts``, which is what
CERTIFY does). Families and certificates are discovered from the registries, built by
``figures.zoo.build_matched`` (the same as the zoo figures), never listed here.

Writes a Markdown table per norm (certified accuracy at r = 0 and a few radii in the
certificate's own norm, ACR) to ``--out`` and keeps one Cohen-format TSV per family in
``--work`` under a folder named after the model file's SHA-256, so an interrupted run resumes and a
retrained model starts afresh.

    nice -n 10 python benchmarks/zoo_certified_accuracy.py --threads 1        # 100 images
    python benchmarks/zoo_certified_accuracy.py --max-count 20 --out /tmp/z.md  # quick check
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

#: Radii of the table columns, in the certificate's own norm (l_inf radii are ~1/50 of the others
#: at this noise: Yang et al.'s cube laws certify ~1e-3, Laplace ~3e-2 at d = 784).
RADII = {"l1": (0.25, 0.5, 1.0), "l2": (0.25, 0.5, 1.0), "linf": (0.002, 0.01, 0.02)}


def _law(noise) -> tuple:
    """A hashable key of a noise law: its family and parameters, a per-coordinate array whose
    entries are all equal read as that one value (the same law as the scalar)."""
    def plain(v):
        a = np.asarray(v)
        return a.flat[0].item() if a.size and np.all(a == a.flat[0]) else a.tolist()

    return noise.family, repr(sorted((k, plain(v)) for k, v in noise.params.items()))


def noise_groups(std: float, dim: int):
    """``({law key: [certificates]}, skipped reasons)``: every registered certificate whose family
    has a sampler, built at ``std`` in ``dim``, grouped by the noise law they smooth with."""
    from smoothcert.bounds import certificate_class, certificates
    from smoothcert.figures.zoo import build_matched, extra_inputs
    from smoothcert.gpu_sampler.noise import samplers

    have, groups, skipped = set(samplers()), {}, []
    for name in certificates():
        family = certificate_class(name).family
        if family not in have:
            skipped.append(f"{name}: no sampler for family {family}")
            continue
        cert, why = build_matched(name, std, dim)
        if cert is None:
            skipped.append(why)
            continue
        if extra_inputs(cert):  # DSRS's q_a: counts under a second noise
            skipped.append(f"{name}: needs {', '.join(extra_inputs(cert))} besides this noise's counts")
            continue
        groups.setdefault(_law(cert.noise), []).append(cert)
    return groups, skipped


def recertify(rows, cert, alpha: float):
    """(radius, correct) of ``cert`` from the stored counts of a certify_dataset file: CERTIFY's
    last step (``certify_counts`` with the selection counts), binary rule."""
    from smoothcert.estimators import certify_counts

    est = np.array([[int(v) for v in r["counts"].split(",")] for r in rows])
    sel = np.array([[int(v) for v in r["counts_select"].split(",")] for r in rows])
    pred, radius = certify_counts(est, cert, alpha, select=sel)
    labels = np.array([int(r["label"]) for r in rows])
    return np.asarray(radius, dtype=float), (np.asarray(pred) == labels)


def table(norm: str, results) -> str:
    """Markdown table of one norm: certified accuracy at r = 0 and RADII[norm], and ACR."""
    radii = (0.0,) + RADII[norm]
    lines = [f"### {norm} certificates", "",
             "| certificate | family (noise std 0.5) | " + " | ".join(f"r = {r:g}" for r in radii)
             + " | ACR | images |", "|---|---|" + "---|" * (len(radii) + 2)]
    for name, family, radius, correct in results:
        acc = [float(np.mean(correct & (radius >= r))) for r in radii]
        acr = float(np.mean(np.where(correct, radius, 0.0)))
        lines.append(f"| `{name}` | {family} | " + " | ".join(f"{a:.3f}" for a in acc)
                     + f" | {acr:.4g} | {radius.size} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="fmnist-gaussian-0.50", help="shipped model name")
    ap.add_argument("--std", type=float, default=0.5, help="per-coordinate noise std of every family")
    ap.add_argument("--skip", type=int, default=5, help="every skip-th embedded image")
    ap.add_argument("--max-count", type=int, default=None, help="at most this many images")
    ap.add_argument("--n0", type=int, default=100)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=0.001)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--device", default="cpu", help="torch device of the model and the noise (cuda for a GPU)")
    ap.add_argument("--work", default="benchmarks/results/zoo_certified_accuracy",
                    help="folder of the per-family TSV files (resumable)")
    ap.add_argument("--out", default="benchmarks/results/zoo_certified_accuracy.md", help="Markdown tables")
    args = ap.parse_args(argv)

    import torch

    from smoothcert.core.atomic import atomic_write_text
    from smoothcert.gpu_sampler.data import embedded_sample
    from smoothcert.gpu_sampler.dataset import certify_dataset, read_rows
    from smoothcert.gpu_sampler.models import shipped_file_sha256, shipped_model, shipped_noise

    torch.set_num_threads(args.threads)
    model = shipped_model(args.model, device=args.device)
    sha = shipped_file_sha256(args.model + ".pt")
    images, labels = embedded_sample()
    dim = int(np.prod(images.shape[1:]))
    work = os.path.join(args.work, f"{args.model}-{sha[:12]}")
    os.makedirs(work, exist_ok=True)
    groups, skipped = noise_groups(args.std, dim)
    by_norm: dict[str, list] = {}
    t_start = time.perf_counter()
    for (family, _), certs in sorted(groups.items()):
        # the sampling run uses a certificate with scalar noise parameters where there is one
        rep = next((c for c in certs if all(np.ndim(v) == 0 for v in c.noise.params.values())), certs[0])
        tag = family + ("" if sum(k[0] == family for k in groups) == 1 else f"-{rep.name}")
        t0 = time.perf_counter()
        path = certify_dataset(model, rep, images, labels, os.path.join(work, f"{tag}.tsv"),
                               n0=args.n0, n=args.n, alpha=args.alpha, batch_size=args.batch_size,
                               skip=args.skip, max_count=args.max_count, seed=args.seed,
                               progress=False, compile=False)
        rows = read_rows(path)
        print(f"{tag}: {len(rows)} images in {time.perf_counter() - t0:.0f} s "
              f"({', '.join(c.name for c in certs)})", file=sys.stderr, flush=True)
        for cert in certs:
            radius, correct = recertify(rows, cert, args.alpha)
            by_norm.setdefault(cert.norm, []).append((cert.name, family, radius, correct))
    trained = shipped_noise(args.model)
    header = (f"Model `{args.model}` (sha256 {sha[:12]}...), trained with {trained['family']} noise of "
              f"std {trained['std']:g}: the other families are certified on a model never trained "
              f"with their noise, so they are disadvantaged. Embedded Fashion-MNIST test images 0, "
              f"{args.skip}, {2 * args.skip}, ... ({len(rows)} images), n0 = {args.n0}, n = {args.n}, "
              f"alpha = {args.alpha:g} per image, seed {args.seed}, binary rule; radii in the "
              "certificate's own norm; certified accuracy = correct and radius >= r.")
    parts = [f"# Certified accuracy per noise family ({args.model})", "",
             "Written by `python benchmarks/zoo_certified_accuracy.py "
             + " ".join(argv if argv is not None else sys.argv[1:]) + "`"
             + f" in {time.perf_counter() - t_start:.0f} s.", "", header, ""]
    for norm in ("l1", "l2", "linf"):
        if norm in by_norm:
            parts.append(table(norm, by_norm[norm]))
    if skipped:
        parts += ["Not certified here:", ""] + [f"- {why}" for why in skipped] + [""]
    text = "\n".join(parts)
    atomic_write_text(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
