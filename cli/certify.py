"""``smoothcert certify``: Cohen et al.'s CERTIFY over a data set with a shipped, Cohen et al.'s or the
user's own model (fixed, sequential and top-k modes), resumable, with a run record."""

from __future__ import annotations

import math
import sys

from ..core.errors import BadInput
from .common import (
    EXIT_OK,
    Formatter,
    check_int,
    check_positive,
    check_unit,
    user_value,
)


# ---------------------------------------------------------------------------------------------
def add_certify(sub):
    p = sub.add_parser(
        "certify",
        help="certify a dataset slice with a model (writes Cohen-format TSV)",
        formatter_class=Formatter,
        description=(
            "Cohen et al. (2019) CERTIFY on every --skip-th input of a data set (a Fashion-MNIST split,\n"
            "or your own --data): one TSV row per input (idx label predict radius correct time, then\n"
            "certificate, pA_lower, pB_upper, counts, ...), full-precision radii, a progress bar.\n"
            "<out>.json records what produced the file (certificate and parameters, model and data\n"
            "with SHA-256 hashes, n0/n/alpha/rule/precision/seed/mode, versions). An interrupted run\n"
            "(even killed) resumes when started again with the same --out and the same settings; any\n"
            "difference is refused (exit 2) naming it. Under torchrun the inputs are sharded across\n"
            "ranks (<out>.rank<k>.tsv) and rank 0 merges them into --out.\n"
            "Noise is added in [0, 1] pixel units before the model's own normalization layer (Cohen et\n"
            "al.); the input shape comes from the data and is checked with one forward pass.\n"
            "The certificate's noise defaults to the model's training noise (matched by its\n"
            "per-coordinate std when --cert is another family); --sigma/--scale/--half-width override.\n"
            "On a CPU, Cohen's protocol (n = 100,000) costs minutes per image: see docs/guide.md.\n"
            "Double sampling (--cert dsrs-gaussian-l2, Li et al. 2022): n0 selection samples under P pick\n"
            "the class, then --n fresh samples under P and --n under Q (P truncated to the ball of\n"
            "P-mass --ball-mass); pA_lower (from P) and qA_lower (from Q) are Clopper-Pearson bounds at\n"
            "alpha/2 EACH, so both hold at once with probability >= 1 - alpha; the TSV gains the\n"
            "columns qA_lower and counts_q, mode = double, and <out>.json records the split.\n\n"
            "examples:\n"
            "  smoothcert certify --model mypkg.nets:make_net --weights net.pt --data test.npz \\\n"
            "      --cert cohen-gaussian-l2 --sigma 0.25 --n 10000 --out mine.tsv\n"
            "  smoothcert certify --model scripted.pt --data images/ --cert cohen-gaussian-l2 --sigma 0.5 --out s.tsv\n"
            "  smoothcert certify --model fmnist-gaussian-0.50 --n 10000 --skip 20 --out g050.tsv\n"
            "  smoothcert certify --model fmnist-laplace-0.50 --cert teng-laplace-l1 --split embedded \\\n"
            "      --n0 64 --n 1000 --max 50 --out lap.tsv\n"
            "  smoothcert certify --model fmnist-gaussian-0.25 --cert dsrs-gaussian-l2 --ball-mass 0.5 \\\n"
            "      --split embedded --n 50000 --max 20 --out dsrs.tsv\n"
            "  smoothcert certify --model my.pt --cert cohen-gaussian-l2 --sigma 0.25 --rule runner-up \\\n"
            "      --precision bfloat16 --out my.tsv\n"
            "  torchrun --standalone --nproc_per_node=2 -m smoothcert -- certify --model fmnist-gaussian-0.25 \\\n"
            "      --out g025.tsv    # the '--' stops torchrun from reading --n/--max as its own flags"
        ),
    )
    p.add_argument("--model", required=True,
                   help="shipped model name (fmnist-gaussian-0.25, fmnist-gaussian-0.50, "
                        "fmnist-laplace-0.50, fmnist-uniform-0.50), a checkpoint (ours or Cohen et "
                        "al.'s), a TorchScript or torch.export file, or an entry point "
                        "package.module:factory (factory() returns the nn.Module)")
    p.add_argument("--weights", default=None,
                   help="state-dict file loaded into an entry point's model (weights_only)")
    p.add_argument("--data", default=None,
                   help="your data: an ImageFolder folder, an .npz (images, labels), or an .npy / "
                        "idx image file with --labels; pixels uint8 or floats in [0, 1]")
    p.add_argument("--labels", default=None, help="labels (.npy or idx) for an .npy or idx --data file")
    p.add_argument("--cert", default=None, help="certificate name (default: the model's noise family)")
    p.add_argument("--sigma", type=float, default=None, help="Gaussian standard deviation")
    p.add_argument("--scale", type=float, default=None, help="Laplace scale b (std = sqrt(2) b)")
    p.add_argument("--half-width", type=float, default=None, help="uniform half-width lambda")
    p.add_argument("--ball-mass", type=float, default=None,
                   help="double sampling (dsrs-gaussian-l2): P-mass of the ball that truncates Q "
                        "(default 0.5)")
    p.add_argument("--k", type=float, default=None,
                   help="double sampling with the generalized Gaussian P ~ ||z||^-2k exp(-||z||^2/(2 s^2)) "
                        "(dsrs-general-gaussian-l2; Li et al. use k = d/2 - 12 on MNIST-sized inputs; default 0)")
    p.add_argument("--n0", type=int, default=100, help="selection samples per input")
    p.add_argument("--n", type=int, default=100_000,
                   help="estimation samples per input (double sampling: under P and again under Q)")
    p.add_argument("--alpha", type=float, default=0.001,
                   help="failure probability per input (double sampling: alpha/2 for pA, alpha/2 for qA)")
    p.add_argument("--batch", type=int, default=1000, help="noisy samples per model call")
    p.add_argument("--skip", type=int, default=1, help="certify every skip-th input")
    p.add_argument("--max", type=int, default=None, help="certify at most this many inputs")
    p.add_argument("--rule", default="binary", choices=("binary", "runner-up", "bonferroni"),
                   help="pB bound: binary (1 - pA) or a separate runner-up bound")
    p.add_argument("--precision", default="float32", choices=("float32", "float64", "bfloat16"),
                   help="model evaluation precision (noise is always sampled and added in float32+)")
    p.add_argument("--compile", default="auto", choices=("auto", "on", "off"),
                   help="torch.compile each batch's noise transform, add, forward, argmax and tally as one step "
                        "(auto: CUDA only; on the CPU 'on' pays in long runs: 1.6x samples per CPU-second "
                        "after a compile of about 2 minutes)")
    p.add_argument("--mode", default="fixed", choices=("fixed", "target", "budget"),
                   help="fixed n (Cohen); target: sequential, decide certification at --radii; "
                        "budget: sequential radius with --n as the budget, stop within --tol")
    p.add_argument("--radii", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0],
                   help="target mode: the radii to decide")
    p.add_argument("--tol", type=float, default=None,
                   help="budget mode: radius tolerance (default 0.02 x the noise std)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (auto: cuda when present)")
    p.add_argument("--seed", type=int, default=0, help="run seed (per-input seeds derive from it)")
    p.add_argument("--out", required=True, help="output TSV (resumed when it exists)")
    p.add_argument("--data-root", default=None, help="folder with the Fashion-MNIST idx files")
    p.add_argument("--split", default=None, choices=("test", "train", "embedded"),
                   help="Fashion-MNIST split without --data (default test; embedded: the 500 test "
                        "images shipped in the package)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--top-k", type=int, default=None, metavar="K",
                   help="certify that the true label stays in the smoothed top-K set (Jia et al. "
                        "2020; isotropic Gaussian noise; one TSV written at the end, no resume)")
    p.set_defaults(func=_run_certify)


def _check_certify_args(args) -> None:
    """The numeric options of ``certify`` (exit 2 before the model is loaded)."""
    for flag in ("sigma", "scale", "half_width", "tol"):
        check_positive("--" + flag.replace("_", "-"), getattr(args, flag))
    check_positive("--radii", list(args.radii))
    for flag in ("n0", "n", "batch", "skip", "max", "threads"):
        check_int("--" + flag, getattr(args, flag), 1)
    check_int("--seed", args.seed, 0)
    check_unit("--alpha", args.alpha)
    check_unit("--ball-mass", args.ball_mass)


def _certify_data(args) -> dict:
    """``{"images", "labels", "source", "sha256", "shape"}`` of --data or the Fashion-MNIST --split."""
    from ..gpu_sampler.data import (
        array_sha256,
        embedded_sample,
        load_fashion_mnist,
        load_user_data,
    )

    if args.data is not None:
        if args.split is not None:
            raise BadInput(f"--split {args.split} reads Fashion-MNIST: give --data or --split, not both")
        return load_user_data(args.data, args.labels)
    if args.labels is not None:
        raise BadInput(f"--labels {args.labels!r} goes with --data")
    split = args.split or "test"
    if split == "embedded":
        images, labels = embedded_sample()
        source = "embedded Fashion-MNIST test images 0-499"
    else:
        try:
            images, labels = load_fashion_mnist(split, args.data_root)
        except FileNotFoundError as exc:
            raise BadInput(str(exc).replace("\n", " ")) from exc
        source = f"Fashion-MNIST {split} split"
    return {"images": images, "labels": labels, "source": source,
            "sha256": array_sha256(images, labels), "shape": (1,) + images.shape[1:]}


def _run_certify(args) -> int:
    import torch

    from ..bounds import certificate_class
    from ..gpu_sampler.dataset import certify_dataset, dist_context, rank_device
    from ..gpu_sampler.user_model import load_model, probe_model

    _check_certify_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        _, world, local = dist_context()
        device = str(rank_device(local)) if torch.cuda.is_available() else "cpu"
    data = _certify_data(args)
    model, info = user_value("--model", load_model, args.model, args.weights, device)
    num_labels = int(data["labels"].max()) + 1 if len(data["labels"]) else None
    probe_model(model, data["shape"], args.model, arch=info["arch"], num_labels=num_labels, device=device)
    cert_name = args.cert or info.get("certificate")
    if cert_name is None:
        raise BadInput(f"model={args.model!r} records no training noise: pass --cert")
    explicit = {"sigma": args.sigma, "scale": args.scale, "half_width": args.half_width}
    if all(v is None for v in explicit.values()):  # the recorded parameter itself, not via its std
        explicit = {k: info.get(k) for k in explicit}
    if all(v is None for v in explicit.values()) and "std" not in info:
        raise BadInput(f"model={args.model!r} records no training noise: pass --sigma, --scale "
                         "or --half-width")
    cls = user_value("--cert", certificate_class, cert_name)
    dim = math.prod(data["shape"])
    if args.ball_mass is not None:
        explicit["ball_mass"] = args.ball_mass
    if args.k is not None:
        explicit["k"] = args.k
    cert = user_value(f"--cert {cert_name}", cls.from_std, info.get("std"), dim=dim, **explicit)
    if args.k is not None and "k" not in cert.params:
        raise BadInput(f"--k {args.k} is a parameter of dsrs-general-gaussian-l2; {cert_name} has no k")
    if args.ball_mass is not None and "ball_mass" not in cert.params:
        raise BadInput(f"--ball-mass {args.ball_mass} is a double-sampling option; {cert_name} "
                       "smooths with one distribution")
    _check_double(args, cert)
    data_info = {k: (list(v) if k == "shape" else v) for k, v in data.items() if k not in ("images", "labels")}
    if args.top_k is not None:
        return _run_certify_topk(args, cert, model, data, device, info, data_info)
    print(f"certify {data['source']} {data['shape']} with {info['name']} under {cert!r}: n0={args.n0}, "
          f"n={args.n}, alpha={args.alpha}, rule={args.rule}, precision={args.precision}, device={device}",
          file=sys.stderr)
    out = certify_dataset(model, cert, data["images"], data["labels"], args.out, n0=args.n0, n=args.n,
                          alpha=args.alpha, batch_size=args.batch, skip=args.skip,
                          max_count=args.max, rule=args.rule, precision=args.precision,
                          seed=args.seed, progress=not args.no_progress, device=device,
                          mode=args.mode, radii=tuple(args.radii), tol=args.tol,
                          model_info=info, data_info=data_info,
                          compile={"auto": "auto", "on": True, "off": False}[args.compile])
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK


def _check_double(args, cert) -> None:
    """A double-sampling certificate (two count sets, fixed n each, binary) with the options
    that fit it (exit 2 before any sample is drawn)."""
    from ..gpu_sampler.double_sampling import takes_second_sample

    if not takes_second_sample(cert):
        return
    for flag, value, ok in (("--mode", args.mode, "fixed"), ("--rule", args.rule, "binary")):
        if value != ok:
            raise BadInput(f"{flag} {value} does not apply to {cert.name} (double sampling: "
                           f"{flag} {ok})")
    if args.top_k is not None:
        raise BadInput(f"--top-k does not apply to {cert.name} (double sampling)")


def _run_certify_topk(args, cert, model, data, device, model_info, data_info) -> int:
    """``certify --top-k K``: the Gaussian noise of ``cert`` under jia-gaussian-topk-l2, resumable
    with a run record as the other runs (gpu_sampler/topk_dataset.py)."""
    import numpy as np

    from ..bounds import get
    from ..gpu_sampler.topk_dataset import certify_topk_dataset

    check_int("--top-k", args.top_k, 1)
    if cert.noise.family != "gaussian" or np.ndim(cert.noise["sigma"]) != 0:
        raise BadInput(f"--top-k needs isotropic Gaussian noise, got {cert!r}")
    topk = get("jia-gaussian-topk-l2", sigma=cert.noise["sigma"], k=args.top_k)
    print(f"certify top-{args.top_k} on {data['source']} under {topk!r}: n0={args.n0}, n={args.n}, "
          f"alpha={args.alpha}, device={device}", file=sys.stderr)
    out = certify_topk_dataset(model, topk, data["images"], data["labels"], args.out, n0=args.n0,
                               n=args.n, alpha=args.alpha, batch_size=args.batch, skip=args.skip,
                               max_count=args.max, precision=args.precision, seed=args.seed,
                               device=device, progress=not args.no_progress,
                               model_info=model_info, data_info=data_info)
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK
