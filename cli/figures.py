"""``smoothcert figures``: comparison figures and certified-accuracy tables."""

from __future__ import annotations

import math
import sys

from ..core.errors import BadInput
from .common import (
    EXIT_OK,
    EXIT_USAGE,
    Formatter,
    check_int,
    check_positive,
    check_unit,
    floats,
    require,
    user_value,
)


def add_figures(sub):
    p = sub.add_parser(
        "figures",
        help="draw comparison figures and certified-accuracy tables",
        formatter_class=Formatter,
        description=(
            "Draw figures (PNG + PDF into --out) and certified-accuracy tables.\n"
            "Pick one or more: --tsv (certified accuracy from Cohen-format files, plus Markdown\n"
            "and LaTeX tables), --topk-tsv (certified top-k accuracy of `certify --top-k` files),\n"
            "--radius-vs-pa, --zhang-density, --dual, --rops, --all (the set\n"
            "embedded in docs/guide.md).\n\n"
            "examples:\n"
            "  smoothcert figures --tsv run_s0.25.tsv run_s0.50.tsv --label 'sigma=0.25' 'sigma=0.50' \\\n"
            "      --radii 0.25,0.5,0.75,1.0 --out results/\n"
            "  smoothcert figures --tsv run.tsv --variant both --alpha 0.001 --rho 0.001 --out results/\n"
            "  smoothcert figures --topk-tsv top1.tsv top2.tsv top3.tsv --radii 0,0.25,0.5,0.75 --out results/\n"
            "  smoothcert figures --radius-vs-pa --cert teng-laplace-l1 --cert cohen-gaussian-l2 \\\n"
            "      --as-norm l1 --std 0.5 --dim 784 --out figs/\n"
            "  smoothcert figures --zhang-density --family zhang-l2 --dim 784 --out figs/\n"
            "  smoothcert figures --all --out docs/figures"
        ),
    )
    what = p.add_argument_group("what to draw")
    what.add_argument("--tsv", nargs="+", metavar="FILE", help="Cohen-format certification files (idx label predict radius correct time)")
    what.add_argument("--topk-tsv", nargs="+", metavar="FILE",
                      help="files of `smoothcert certify --top-k K` (one per K): certified top-k accuracy figure "
                           "topk_accuracy.png/.pdf and Markdown table topk_accuracy.md (--radii, --max-radius apply)")
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
                   help="with --all: draw only this group (repeatable): cohen, radius, regions, zhang, rops, landscape, "
                        "zoo, dsrs")
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
    tsv.add_argument("--radii", type=floats, default=None, help="table columns, e.g. 0.25,0.5,0.75 (default: 0, 0.25, ..., 1.5)")
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
    zh.add_argument("--ks", type=floats, default=None, help="exponents k for --zhang-density (default 0,100,300,500)")
    zh.add_argument("--scale", type=float, default=1.0, help="sigma (l2, linf) or b (l1)")
    zh.add_argument("--p", type=float, default=0.8, help="probability p for --dual")
    p.set_defaults(func=_run_figures)


def _check_figures_args(args):
    """The options of ``figures`` (exit 2 before anything is drawn); returns the loaded --tsv
    results (a file that does not read is bad input: figures.read_tsv raises BadInput)."""
    import os

    from .. import figures as F
    from ..bounds import certificate_class

    check_unit("--alpha", args.alpha)
    check_unit("--rho", args.rho)
    check_positive("--max-radius", args.max_radius)
    if args.radii is not None:
        for r in args.radii if isinstance(args.radii, list) else [args.radii]:
            require(math.isfinite(r) and r >= 0, "--radii", r, "finite and >= 0")
    for flag in ("std", "scale"):
        check_positive("--" + flag, getattr(args, flag))
    check_int("--dim", args.dim, 1)
    check_int("--k", args.k, 0)
    require(0 <= args.share <= 1, "--share", args.share, "in [0, 1]")
    check_unit("--p", args.p)
    for k in [] if args.ks is None else args.ks if isinstance(args.ks, list) else [args.ks]:
        require(math.isfinite(k) and k >= 0, "--ks", k, "finite and >= 0")
    for name in args.cert or ():
        user_value("--cert", certificate_class, name)
    for group in args.group or ():
        require(group in F.DOCS_GROUPS, "--group", group, f"one of {', '.join(F.DOCS_GROUPS)}")
    if args.data_dir is not None:
        require(os.path.isdir(args.data_dir), "--data-dir", args.data_dir, "an existing folder")
    args.topk_results = [_read_topk(f) for f in args.topk_tsv or ()]
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
            user_value("--alpha", F.certification_alpha, r, args.alpha)
    return res


def _read_topk(path):
    """One file of ``certify --top-k K`` (it has the ``k`` column of gpu_sampler.topk_dataset);
    any other file is bad input."""
    import os

    from .. import figures as F

    if not os.path.isfile(path):
        raise BadInput(f"--topk-tsv: no such file: {path}")
    res = F.read_tsv(path)
    if "k" not in res.extra:
        raise BadInput(f"--topk-tsv: {path} is not a top-k result file (no k column; "
                       "write one with smoothcert certify --top-k K)")
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

    from .. import figures as F

    chosen = [args.tsv, args.topk_tsv, args.radius_vs_pa, args.zhang_density, args.dual, args.rops, args.all]
    if not any(chosen):
        print("smoothcert figures: choose what to draw: --tsv FILE..., --topk-tsv FILE..., --radius-vs-pa, --zhang-density, "
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
    if args.topk_tsv:
        from ..figures.topk import topk_accuracy_figure, topk_accuracy_table

        base = os.path.join(out, "topk_accuracy")
        radii = args.radii if args.radii is not None else [0.25 * i for i in range(5)]
        table = topk_accuracy_table(args.topk_results, radii if isinstance(radii, list) else [radii])
        topk_accuracy_figure(args.topk_results, max_radius=args.max_radius, path=base)
        F.save_text(base + ".md", table)
        print(f"certified top-k accuracy:\n{table}")
        made += [base + ".png", base + ".pdf", base + ".md"]
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
