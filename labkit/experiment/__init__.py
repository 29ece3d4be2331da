"""Whole research experiments run from one command through labkit's engines (train, evaluate, scaling).

labkit experiment parallel-scaling --budget small --json     (labkit.experiment.parallel_scaling)
"""
