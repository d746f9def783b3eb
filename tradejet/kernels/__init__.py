"""Numba kernels over NumPy arrays. This package imports only numpy and numba.

Contract for every ``*_nb`` kernel: float64 1-D (or 2-D bars x symbols) inputs,
outputs of the input's length, NaN over the warm-up; pure (state in, state out).
"""
