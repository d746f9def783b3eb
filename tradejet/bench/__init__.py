"""Benchmark suites behind ``tradejet bench <suite>``.

Each module ``tradejet.bench.<suite>`` exposes ``add_arguments(parser)`` and
``run(args) -> int``. Every suite measures tradejet and its reference implementation
side by side in one process, reports medians and the ratio, and can write JSON.
"""
