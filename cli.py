"""The ``smoothcert`` command line.

Subcommands: ``list``, ``radius``, ``certify``, ``verify``, ``figures``, ``demo``. Each has
``--help`` with examples. Exit codes: 0 success, 1 a check failed (``verify``), 2 bad usage or
bad input (a one-line message says what to fix). Options are validated here, at the boundary,
and a bad value raises :class:`~smoothcert.core.errors.BadInput`; ``main`` turns only that
into exit 2, so any other exception is a bug and surfaces with its traceback (exit 1). Heavy parts (torch, matplotlib) are imported only by
the subcommands that need them, so ``list`` and ``radius`` work with the core install alone.
"""

from __future__ import annotations

import argparse
import math
import sys

from .core.errors import BadInput

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def _floats(text: str):
    """A float or a comma-separated list of floats (per-coordinate parameters)."""
    try:
        vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or comma-separated numbers, got {text!r}")
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one number")
    return vals[0] if len(vals) == 1 else vals


# ---------------------------------------------------------------------------------------------
# Input validation at the boundary: every bad option value raises BadInput (exit 2), before any
# work starts; an exception of any other type below is a bug and keeps its traceback (exit 1).
def _require(ok: bool, flag: str, value, need: str) -> None:
    if not ok:
        raise BadInput(f"{flag} must be {need}, got {value!r}")


def _check_positive(flag: str, value) -> None:
    """None (not given), or a finite number > 0, or a list of them."""
    for v in ([] if value is None else value if isinstance(value, list) else [value]):
        _require(math.isfinite(v) and v > 0, flag, v, "finite and > 0")


def _check_int(flag: str, value, minimum: int) -> None:
    """None (not given) or an integer >= minimum."""
    if value is not None:
        _require(value >= minimum, flag, value, f"an integer >= {minimum}")


def _check_unit(flag: str, value) -> None:
    """None (not given) or a probability strictly between 0 and 1."""
    if value is not None:
        _require(0 < value < 1, flag, value, "in (0, 1)")


def _user_value(flag: str, build, *args, **kwargs):
    """``build(*args, **kwargs)`` on values the user gave; the library's ValueError refusing them
    becomes BadInput naming ``flag``. Only for calls whose inputs are all user-given."""
    try:
        return build(*args, **kwargs)
    except BadInput:
        raise
    except ValueError as exc:
        raise BadInput(f"{flag}: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# list
def _add_list(sub):
    p = sub.add_parser(
        "list",
        help="list the registered certificates",
        formatter_class=_Formatter,
        description="List every registered certificate with its norm, tightness and citation.\n\n"
        "example:\n  smoothcert list",
    )
    p.set_defaults(func=_run_list)


def _run_list(args) -> int:
    from .bounds import certificate_class, certificates

    rows = []
    for name in certificates():
        cls = certificate_class(name)
        rows.append((name, cls.norm, "tight" if cls.tight else "", cls.citation))
    w = max(len(r[0]) for r in rows)
    for name, norm, tight, cit in rows:
        print(f"{name:<{w}}  {norm:<4}  {tight:<5}  {cit}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# radius
#: How a declared parameter's ``kind`` (bounds/family.py ``Param``) is read from the command line.
_KIND_TYPES = {"real": float, "reals": _floats, "int": int}


def _flag(param: str) -> str:
    """The option of a noise-family parameter: ``half_width`` -> ``--half-width``."""
    return "--" + param.replace("_", "-")


def _add_radius(sub):
    from .bounds.family import family_params

    declared = family_params()
    p = sub.add_parser(
        "radius",
        help="certified radius of every (or selected) certificate for given pA, pB",
        formatter_class=_Formatter,
        description=(
            "Print the certified radius (and the region summary of anisotropic certificates)\n"
            "for bounds pA (top class) and pB (runner-up; omit for the binary case pB = 1 - pA).\n"
            "Noise is matched by its per-coordinate standard deviation --std unless a family's\n"
            "own parameter is given; each certificate receives the parameters its noise family\n"
            "declares (" + ", ".join(_flag(n) for n in declared) + ").\n\n"
            "examples:\n"
            "  smoothcert radius --pa 0.99 --sigma 0.5\n"
            "  smoothcert radius --pa 0.9 --pb 0.05 --std 0.5 --dim 784\n"
            "  smoothcert radius --pa 0.99 --cert teng-laplace-l1 --scale 0.35"
        ),
    )
    p.add_argument("--pa", type=float, required=True, help="lower bound on the top-class probability")
    p.add_argument("--pb", type=float, default=None, help="upper bound on the runner-up (default: 1 - pA)")
    p.add_argument("--std", type=_floats, default=None,
                   help="per-coordinate noise standard deviation used to match every family (default 0.5)")
    p.add_argument("--dim", type=int, default=None,
                   help="input dimension: the shape of anisotropic noise and regions"
                        + (f"; {declared['dim'].help}" if "dim" in declared else ""))
    for name, par in declared.items():
        if name != "dim":
            default = "" if par.required else f" (family default {par.default!r})"
            p.add_argument(_flag(name), dest=f"noise_{name}", metavar=name.upper(), type=_KIND_TYPES[par.kind], default=None,
                           help=f"{par.help}{default}")
    p.add_argument("--cert", action="append", default=None, help="certificate name (repeatable; default all)")
    p.set_defaults(func=_run_radius)


def _given_noise_params(args) -> dict:
    """The noise-family parameters given on the command line, by parameter name."""
    given = {k[len("noise_"):]: v for k, v in vars(args).items() if k.startswith("noise_") and v is not None}
    if args.dim is not None:
        given["dim"] = args.dim
    return given


def _check_radius_args(args, classes) -> dict:
    """The options of ``radius`` for the selected certificate classes (exit 2 before any work):
    --std finite and > 0, --dim >= 1, a possible (pA, pB) pair; each given noise parameter
    declared by a selected certificate's family and meeting that family's constraint, a list
    for an anisotropic certificate's scale one entry per coordinate of --dim. Returns the given
    noise parameters (cleaned values not kept: each family cleans its own)."""
    from .bounds.family import noise_family
    from .core.checks import check_probability_pair

    _check_positive("--std", args.std)
    if isinstance(args.std, list) and args.dim is not None and len(args.std) != args.dim:
        raise BadInput(f"--std has {len(args.std)} entries but --dim is {args.dim}")
    _check_int("--dim", args.dim, 1)
    _user_value("--pa/--pb", check_probability_pair, args.pa, args.pb)
    given = _given_noise_params(args)
    families = {cls.family: noise_family(cls.family) for cls in classes}
    for name, value in given.items():
        owners = [f for f in families.values() if name in f.param_names()]
        if not owners and name != "dim":
            raise BadInput(f"{_flag(name)} is not a parameter of the selected certificates' noise "
                           f"families ({', '.join(sorted(families))})")
        if name != "dim":  # --dim is also the shape hint; a family that needs more refuses it below
            _accepted_by_one(name, value, owners)
        per_coordinate = any(c.isotropic_counterpart and families[c.family].scale_param == name for c in classes)
        if isinstance(value, list) and args.dim is not None and per_coordinate and len(value) != args.dim:
            raise BadInput(f"{_flag(name)} has {len(value)} entries but --dim is {args.dim}")
    return given


def _accepted_by_one(name: str, value, owners) -> None:
    """BadInput naming the flag unless one of the declaring families' constraints accepts
    ``value`` (a list that only some take, --sigma 0.5,0.25, is refused by the others' certificates
    one by one: skipped, or exit 2 when named)."""
    errors = []
    for fam in owners:
        try:
            fam.param(name).constraint(name, value)
            return
        except (ValueError, TypeError) as exc:
            errors.append(exc)
    raise BadInput(f"{_flag(name)}: {errors[0]}") from errors[0]


def _radius_certificate(cls, std, args, given):
    """(certificate, None), or (None, why) when a family does not fit the options (a list where it
    takes a scalar, Zhang's k < dim >= 2, a parameter without default that was not given). A
    certificate named with --cert that does not fit is bad input; one not named is skipped with
    the reason."""
    from .bounds.family import noise_family

    fam = noise_family(cls.family)
    own = {k: v for k, v in given.items() if k in fam.param_names() and k != "dim"}  # dim: below
    try:
        return cls.from_std(std, dim=args.dim, **own), None
    except ValueError as exc:
        if args.cert:
            raise BadInput(f"--cert {cls.name}: {exc}") from exc
        return None, str(exc)


def _run_radius(args) -> int:
    from .bounds import certificate_class, certificates

    names = args.cert or certificates()
    classes = [_user_value("--cert", certificate_class, name) for name in names]
    given = _check_radius_args(args, classes)
    std = args.std if args.std is not None else 0.5
    print(f"pA = {args.pa!r}, pB = {'1 - pA' if args.pb is None else repr(args.pb)}")
    for name, cls in zip(names, classes):
        if cls.binary_only and args.pb is not None:
            print(f"{name:<26} (binary theorem: skipped for a given pB)")
            continue
        cert, why = _radius_certificate(cls, std, args, given)
        if cert is None:
            print(f"{name:<26} skipped: {why}")
            continue
        r = cert.radius(args.pa, args.pb)
        line = f"{name:<26} {cert.norm:<4} R = {r!r:<24}"
        try:
            reg = cert.region(args.pa, args.pb)
        except NotImplementedError:
            reg = None
        if reg is not None and getattr(reg, "dim", None) is not None:
            line += (f" region: gap={reg.gap:.6g} enclosed={reg.enclosed_radius():.6g} "
                     f"proxy={reg.proxy_radius():.6g} log-volume={reg.log_volume():.6g}")
        print(line)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# certify, verify, figures, demo: filled in by their owners (each function only).
def _add_certify(sub):
    p = sub.add_parser(
        "certify",
        help="certify a dataset slice with a model (writes Cohen-format TSV)",
        formatter_class=_Formatter,
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
            "On a CPU, Cohen's protocol (n = 100,000) costs minutes per image: see docs/guide.md.\n\n"
            "examples:\n"
            "  smoothcert certify --model mypkg.nets:make_net --weights net.pt --data test.npz \\\n"
            "      --cert cohen-gaussian-l2 --sigma 0.25 --n 10000 --out mine.tsv\n"
            "  smoothcert certify --model scripted.pt --data images/ --cert cohen-gaussian-l2 --sigma 0.5 --out s.tsv\n"
            "  smoothcert certify --model fmnist-gaussian-0.50 --n 10000 --skip 20 --out g050.tsv\n"
            "  smoothcert certify --model fmnist-laplace-0.50 --cert teng-laplace-l1 --split embedded \\\n"
            "      --n0 64 --n 1000 --max 50 --out lap.tsv\n"
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
    p.add_argument("--n0", type=int, default=100, help="selection samples per input")
    p.add_argument("--n", type=int, default=100_000, help="estimation samples per input")
    p.add_argument("--alpha", type=float, default=0.001, help="failure probability per input")
    p.add_argument("--batch", type=int, default=1000, help="noisy samples per model call")
    p.add_argument("--skip", type=int, default=1, help="certify every skip-th input")
    p.add_argument("--max", type=int, default=None, help="certify at most this many inputs")
    p.add_argument("--rule", default="binary", choices=("binary", "runner-up", "bonferroni"),
                   help="pB bound: binary (1 - pA) or a separate runner-up bound")
    p.add_argument("--precision", default="float32", choices=("float32", "float64", "bfloat16"),
                   help="model evaluation precision (noise is always sampled and added in float32+)")
    p.add_argument("--compile", default="auto", choices=("auto", "on", "off"),
                   help="torch.compile the forward step (auto: CUDA only; on the CPU 'on' pays in long runs: "
                        "1.5x samples per CPU-second after a 14-60 s compile)")
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
        _check_positive("--" + flag.replace("_", "-"), getattr(args, flag))
    _check_positive("--radii", list(args.radii))
    for flag in ("n0", "n", "batch", "skip", "max", "threads"):
        _check_int("--" + flag, getattr(args, flag), 1)
    _check_int("--seed", args.seed, 0)
    _check_unit("--alpha", args.alpha)


def _certify_data(args) -> dict:
    """``{"images", "labels", "source", "sha256", "shape"}`` of --data or the Fashion-MNIST --split."""
    from .gpu_sampler.data import array_sha256, embedded_sample, load_fashion_mnist, load_user_data

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

    from .bounds import certificate_class
    from .gpu_sampler.dataset import certify_dataset, dist_context, rank_device
    from .gpu_sampler.user_model import load_model, probe_model

    _check_certify_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        _, world, local = dist_context()
        device = str(rank_device(local)) if torch.cuda.is_available() else "cpu"
    data = _certify_data(args)
    model, info = _user_value("--model", load_model, args.model, args.weights, device)
    num_labels = int(data["labels"].max()) + 1 if len(data["labels"]) else None
    probe_model(model, data["shape"], args.model, arch=info["arch"], num_labels=num_labels, device=device)
    cert_name = args.cert or info.get("certificate")
    if cert_name is None:
        raise BadInput(f"model={args.model!r} records no training noise: pass --cert")
    explicit = {"sigma": args.sigma, "scale": args.scale, "half_width": args.half_width}
    if all(v is None for v in explicit.values()) and "std" not in info:
        raise BadInput(f"model={args.model!r} records no training noise: pass --sigma, --scale "
                         "or --half-width")
    cls = _user_value("--cert", certificate_class, cert_name)
    dim = math.prod(data["shape"])
    cert = _user_value(f"--cert {cert_name}", cls.from_std, info.get("std"), dim=dim, **explicit)
    if args.top_k is not None:
        return _run_certify_topk(args, cert, model, data, device)
    print(f"certify {data['source']} {data['shape']} with {info['name']} under {cert!r}: n0={args.n0}, "
          f"n={args.n}, alpha={args.alpha}, rule={args.rule}, precision={args.precision}, device={device}",
          file=sys.stderr)
    data_info = {k: (list(v) if k == "shape" else v) for k, v in data.items() if k not in ("images", "labels")}
    out = certify_dataset(model, cert, data["images"], data["labels"], args.out, n0=args.n0, n=args.n,
                          alpha=args.alpha, batch_size=args.batch, skip=args.skip,
                          max_count=args.max, rule=args.rule, precision=args.precision,
                          seed=args.seed, progress=not args.no_progress, device=device,
                          mode=args.mode, radii=tuple(args.radii), tol=args.tol,
                          model_info=info, data_info=data_info,
                          compile={"auto": "auto", "on": True, "off": False}[args.compile])
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK


def _run_certify_topk(args, cert, model, data, device) -> int:
    """``certify --top-k K``: the Gaussian noise of ``cert`` under jia-gaussian-topk-l2."""
    import numpy as np

    from .bounds import get
    from .gpu_sampler.topk_dataset import certify_topk_dataset

    _check_int("--top-k", args.top_k, 1)
    if cert.noise.family != "gaussian" or np.ndim(cert.noise["sigma"]) != 0:
        raise BadInput(f"--top-k needs isotropic Gaussian noise, got {cert!r}")
    topk = get("jia-gaussian-topk-l2", sigma=cert.noise["sigma"], k=args.top_k)
    print(f"certify top-{args.top_k} on {data['source']} under {topk!r}: n0={args.n0}, n={args.n}, "
          f"alpha={args.alpha}, device={device}", file=sys.stderr)
    out = certify_topk_dataset(model, topk, data["images"], data["labels"], args.out, n0=args.n0,
                               n=args.n, alpha=args.alpha, batch_size=args.batch, skip=args.skip,
                               max_count=args.max, precision=args.precision, seed=args.seed,
                               device=device, progress=not args.no_progress)
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK


def _add_verify(sub):
    p = sub.add_parser(
        "verify",
        help="run the numeric verifier over every certificate",
        formatter_class=_Formatter,
        description=(
            "Check every registered certificate against mathematics that does not share its code\n"
            "path: float radius vs mpmath twin (over-reports must be 0), worst-case witnesses with\n"
            "exact smoothed probabilities, Monte Carlo validation with random classifiers, sympy\n"
            "identities and volumes, and the errata report. Prints one table; exit status 1 if\n"
            "any certificate fails (accuracy warnings below a twin tolerance do not fail).\n\n"
            "examples:\n"
            "  smoothcert verify --quick\n"
            "  smoothcert verify --cert cohen-gaussian-l2 --cert teng-laplace-l1 --quick\n"
            "  smoothcert verify --json report.json --markdown report.md   # full (release) mode"
        ),
    )
    p.add_argument("--quick", action="store_true", help="small budgets (under two minutes on two cores)")
    p.add_argument("--json", metavar="PATH", default=None, help="write the full report as JSON")
    p.add_argument("--markdown", metavar="PATH", default=None, help="write the table and errata as Markdown")
    p.add_argument("--summary-json", metavar="PATH", default=None,
                   help="write the compact per-certificate summary (docs/verify_summary.json)")
    p.add_argument("--cert", action="append", default=None, metavar="NAME",
                   help="certificate name (repeatable; default all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sweeps and Monte Carlo runs")
    p.add_argument("--no-errata", action="store_true", help="skip the errata report")
    p.add_argument("--resume", metavar="PATH", default=None,
                   help="checkpoint file: finished certificates are kept there and skipped on rerun")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=_run_verify)


def _run_verify(args) -> int:
    from .bounds import certificate_class
    from .verify.report import format_table, markdown_report, run_report, summary_json, write_json

    for name in args.cert or ():
        _user_value("--cert", certificate_class, name)

    report = run_report(names=args.cert, quick=args.quick, seed=args.seed, checkpoint=args.resume,
                        progress=not args.no_progress, errata=not args.no_errata)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
    if args.summary_json:
        write_json(summary_json(report), args.summary_json)
    if args.markdown:
        from .core.atomic import atomic_write_text

        atomic_write_text(args.markdown, markdown_report(report))
    return EXIT_FAILED if report["status"] == "fail" else EXIT_OK


def _add_figures(sub):
    p = sub.add_parser(
        "figures",
        help="draw comparison figures and certified-accuracy tables",
        formatter_class=_Formatter,
        description=(
            "Draw figures (PNG + PDF into --out) and certified-accuracy tables.\n"
            "Pick one or more: --tsv (certified accuracy from Cohen-format files, plus Markdown\n"
            "and LaTeX tables), --radius-vs-pa, --zhang-density, --dual, --rops, --all (the set\n"
            "embedded in docs/guide.md).\n\n"
            "examples:\n"
            "  smoothcert figures --tsv run_s0.25.tsv run_s0.50.tsv --label 'sigma=0.25' 'sigma=0.50' \\\n"
            "      --radii 0.25,0.5,0.75,1.0 --out results/\n"
            "  smoothcert figures --tsv run.tsv --variant both --alpha 0.001 --rho 0.001 --out results/\n"
            "  smoothcert figures --radius-vs-pa --cert teng-laplace-l1 --cert cohen-gaussian-l2 \\\n"
            "      --as-norm l1 --std 0.5 --dim 784 --out figs/\n"
            "  smoothcert figures --zhang-density --family zhang-l2 --dim 784 --out figs/\n"
            "  smoothcert figures --all --out docs/figures"
        ),
    )
    what = p.add_argument_group("what to draw")
    what.add_argument("--tsv", nargs="+", metavar="FILE", help="Cohen-format certification files (idx label predict radius correct time)")
    what.add_argument("--radius-vs-pa", action="store_true", help="certified radius against pA at matched noise std")
    what.add_argument("--zhang-density", action="store_true", help="radial density of a Zhang et al. family for several k")
    what.add_argument("--dual", action="store_true", help="functional-optimization dual landscape (Monte Carlo)")
    what.add_argument("--rops", action="store_true", help="Laplace vs Gaussian certified l1 radii and their ratio")
    what.add_argument("--all", action="store_true", help="every figure of docs/guide.md")
    p.add_argument("--out", default="figures", help="output folder")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="with --all: folder of Cohen et al.'s released results (default: the copy shipped "
                        "with smoothcert, smoothcert/figures/data/cohen2019)")
    p.add_argument("--resume", action="store_true", help="with --all: keep figure groups already drawn in --out")
    p.add_argument("--group", action="append", default=None, metavar="NAME",
                   help="with --all: draw only this group (repeatable): cohen, radius, regions, zhang, rops, landscape")
    tsv = p.add_argument_group("certified accuracy (--tsv)")
    tsv.add_argument("--label", nargs="+", default=None, help="one legend/table label per file (default: file names)")
    tsv.add_argument("--variant", choices=["approximate", "high-probability", "both"], default="approximate",
                     help="Cohen's approximate accuracy, a 1-rho lower confidence bound, or both "
                          "(both: <name>.md/.tex approximate, <name>_high_probability.md/.tex)")
    tsv.add_argument("--alpha", type=float, default=None,
                     help="per-certificate failure probability used by CERTIFY (default: each file's own, "
                          "from its alpha column or, for Cohen et al.'s released files, figures.COHEN_ALPHA)")
    tsv.add_argument("--rho", type=float, default=0.001, help="failure probability of the high-probability bound")
    tsv.add_argument("--max-radius", type=float, default=None, help="right end of the radius axis (default: from the data)")
    tsv.add_argument("--radii", type=_floats, default=None, help="table columns, e.g. 0.25,0.5,0.75 (default: 0, 0.25, ..., 1.5)")
    tsv.add_argument("--acr", action="store_true", help="add the average certified radius to the table")
    tsv.add_argument("--name", default="certified_accuracy", help="base name of the figure and table files")
    tsv.add_argument("--column", default="radius",
                     help="radius column to read, e.g. proxy_radius for ANCER's certified proxy radius")
    tsv.add_argument("--norm", choices=["l1", "l2", "linf"], default="l2", help="norm of the radii (axis label)")
    tsv.add_argument("--include-unsound", action="store_true",
                     help="count rows marked unsound (sound column) as reported; the result is then labelled "
                          "UNSOUND (default: they count as abstentions, and the label says how many)")
    rvp = p.add_argument_group("radius against pA (--radius-vs-pa)")
    rvp.add_argument("--cert", action="append", default=None, help="certificate name (repeatable; default all)")
    rvp.add_argument("--std", type=float, default=0.5, help="per-coordinate noise standard deviation")
    rvp.add_argument("--dim", type=int, default=784, help="input dimension (anisotropic and Zhang families, norm conversion)")
    rvp.add_argument("--k", type=int, default=0, help="Zhang et al. exponent k")
    rvp.add_argument("--as-norm", choices=["l1", "l2", "linf"], default=None, help="convert every radius to this norm")
    rvp.add_argument("--share", type=float, default=0.5,
                     help="multi-class panel: pB = share * (1 - pA); 0 draws the binary panel only")
    zh = p.add_argument_group("Zhang et al. families (--zhang-density, --dual)")
    zh.add_argument("--family", choices=["zhang-l2", "zhang-l1", "zhang-linf"], default="zhang-l2", help="family")
    zh.add_argument("--ks", type=_floats, default=None, help="exponents k for --zhang-density (default 0,100,300,500)")
    zh.add_argument("--scale", type=float, default=1.0, help="sigma (l2, linf) or b (l1)")
    zh.add_argument("--p", type=float, default=0.8, help="probability p for --dual")
    p.set_defaults(func=_run_figures)


def _check_figures_args(args):
    """The options of ``figures`` (exit 2 before anything is drawn); returns the loaded --tsv
    results (a file that does not read is bad input: figures.read_tsv raises BadInput)."""
    import os

    from . import figures as F
    from .bounds import certificate_class

    _check_unit("--alpha", args.alpha)
    _check_unit("--rho", args.rho)
    _check_positive("--max-radius", args.max_radius)
    if args.radii is not None:
        for r in args.radii if isinstance(args.radii, list) else [args.radii]:
            _require(math.isfinite(r) and r >= 0, "--radii", r, "finite and >= 0")
    for flag in ("std", "scale"):
        _check_positive("--" + flag, getattr(args, flag))
    _check_int("--dim", args.dim, 1)
    _check_int("--k", args.k, 0)
    _require(0 <= args.share <= 1, "--share", args.share, "in [0, 1]")
    _check_unit("--p", args.p)
    for k in [] if args.ks is None else args.ks if isinstance(args.ks, list) else [args.ks]:
        _require(math.isfinite(k) and k >= 0, "--ks", k, "finite and >= 0")
    for name in args.cert or ():
        _user_value("--cert", certificate_class, name)
    for group in args.group or ():
        _require(group in F.DOCS_GROUPS, "--group", group, f"one of {', '.join(F.DOCS_GROUPS)}")
    if args.data_dir is not None:
        _require(os.path.isdir(args.data_dir), "--data-dir", args.data_dir, "an existing folder")
    if not args.tsv:
        return []
    missing = [f for f in args.tsv if not os.path.isfile(f)]
    if missing:
        raise BadInput(f"--tsv: no such file: {missing[0]}")
    if args.label is not None and len(args.label) != len(args.tsv):
        raise BadInput(f"--label has {len(args.label)} entries for {len(args.tsv)} --tsv files")
    res = [F.read_tsv(f) for f in args.tsv]
    F.check_one_norm(res, args.norm)
    for r in res:
        r.column(args.column)
        if args.variant != "approximate":
            _user_value("--alpha", F.certification_alpha, r, args.alpha)
    return res


def _tsv_tables(F, res, args, base: str) -> list[str]:
    """The certified-accuracy tables of --tsv (Markdown and LaTeX), one pair per variant drawn."""
    radii = args.radii if args.radii is not None else [0.25 * i for i in range(7)]
    radii = radii if isinstance(radii, list) else [radii]
    variants = {"approximate": [("approximate", "")], "high-probability": [("high-probability", "")],
                "both": [("approximate", ""), ("high-probability", "_high_probability")]}[args.variant]
    made = []
    for variant, suffix in variants:
        opts = dict(acr=args.acr, variant=variant, alpha=args.alpha, rho=args.rho, column=args.column,
                    include_unsound=args.include_unsound)
        md = F.certified_accuracy_table(res, radii, args.label, "markdown", **opts)
        tex = F.certified_accuracy_table(res, radii, args.label, "latex", **opts)
        F.save_text(base + suffix + ".md", md)
        F.save_text(base + suffix + ".tex", tex)
        print(f"{variant} certified accuracy:\n{md}")
        made += [base + suffix + ".md", base + suffix + ".tex"]
    return made


def _run_figures(args) -> int:
    import os

    from . import figures as F

    chosen = [args.tsv, args.radius_vs_pa, args.zhang_density, args.dual, args.rops, args.all]
    if not any(chosen):
        print("smoothcert figures: choose what to draw: --tsv FILE..., --radius-vs-pa, --zhang-density, "
              "--dual, --rops or --all (see --help)", file=sys.stderr)
        return EXIT_USAGE
    res = _check_figures_args(args)
    out = args.out
    made = []
    if args.tsv:
        base = os.path.join(out, args.name)
        F.certified_accuracy_figure(res, args.label, max_radius=args.max_radius, variant=args.variant,
                                    alpha=args.alpha, rho=args.rho, column=args.column,
                                    norm={"l1": r"$\ell_1$", "l2": r"$\ell_2$", "linf": r"$\ell_\infty$"}[args.norm],
                                    include_unsound=args.include_unsound, path=base)
        made += [base + ".png", base + ".pdf"] + _tsv_tables(F, res, args, base)
    if args.radius_vs_pa:
        shares = (None,) if args.share == 0 else (None, args.share)
        fig = F.radius_vs_pa_figure(args.cert, std=args.std, dim=args.dim, k=args.k, shares=shares,
                                    as_norm=args.as_norm, path=os.path.join(out, "radius_vs_pa"))
        for why in fig.skipped:
            print(f"skipped {why}", file=sys.stderr)
        made.append(os.path.join(out, "radius_vs_pa.png"))
    if args.zhang_density:
        ks = args.ks if args.ks is not None else [0, 100, 300, 500]
        ks = ks if isinstance(ks, list) else [ks]
        F.radial_density_figure(args.family, ks=ks, dim=args.dim, scale=args.scale,
                                path=os.path.join(out, f"{args.family}_radial"))
        made.append(os.path.join(out, f"{args.family}_radial.png"))
    if args.dual:
        F.dual_landscape_figure(args.family, p=args.p, dim=args.dim, k=args.k, scale=args.scale,
                                path=os.path.join(out, f"{args.family}_dual"))
        made.append(os.path.join(out, f"{args.family}_dual.png"))
    if args.rops:
        F.rops_figure(std=args.std, dim=args.dim, path=os.path.join(out, "laplace_vs_gaussian"))
        made.append(os.path.join(out, "laplace_vs_gaussian.png"))
    if args.all:
        made += [str(p) for p in F.docs_figures(out, data_dir=args.data_dir, resume=args.resume,
                                                    groups=args.group)]
    for path in made:
        print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def _add_demo(sub):
    p = sub.add_parser(
        "demo",
        help="certify the embedded Fashion-MNIST sample with the shipped models",
        formatter_class=_Formatter,
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
        _check_int("--" + flag, getattr(args, flag, None), 1)
    _require(getattr(args, "images", 1) <= 500, "--images", getattr(args, "images", 1), "at most 500")
    _check_unit("--alpha", getattr(args, "alpha", None))

    from .gpu_sampler.demo import run_demo

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    sizes = {key: getattr(args, flag) for flag, key in
             (("images", "num_images"), ("n0", "n0"), ("n", "n"), ("alpha", "alpha"), ("batch", "batch_size"))
             if hasattr(args, flag)}
    run_demo(args.out_dir, seed=args.seed, precision=args.precision, device=device,
             resume=args.resume, progress=not args.no_progress, **sizes)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smoothcert",
        formatter_class=_Formatter,
        description="Randomized-smoothing certificates: radii, certification, verification, figures.",
        epilog="Run 'smoothcert COMMAND --help' for the options and examples of each command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_list, _add_radius, _add_certify, _add_verify, _add_figures, _add_demo):
        add(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except BadInput as exc:
        print(f"smoothcert {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
