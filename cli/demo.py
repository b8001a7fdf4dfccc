"""``smoothcert demo``: the main job, certifying the embedded Fashion-MNIST sample with the shipped
models, then drawing the comparison figure."""

from __future__ import annotations

import argparse

from .common import EXIT_OK, Formatter, check_int, check_unit, require


def add_demo(sub):
    p = sub.add_parser(
        "demo",
        help="certify the embedded Fashion-MNIST sample with the shipped models",
        formatter_class=Formatter,
        description=(
            "The main job: certify embedded Fashion-MNIST test images with the shipped models under\n"
            "cohen-gaussian-l2 (sigma 0.5), teng-laplace-l1 (b = 0.5/sqrt 2) and uniform-l1\n"
            "(lambda = 0.5 sqrt 3) -- all at noise std 0.5 -- print certified accuracy on a radius\n"
            "grid and the average certified radius, and save TSVs and a certified-accuracy figure.\n"
            "The defaults run in under three minutes on two CPU cores.\n\n"
            "examples:\n"
            "  smoothcert demo\n"
            "  smoothcert demo --images 500 --n 10000 --out-dir big_demo"
        ),
    )
    # Run sizes default to smoothcert.gpu_sampler.demo.DEFAULTS (not imported here: it needs torch).
    keep = argparse.SUPPRESS
    p.add_argument("--out-dir", default="demo_output", help="folder for the TSVs and the figure")
    p.add_argument("--images", type=int, default=keep,
                   help="number of embedded test images, evenly spaced among 500 (default: 100)")
    p.add_argument("--n0", type=int, default=keep, help="selection samples per input (default: 64)")
    p.add_argument("--n", type=int, default=keep, help="estimation samples per input (default: 500)")
    p.add_argument("--alpha", type=float, default=keep, help="failure probability per input (default: 0.001)")
    p.add_argument("--batch", type=int, default=keep, help="noisy samples per model call (default: 1000)")
    p.add_argument("--precision", default="float32", choices=("float32", "float64", "bfloat16"))
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (auto: cuda when present)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="resume the TSVs in --out-dir instead of starting afresh")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    import torch

    for flag in ("images", "n0", "n", "batch"):
        check_int("--" + flag, getattr(args, flag, None), 1)
    require(getattr(args, "images", 1) <= 500, "--images", getattr(args, "images", 1), "at most 500")
    check_unit("--alpha", getattr(args, "alpha", None))

    from ..gpu_sampler.demo import run_demo

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    sizes = {key: getattr(args, flag) for flag, key in
             (("images", "num_images"), ("n0", "n0"), ("n", "n"), ("alpha", "alpha"), ("batch", "batch_size"))
             if hasattr(args, flag)}
    results = run_demo(args.out_dir, seed=args.seed, precision=args.precision, device=device,
                       resume=args.resume, progress=not args.no_progress, **sizes)
    print(f"figure (l1 radius, where all three certificates apply): {', '.join(_draw(results, args.out_dir))}")
    return EXIT_OK


def _draw(results, out_dir) -> list[str]:
    """Certified accuracy against the l1 radius, one curve per certificate. A Gaussian l2 radius R
    also certifies the l1 ball of radius R (||delta||_2 <= ||delta||_1), so all three are valid."""
    import os

    from ..figures import certified_accuracy_figure

    base = os.path.join(out_dir, "certified_accuracy")
    certified_accuracy_figure([r.path for r in results], labels=[f"{r.certificate} ({r.model})" for r in results],
                              norm="$\\ell_1$", show_envelope=False, path=base,
                              title="Fashion-MNIST, noise std 0.5, certified $\\ell_1$ radius")
    return [base + ".png", base + ".pdf"]
