"""Uniform smoothing (filled in by the foundation work)."""
