"""The ``smoothcert`` command line.

Subcommands: ``list``, ``radius``, ``certify``, ``verify``, ``figures``, ``demo``. Each has
``--help`` with examples. Exit codes: 0 success, 1 a check failed (``verify``), 2 bad usage or
bad input (the message says what to fix). Heavy parts (torch, matplotlib) are imported only by
the subcommands that need them, so ``list`` and ``radius`` work with the core install alone.
"""

from __future__ import annotations

import argparse
import sys

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
def _add_radius(sub):
    p = sub.add_parser(
        "radius",
        help="certified radius of every (or selected) certificate for given pA, pB",
        formatter_class=_Formatter,
        description=(
            "Print the certified radius (and the region summary of anisotropic certificates)\n"
            "for bounds pA (top class) and pB (runner-up; omit for the binary case pB = 1 - pA).\n"
            "Noise is matched by its per-coordinate standard deviation --std unless a family's\n"
            "own parameter is given (--sigma, --scale, --half-width).\n\n"
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
    p.add_argument("--sigma", type=_floats, default=None, help="Gaussian standard deviation (scalar or list)")
    p.add_argument("--scale", type=_floats, default=None, help="Laplace scale b (std = sqrt(2) b)")
    p.add_argument("--half-width", type=_floats, default=None, help="uniform half-width lambda (std = lambda/sqrt(3))")
    p.add_argument("--dim", type=int, default=None, help="input dimension (regions, volumes, Zhang families)")
    p.add_argument("--k", type=int, default=0, help="Zhang et al. family exponent k")
    p.add_argument("--cert", action="append", default=None, help="certificate name (repeatable; default all)")
    p.set_defaults(func=_run_radius)


def _run_radius(args) -> int:
    import numpy as np

    from .bounds import certificate_class, certificates

    names = args.cert or certificates()
    std = args.std if args.std is not None else 0.5
    explicit = {"sigma": args.sigma, "scale": args.scale, "half_width": args.half_width}
    print(f"pA = {args.pa!r}, pB = {'1 - pA' if args.pb is None else repr(args.pb)}")
    for name in names:
        cls = certificate_class(name)
        if cls.binary_only and args.pb is not None:
            print(f"{name:<26} (binary theorem: skipped for a given pB)")
            continue
        try:
            cert = cls.from_std(std, dim=args.dim, k=args.k, **explicit)
        except (TypeError, ValueError) as exc:
            print(f"{name:<26} skipped: {exc}")
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
    p = sub.add_parser("certify", help="certify a dataset slice with a model (writes Cohen-format TSV)",
                       formatter_class=_Formatter)
    p.set_defaults(func=_run_certify)


def _run_certify(args) -> int:
    print("smoothcert certify: not available yet", file=sys.stderr)
    return EXIT_USAGE


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
    from .verify.report import format_table, markdown_report, run_report, summary_json, write_json

    report = run_report(names=args.cert, quick=args.quick, seed=args.seed, checkpoint=args.resume,
                        progress=not args.no_progress, errata=not args.no_errata)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
    if args.summary_json:
        write_json(summary_json(report), args.summary_json)
    if args.markdown:
        from .verify.report import _atomic_write

        _atomic_write(args.markdown, markdown_report(report))
    return EXIT_FAILED if report["status"] == "fail" else EXIT_OK


def _add_figures(sub):
    p = sub.add_parser("figures", help="draw comparison figures and tables", formatter_class=_Formatter)
    p.set_defaults(func=_run_figures)


def _run_figures(args) -> int:
    print("smoothcert figures: not available yet", file=sys.stderr)
    return EXIT_USAGE


def _add_demo(sub):
    p = sub.add_parser("demo", help="certify the embedded Fashion-MNIST sample with the shipped models",
                       formatter_class=_Formatter)
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    print("smoothcert demo: not available yet", file=sys.stderr)
    return EXIT_USAGE


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
    except (ValueError, TypeError) as exc:
        print(f"smoothcert {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
