"""The documentation builds from the repository alone and stays in step with the code.

* ``docs/catalog.md`` equals what ``python -m smoothcert.verify.catalog`` generates now (run it
  with ``--write`` after registering a certificate);
* every registered certificate has a catalog entry with its citation, formula and tightness;
* the verifier summary, when present, is rendered (format documented in verify/catalog.py);
* every image and relative link in docs/*.md and README.md resolves to a committed file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import smoothcert as sc
from smoothcert.bounds import certificate_class
from smoothcert.verify import catalog as C

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_catalog_is_up_to_date():
    committed = (DOCS / "catalog.md").read_text()
    assert committed == C.render_catalog(), (
        "docs/catalog.md is stale: run  python -m smoothcert.verify.catalog --write"
    )


def test_catalog_has_every_certificate_with_its_facts():
    text = C.render_catalog()
    for name in sc.certificates():
        cls = certificate_class(name)
        assert f"## `{name}`" in text
        section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        assert cls.citation and cls.citation in section, f"{name}: citation missing"
        assert cls.formula and cls.formula in section, f"{name}: formula missing"
        assert ("**Tight:** yes" in section) == bool(cls.tight)
        assert f"- **Norm:** {cls.norm}" in section


def test_catalog_renders_a_verifier_summary(tmp_path):
    name = sc.certificates()[0]
    summary = {"certificates": {name: {
        "twin": {"status": "pass", "summary": "max rel excess 0 over 600 points", "details": {"x": 1}},
        "runs": [{"label": "sigma=0.5", "montecarlo": {"status": "info", "summary": "a | b"}}],
    }}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    text = C.render_catalog(path)
    section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
    assert "| twin | pass | max rel excess 0 over 600 points |" in section
    assert "| runs / sigma=0.5 / montecarlo | info | a \\| b |" in section
    other = sc.certificates()[-1]
    if other != name:
        assert "not covered by the committed summary" in text.split(f"## `{other}`", 1)[1]
    assert "no summary committed yet" in C.render_catalog(tmp_path / "absent.json")
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        C.render_catalog(path)


def test_catalog_check_mode(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(C, "CATALOG", tmp_path / "catalog.md")
    assert C.main(["--check"]) == 1
    assert C.main(["--write"]) == 0
    assert C.main(["--check"]) == 0
    assert (tmp_path / "catalog.md").read_text() == C.render_catalog()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _links(md: Path):
    text = md.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text):
        if re.match(r"[a-z]+://|#|mailto:", target):
            continue
        yield target.split("#")[0]


@pytest.mark.parametrize("md", sorted(DOCS.glob("*.md")) + [ROOT / "README.md"], ids=lambda p: p.name)
def test_relative_links_resolve(md):
    missing = [t for t in _links(md) if t and not (md.parent / t).exists()]
    assert not missing, f"{md.name} links to missing files: {missing}"


def test_guide_embeds_figures_and_readme_links_docs():
    guide = (DOCS / "guide.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", guide)
    assert len(images) >= 6
    for img in images:
        assert (DOCS / img).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    readme = (ROOT / "README.md").read_text()
    assert "docs/guide.md" in readme and "docs/catalog.md" in readme


def test_catalog_renders_the_report_py_summary_format(tmp_path):
    """The shape verify/report.py summary_json writes (smoothcert verify --summary-json)."""
    name = sc.certificates()[0]
    summary = {"mode": "quick", "status": "pass", "certificates": {name: {"status": "pass", "instances": [
        {"instance": "sigma=0.5", "twin_max_rel_err": 1.5e-15, "over_reports": 0,
         "witness": "holds at R(1-1e-6), flips at R(1+1e-6)", "witness_status": "pass",
         "monte_carlo": "0 violations", "monte_carlo_status": "pass"}]}},
        "errata": [{"id": "E1", "paper": "ANCER", "finding": "constant loose by pi", "status": "info"}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(summary))
    text = C.render_catalog(path)
    section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
    assert "**Verifier:** **pass** (quick mode)" in section
    assert "| instance | twin max rel. error | over-reports | witness | monte_carlo |" in section
    assert "| sigma=0.5 | 1.5e-15 | 0 | pass: holds at R(1-1e-6), flips at R(1+1e-6) | pass: 0 violations |" in section
    assert "| E1 | ANCER | constant loose by pi | info |" in text


def test_guide_library_examples_run_and_state_true_numbers():
    """The Python blocks of guide section 1 run as written; the numbers in their comments hold."""
    guide = (DOCS / "guide.md").read_text()
    section = guide.split("## 1.", 1)[1].split("## 2.", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    env: dict = {}
    for block in blocks:
        exec(compile(block, "guide.md", "exec"), env)
    cert = env["cert"]
    assert f"{cert.radius(0.99):.4f}" == "1.1632" and f"{cert.radius(0.9, 0.05):.4f}" == "0.7316"
    pred, rad = sc.certify_counts(env["counts"], cert, alpha=0.001, select=env["select"])
    assert pred == 1 and f"{rad:.4f}" == "0.6324"


def test_guide_states_each_cohen_files_alpha_and_the_high_probability_numbers():
    """the guide's alpha paragraph agrees with figures.COHEN_ALPHA and the
    high-probability numbers it quotes are what the code computes."""
    from smoothcert import figures as F

    guide = (DOCS / "guide.md").read_text()
    assert "figures.COHEN_ALPHA" in guide
    alphas = list(F.COHEN_ALPHA.values())
    assert f"row by row {alphas.count(0.01) - 1} of the 13 files are impossible at alpha = 0.001" in guide
    from smoothcert.figures.results import _false_certificate_budget

    path = F.COHEN_DATA / "imagenet__resnet50__noise_0.50__test__sigma_0.50.tsv"  # package data
    own = F.high_probability_accuracy(path, [0.0])[0]
    at_001 = F.approximate_accuracy(path, [0.0])[0] - _false_certificate_budget(len(F.read_tsv(path)), 0.001, 0.001, "binomial")
    assert f"radius 0 is {own:.3f} with\nits alpha = 0.01, where alpha = 0.001 would claim {at_001:.3f}" in guide
