"""The bottom layer used by every other part: argument checks (``checks``), directed rounding
(``rounding``), atomic file writes (``atomic``), the bad-input error (``errors``).

It imports numpy, scipy and mpmath only, and nothing else of smoothcert (docs/contributing.md,
"Layers").
"""
