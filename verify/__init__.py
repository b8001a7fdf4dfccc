"""The numeric verifier: every registered theorem checked against mathematics that does not share
its code path.

Per certificate: the float radius against its mpmath twin (``twins``), sympy identities and volume
checks (``symbolic``), worst-case classifiers that attain or test the bound (``witnesses``), Monte
Carlo checks of the theorem statement with numpy samplers independent of ``gpu_sampler``
(``montecarlo``), and printed statements that are loose or inconsistent (``errata``). Independent
checks are registered per noise family (``registry``); a family without a required entry fails.
``report`` runs them (``smoothcert verify``) and ``catalog`` writes docs/catalog.md.
"""

# The zoo's and DSRS's entries register on import; importing any verify module imports this
# package first.
from . import dsrs, dsrs_general, witnesses_zoo  # noqa: E402,F401
