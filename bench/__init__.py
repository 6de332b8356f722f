"""Benchmarks: the sidecar against an upstream on loopback, as ratios against a baseline of the same run."""
