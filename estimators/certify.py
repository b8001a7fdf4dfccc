"""Counts -> (prediction, radius) (filled in by the foundation work)."""


def certify_counts(counts, cert, alpha=0.001, select=None, rule="binary"):
    raise NotImplementedError
