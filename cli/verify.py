"""``smoothcert verify``: the numeric verifier over every (or the named) certificates."""

from __future__ import annotations

from .common import EXIT_FAILED, EXIT_OK, Formatter, user_value


def add_verify(sub):
    p = sub.add_parser(
        "verify",
        help="run the numeric verifier over every certificate",
        formatter_class=Formatter,
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
    p.add_argument("--quick", action="store_true", help="small budgets (every certificate in about 2.5 minutes on one core)")
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
    from ..bounds import certificate_class
    from ..verify.report import (
        format_table,
        markdown_report,
        run_report,
        summary_json,
        write_json,
    )

    for name in args.cert or ():
        user_value("--cert", certificate_class, name)

    report = run_report(names=args.cert, quick=args.quick, seed=args.seed, checkpoint=args.resume,
                        progress=not args.no_progress, errata=not args.no_errata)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
    if args.summary_json:
        write_json(summary_json(report), args.summary_json)
    if args.markdown:
        from ..core.atomic import atomic_write_text

        atomic_write_text(args.markdown, markdown_report(report))
    return EXIT_FAILED if report["status"] == "fail" else EXIT_OK
