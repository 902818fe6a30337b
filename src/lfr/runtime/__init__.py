"""Processes around the recognition engine: camera worker processes and their supervisor."""
