"""The theorem catalog (``docs/catalog.md``), generated from the registry.

First the registered noise families (bounds/family.py): each one's law, per-coordinate standard
deviation and declared parameters (help, constraint, default), read from the family objects. Then
for every registered certificate: the norm, the formula, its noise family, the constructor's
parameters (the family's declaration for noise parameters), the citation, whether the bound is tight,
whether it is binary-only, the docstring (the math and its sources), and -- when the verifier's
committed summary ``docs/verify_summary.json`` exists -- what the verifier says.

Regenerate after adding a certificate (a test checks the committed file is up to date)::

    python -m smoothcert.verify.catalog --write      # writes docs/catalog.md atomically
    python -m smoothcert.verify.catalog > docs/catalog.md
    python -m smoothcert.verify.catalog --check      # exit 1 when docs/catalog.md is stale

The verifier summary is what ``smoothcert verify --summary-json docs/verify_summary.json`` writes
(verify/report.py ``summary_json``): ``{"mode", "status", "certificates": {name: {"status",
"instances": [{"instance", "twin_max_rel_err", "over_reports", "<check>", "<check>_status",
...}]}}, "errata": [{"id", "paper", "finding", "status"}]}``; each instance becomes a table row.
Other shapes are read too: a name may map to a string, or to any nesting of objects whose leaves
``{"status": ..., "summary": ...}`` become rows ``check | status | summary``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

from ..core.atomic import atomic_write_text
from ..bounds import certificate_class, certificates
from ..bounds.family import noise_families, noise_family

#: The repository root (this file is verify/catalog.py).
ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "docs" / "catalog.md"
SUMMARY = ROOT / "docs" / "verify_summary.json"

def _family_anchor(family: str) -> str:
    """The Markdown anchor of a family's section (its heading is "Noise family `name`")."""
    return "noise-family-" + family


def _constraint_text(param) -> str:
    """The first paragraph of the constraint's docstring (what a valid value is), on one line."""
    doc = inspect.getdoc(param.constraint) or param.constraint.__name__
    return " ".join(doc.split("\n\n")[0].split())


def _family_section(family: str) -> list[str]:
    fam = noise_family(family)
    out = [f"### Noise family `{family}`", "", f"- **Law:** {fam.law or '(missing)'}",
           f"- **Per-coordinate std:** `{fam.std_formula or '(missing)'}`",
           f"- **Scale parameter:** `{fam.scale_param}` (derived from a matched std when not given)",
           "", "| parameter | meaning | constraint | default |", "|---|---|---|---|"]
    for p in fam.params:
        default = f"`{p.default!r}`" if not p.required else "matched std" if p.name == fam.scale_param else "required"
        out.append(f"| `{p.name}` | {_cell(p.help)} | {_cell(_constraint_text(p))} | {default} |")
    out.append("")
    return out


def _parameters(cls) -> list[tuple[str, str]]:
    """(name, meaning) of each constructor parameter: the family's declaration for the noise
    parameters, a pointer to the docstring for the theorem's own options."""
    fam = noise_family(cls.family)
    sig = inspect.signature(cls.__init__)
    rows = []
    for name, par in sig.parameters.items():
        if name == "self" or par.kind in (par.VAR_POSITIONAL, par.VAR_KEYWORD):
            continue
        if name in fam.param_names():
            meaning = f"{fam.param(name).help} (noise family [`{fam.name}`](#{_family_anchor(fam.name)}))"
        else:
            meaning = "option of this theorem, not a noise parameter (see the docstring)"
        if par.default is not inspect.Parameter.empty:
            meaning += f" (default {par.default!r})"
        rows.append((name, meaning))
    return rows


def _leaves(node, path=()):
    """(check path, status, summary) for every ``{"status": ...}`` leaf under ``node``."""
    if isinstance(node, str):
        yield " / ".join(path) or "verifier", "", node
    elif isinstance(node, dict) and "status" in node:
        yield " / ".join(path) or "verifier", str(node["status"]), str(node.get("summary", ""))
    elif isinstance(node, dict):
        for key in node:
            if key == "details":
                continue
            yield from _leaves(node[key], path + (str(key),))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            label = item.get("label", item.get("instance", str(i))) if isinstance(item, dict) else str(i)
            yield from _leaves(item, path + (str(label),))


def load_summary(path: Path | None = None) -> dict | None:
    """The verifier summary as ``{"certificates": {name: entry}, ...}``, or None when absent."""
    path = SUMMARY if path is None else Path(path)
    if not path.is_file():
        return None
    with open(path) as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data if isinstance(data.get("certificates"), dict) else {"certificates": data}


def _instance_table(entry: dict) -> list[str]:
    """Rows of the report.py summary: one per parameter instance."""
    inst = entry["instances"]
    checks = [k[: -len("_status")] for k in inst[0] if k.endswith("_status")] if inst else []
    head = ["instance", "twin max rel. error", "over-reports"] + checks
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for it in inst:
        err = it.get("twin_max_rel_err")
        cells = [str(it.get("instance", "")), "" if err is None else f"{float(err):.1e}",
                 str(it.get("over_reports", ""))]
        cells += [f"{it.get(c + '_status', '')}: {it.get(c, '')}" for c in checks]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(name: str, summary: dict | None) -> list[str]:
    cls = certificate_class(name)
    out = [f"## `{name}`", ""]
    out.append(f"- **Norm:** {cls.norm}" + ("  (binary theorem: pB = 1 - pA only)" if cls.binary_only else ""))
    out.append(f"- **Noise family:** [`{cls.family}`](#{_family_anchor(cls.family)})")
    out.append(f"- **Radius / region:** `{cls.formula or 'see docstring'}`")
    out.append(f"- **Citation:** {cls.citation or '(missing)'}")
    out.append(f"- **Tight:** {'yes (the paper proves no larger ball can be certified)' if cls.tight else 'not claimed'}")
    out.append(f"- **Class:** `{cls.__module__.replace('smoothcert.', '')}.{cls.__name__}`")
    out += ["", "Parameters (`smoothcert.get(%r, ...)`):" % name, ""]
    out += [f"- `{p}`: {m}" for p, m in _parameters(cls)]
    doc = inspect.cleandoc(cls.__doc__ or "")
    if doc:
        out += ["", "<details><summary>Docstring (the math and its sources)</summary>", "", "```text",
                doc, "```", "", "</details>"]
    out += ["", "**Verifier:** "]
    entry = None if summary is None else summary["certificates"].get(name)
    if summary is None:
        out[-1] += "no summary committed yet (`docs/verify_summary.json`)."
    elif entry is None:
        out[-1] += "not covered by the committed summary (re-run the verifier)."
    elif isinstance(entry, dict) and isinstance(entry.get("instances"), list):
        mode = summary.get("mode")
        out[-1] += f"**{entry.get('status', '?')}**" + (f" ({mode} mode)" if mode else "")
        out += [""] + _instance_table(entry)
    else:
        rows = list(_leaves(entry))
        out += ["", "| check | status | summary |", "|---|---|---|"]
        out += [f"| {_cell(c)} | {_cell(s)} | {_cell(m)} |" for c, s, m in rows]
    out.append("")
    return out


def render_catalog(summary_path: Path | None = None) -> str:
    """The whole catalog as Markdown (deterministic: the same registry gives the same text)."""
    summary = load_summary(summary_path)
    names = certificates()
    lines = [
        "# Theorem catalog",
        "",
        "Generated from the certificate registry by `python -m smoothcert.verify.catalog --write`;",
        "do not edit by hand. Each entry lists the certified norm, the formula, the citation, whether",
        "the paper proves tightness, the parameters, and what the numeric verifier reports.",
        "Conventions: pA is a lower bound on the top-class probability, pB an upper bound on the",
        "runner-up (binary: pB = 1 - pA); Phi^-1 is the standard normal quantile.",
        "",
        "| name | norm | noise family | tight | binary only | citation |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        cls = certificate_class(name)
        lines.append(f"| [`{name}`](#{name}) | {cls.norm} | {cls.family} | {'yes' if cls.tight else ''} | "
                     f"{'yes' if cls.binary_only else ''} | {_cell(cls.citation)} |")
    lines += ["", "## Noise families", "",
              "Declared in `smoothcert.bounds.family` (one `NoiseFamily` class per family); the",
              "`smoothcert radius` flags are generated from these parameters.", ""]
    for family in noise_families():
        lines += _family_section(family)
    for name in names:
        lines += _section(name, summary)
    errata = [] if summary is None else summary.get("errata") or []
    if errata:
        lines += ["## Errata found by the verifier", "", "| id | paper | finding | status |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(_cell(str(e.get(k, ""))) for k in ("id", "paper", "finding", "status")) + " |"
                  for e in errata]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smoothcert.verify.catalog",
        description="Print the theorem catalog (Markdown) generated from the registry.",
        epilog="examples:\n  python -m smoothcert.verify.catalog --write\n"
               "  python -m smoothcert.verify.catalog --check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write docs/catalog.md (atomically)")
    group.add_argument("--check", action="store_true", help="exit 1 when the committed catalog is stale")
    parser.add_argument("--summary", type=Path, default=None, help="verifier summary JSON (default docs/verify_summary.json)")
    args = parser.parse_args(argv)
    text = render_catalog(args.summary)
    if args.write:
        atomic_write_text(CATALOG, text)
        print(f"wrote {CATALOG}", file=sys.stderr)
    elif args.check:
        current = CATALOG.read_text() if CATALOG.is_file() else ""
        if current != text:
            print(f"{CATALOG} is stale: run python -m smoothcert.verify.catalog --write", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
