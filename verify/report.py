"""The verifier report: every check for every registered certificate, one table, JSON.

``run_report(names=None, quick=False)`` runs, for each representative instance
(:func:`~smoothcert.verify.common.instances`): the twin sweep, the witnesses, the Monte Carlo
validation and the symbolic checks, then the errata. A certificate *fails* when any of its checks
fails (an over-report, a witness that breaks the certified prediction, a significant Monte Carlo
violation, a broken identity, a tight certificate that its witness does not attain, or a noise
family with no Monte Carlo sampler or witness registered in :mod:`.registry` and no documented
exemption); every registered certificate claims soundness, so any failure makes
``smoothcert verify`` exit 1.

Long runs show progress on stderr (tqdm) and can be resumed: with a checkpoint path, each
finished instance is written (atomically, temp file + ``os.replace``) and skipped on the next run
with the same mode; the checkpoint is removed when the report is complete.
"""

from __future__ import annotations

import json
import os
import sys
import time

from ..core.atomic import atomic_write_text
from ..bounds import certificates
from .common import FAIL, NA, PASS, WARN, Check, all_instances, combine, jsonable
from .errata import errata_check, errata_report
from .montecarlo import mc_check
from .symbolic import symbolic_checks
from .twins import twin_sweep
from .witnesses import witness_check

COLUMNS = ("twin", "witness", "monte_carlo", "symbolic")


def _twin_budget(cert, quick):
    if getattr(cert, "expensive", False):
        return (0, 0) if quick else (2, 2)
    return (10, 10) if quick else (200, 200)


def check_instance(inst, quick: bool = False, seed: int = 0) -> dict:
    """Every column for one instance (JSON-ready)."""
    cert = inst.cert
    n_grid, n_hyp = _twin_budget(cert, quick)
    t0 = time.perf_counter()
    cols, seconds = {}, {}
    for col, fn in (
        ("twin", lambda: twin_sweep(cert, n_grid=n_grid, n_hypothesis=n_hyp, seed=seed, quick=quick)),
        ("witness", lambda: witness_check(inst, quick=quick)),
        ("monte_carlo", lambda: mc_check(inst, quick=quick, seed=seed)),
        ("symbolic", lambda: _symbolic_column(inst, quick)),
    ):
        t1 = time.perf_counter()
        try:
            cols[col] = fn()
        except Exception as exc:  # noqa: BLE001 -- a crash is a failed check, reported with its cause
            cols[col] = Check(FAIL, f"error: {type(exc).__name__}: {exc}"[:120], {})
        seconds[col] = round(time.perf_counter() - t1, 2)
    status = FAIL if any(c.status == FAIL for c in cols.values()) else (
        WARN if any(c.status == WARN for c in cols.values()) else PASS)
    return {"certificate": inst.name, "instance": inst.label, "tight": cert.tight, "norm": cert.norm,
            "family": inst.family, "status": status, "seconds": round(time.perf_counter() - t0, 2),
            "column_seconds": seconds,
            "columns": {k: v.to_json() for k, v in cols.items()}}


def _symbolic_column(inst, quick) -> Check:
    checks = symbolic_checks(inst, quick=quick)
    if not checks:
        return Check(NA, "n/a: no identity applies", {})
    ok = sum(c.status == PASS for c in checks)
    names = ", ".join(c.summary + ("" if c.status == PASS else " FAILED") for c in checks)
    return Check(combine(checks), f"{ok}/{len(checks)}: {names}",
                 {c.summary: c.to_json() for c in checks})


def _load_checkpoint(path, mode):
    if not path or not os.path.exists(path):
        return {}
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    if data.get("mode") != mode:
        return {}
    return {(r["certificate"], r["instance"]): r for r in data.get("rows", [])}


def run_report(names=None, quick: bool = False, seed: int = 0, checkpoint: str | None = None,
               progress: bool = True, errata: bool = True) -> dict:
    """Run the verifier; returns the full report (a JSON-ready dict)."""
    names = list(names) if names else certificates()
    unknown = [n for n in names if n not in certificates()]
    if unknown:
        raise ValueError(f"cert={unknown[0]!r} is not a registered certificate; known: "
                         f"{', '.join(certificates())}")
    mode = "quick" if quick else "full"
    done = _load_checkpoint(checkpoint, mode)
    t0 = time.perf_counter()
    insts = all_instances(names)
    rows = []
    bar = _progress(insts, progress)
    for inst in bar:
        key = (inst.name, inst.label)
        if key in done:
            rows.append(done[key])
            continue
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(inst.name)
        rows.append(jsonable(check_instance(inst, quick=quick, seed=seed)))
        if checkpoint:
            atomic_write_text(checkpoint, json.dumps({"mode": mode, "rows": rows}))
    errata = errata_report() if errata else []
    errata_json = jsonable(errata)
    ec = errata_check(errata) if errata else Check(NA, "n/a", {})
    failed = sorted({r["certificate"] for r in rows if r["status"] == FAIL})
    warned = sorted({r["certificate"] for r in rows if r["status"] == WARN})
    report = {
        "mode": mode, "seed": seed, "seconds": round(time.perf_counter() - t0, 1),
        "certificates": sorted({r["certificate"] for r in rows}), "rows": rows,
        "errata": errata_json, "errata_status": ec.status, "failed": failed,
        "warnings": warned,
        "status": FAIL if failed or ec.status == FAIL else PASS,
    }
    if checkpoint and os.path.exists(checkpoint):
        os.unlink(checkpoint)
    return report


def _progress(items, enabled):
    if not enabled:
        return items
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover -- tqdm ships with the torch extra
        return items
    return tqdm(items, desc="verify", unit="instance", file=sys.stderr, leave=False)


# ------------------------------------------------------------------------------------------
HEADER = ("certificate", "instance", "twin error", "over", "witness", "MC violations", "symbolic",
          "verdict")


def table_rows(report: dict) -> list[tuple]:
    out = []
    for r in report["rows"]:
        c = r["columns"]
        tw = c["twin"]
        det = tw.get("details", {})
        over = det.get("over_reports", "n/a") if tw["status"] != NA else "n/a"
        twin = f"{det['max_rel_err']:.1e}" if "max_rel_err" in det else tw["summary"]
        if tw["status"] in (FAIL, WARN) and "max_rel_err" in det:
            twin += " " + tw["status"].upper()
            if tw["status"] == WARN:
                twin += f" (>{det['twin_rtol']:.0e})"
        out.append((r["certificate"], r["instance"], twin, str(over), _cell(c["witness"]),
                    _cell(c["monte_carlo"]), _cell(c["symbolic"]), r["status"].upper()))
    return out


def _cell(col: dict) -> str:
    s = col["summary"]
    return s if col["status"] != FAIL or "FAIL" in s or "UNSOUND" in s else f"{s} FAIL"


def format_table(report: dict, markdown: bool = False) -> str:
    """The one-table summary (plain text, or a Markdown table)."""
    rows = table_rows(report)
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(x.replace("|", "/") for x in r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADER)]
    widths[1] = min(widths[1], 44)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*HEADER), fmt.format(*("-" * w for w in widths))]
    for r in rows:
        r = list(r)
        r[1] = r[1] if len(r[1]) <= 44 else r[1][:41] + "..."
        lines.append(fmt.format(*r))
    lines.append("")
    lines.append(f"mode {report['mode']}, {report['seconds']} s; errata: {report['errata_status']} "
                 f"({len(report['errata'])} entries); overall: {report['status'].upper()}"
                 + (f"; FAILED: {', '.join(report['failed'])}" if report["failed"] else "")
                 + (f"; warnings (sound, accuracy below twin_rtol): {', '.join(report['warnings'])}"
                    if report.get("warnings") else ""))
    return "\n".join(lines)


def summary_json(report: dict) -> dict:
    """Compact per-certificate summary for the docs catalog (docs/verify_summary.json)."""
    per = {}
    for r in report["rows"]:
        c = r["columns"]
        entry = per.setdefault(r["certificate"], {"status": PASS, "instances": []})
        if r["status"] == FAIL or (r["status"] == WARN and entry["status"] == PASS):
            entry["status"] = r["status"]
        entry["instances"].append({
            "instance": r["instance"],
            "twin_max_rel_err": c["twin"].get("details", {}).get("max_rel_err"),
            "over_reports": c["twin"].get("details", {}).get("over_reports"),
            "witness": c["witness"]["summary"], "witness_status": c["witness"]["status"],
            "monte_carlo": c["monte_carlo"]["summary"], "monte_carlo_status": c["monte_carlo"]["status"],
            "symbolic": c["symbolic"]["summary"], "symbolic_status": c["symbolic"]["status"],
        })
    return {"mode": report["mode"], "status": report["status"], "certificates": per,
            "errata": [{"id": e["id"], "paper": e["paper"], "finding": e["finding"], "status": e["status"]}
                       for e in report["errata"]]}


def write_json(report: dict, path: str) -> None:
    atomic_write_text(path, json.dumps(jsonable(report), indent=1, sort_keys=False))


def markdown_report(report: dict) -> str:
    """The full table plus the errata with their findings (docs/verify_report.md)."""
    out = [f"# smoothcert verify ({report['mode']} mode)", "",
           f"Overall: **{report['status'].upper()}**; {report['seconds']} s; seed {report['seed']}.",
           "", "Columns: twin error = max relative distance of `radius` below the exact radius "
           "(mpmath twin at adaptive precision), over = over-reports (must be 0); witness = exact "
           "worst-case classifiers at R(1 - 1e-6) (holds) and R(1 + 1e-6) (flips), with "
           "R / smallest flipping radius for bounds that are not tight; MC = statistically "
           "significant Monte Carlo violations (must be 0) and the smallest boundary margin; "
           "symbolic = sympy identities and volumes confirmed on the certificate.", "",
           format_table(report, markdown=True), ""]
    if report.get("warnings"):
        out += ["Warnings (sound, but the float radius is further below the exact one than the "
                "class's `twin_rtol`):", ""]
        for r in report["rows"]:
            tw = r["columns"]["twin"]
            if tw["status"] == WARN:
                out.append(f"- {r['certificate']} ({r['instance']}): {tw['summary']}")
        out.append("")
    out += ["## Errata", ""]
    for e in report["errata"]:
        out += [f"### {e['id']} ({e['status']})", "", f"*Paper:* {e['paper']}", "",
                f"*Printed:* {e['printed']}", "", f"*Finding:* {e['finding']}", "",
                "```json", json.dumps(e["evidence"], indent=1)[:6000], "```", ""]
    return "\n".join(out)
