"""Laplace smoothing (filled in by the foundation work)."""
