"""The command line's error contract.

Exit 2 with a one-line message for bad option values (validated at the boundary, raised as
``BadInput``); any other exception is a bug and surfaces with its traceback.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from smoothcert import cli
from smoothcert.bounds import certificate_class
from smoothcert.core.errors import BadInput

BAD_NOISE = [
    (["--std", "-1"], "--std"),
    (["--sigma", "nan"], "--sigma"),
    (["--scale", "0"], "--scale"),
    (["--half-width", "inf"], "--half-width"),
    (["--dim", "0"], "--dim"),
    (["--k", "-1"], "--k"),
    (["--sigma", "0.5,-0.25"], "--sigma"),
    (["--sigma", "0.5,0.25", "--dim", "3"], "--sigma"),
    (["--pb", "0.5"], "--pa/--pb"),  # pA + pB > 1 is impossible
]


@pytest.mark.parametrize("extra,flag", BAD_NOISE)
def test_radius_refuses_bad_noise_parameters_with_exit_2(extra, flag, capsys):
    assert cli.main(["radius", "--pa", "0.9"] + extra) == 2
    out = capsys.readouterr()
    err = out.err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "Traceback" not in out.err
    assert "skipped" not in out.out


def test_radius_named_certificate_that_does_not_fit_is_bad_input(capsys):
    # Zhang et al.'s families need k < dim: unnamed they are skipped, named it is exit 2.
    assert cli.main(["radius", "--pa", "0.9", "--dim", "3", "--k", "5"]) == 0
    assert "zhang-l2" in capsys.readouterr().out
    assert cli.main(["radius", "--pa", "0.9", "--dim", "3", "--k", "5", "--cert", "zhang-l2"]) == 2
    assert "--cert zhang-l2" in capsys.readouterr().err
    assert cli.main(["radius", "--pa", "0.9", "--cert", "no-such-cert"]) == 2


def test_radius_good_input_still_prints_every_family(capsys):
    assert cli.main(["radius", "--pa", "0.9", "--pb", "0.05", "--sigma", "0.5,0.25"]) == 0
    out = capsys.readouterr().out
    assert "cohen-gaussian-l2          skipped: sigma must be a scalar" in out  # list for a scalar family
    assert "ars-gaussian-l2" in out and "R = " in out


def test_an_internal_error_is_not_reported_as_bad_usage(monkeypatch):
    """A ValueError from inside the library (a bug, not the user's input) propagates."""
    def broken(self, p_a, p_b=None):
        raise ValueError("internal invariant broken")

    monkeypatch.setattr(certificate_class("cohen-gaussian-l2"), "radius", broken)
    with pytest.raises(ValueError, match="internal invariant broken"):
        cli.main(["radius", "--pa", "0.9", "--cert", "cohen-gaussian-l2"])


def test_bad_input_is_a_value_error():
    assert issubclass(BadInput, ValueError)


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_exit_codes_in_a_subprocess():
    bad = _run("import sys; from smoothcert.cli import main; "
               "sys.exit(main(['radius', '--pa', '0.9', '--std', '-1']))")
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.strip() == "smoothcert radius: error: --std must be finite and > 0, got -1.0"
    bug = _run("import sys; from smoothcert.cli import main; from smoothcert.bounds import certificate_class\n"
               "def broken(self, p_a, p_b=None): raise TypeError('internal bug')\n"
               "certificate_class('uniform-l1').radius = broken\n"
               "sys.exit(main(['radius', '--pa', '0.9', '--cert', 'uniform-l1']))")
    assert bug.returncode == 1
    assert "Traceback" in bug.stderr and "TypeError: internal bug" in bug.stderr


@pytest.mark.parametrize("argv,flag", [
    (["figures", "--tsv", "x.tsv", "--radii", "-1"], "--radii"),
    (["figures", "--radius-vs-pa", "--std", "0"], "--std"),
    (["figures", "--zhang-density", "--dim", "0"], "--dim"),
    (["figures", "--radius-vs-pa", "--cert", "nope"], "--cert"),
    (["figures", "--all", "--group", "nope"], "--group"),
    (["figures", "--dual", "--p", "1.5"], "--p"),
    (["verify", "--cert", "nope"], "--cert"),
    (["demo", "--images", "0"], "--images"),
    (["demo", "--alpha", "0"], "--alpha"),
    (["certify", "--model", "x", "--out", "o.tsv", "--n", "0"], "--n"),
    (["certify", "--model", "x", "--out", "o.tsv", "--sigma", "nan"], "--sigma"),
])
def test_other_commands_refuse_bad_options_before_any_work(argv, flag, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0]
    assert not list(tmp_path.iterdir())  # nothing written
