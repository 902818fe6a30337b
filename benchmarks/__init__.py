"""Benchmarks: speed, memory and accuracy measurements that print tables (never timed tests)."""
