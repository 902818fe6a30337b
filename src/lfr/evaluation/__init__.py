"""Measuring a recognition algorithm: accuracy protocols and their figures (EQ-1)."""
