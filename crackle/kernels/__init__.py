"""Numba kernels: numpy arrays in, numpy arrays out.

Kernels never trust their inputs' contents: every read that depends on stream
data is bounds-checked and trouble is reported as a status code, which
:mod:`crackle.codec` turns into :class:`crackle.FormatError`. Sizes and offsets
that can be checked before a kernel runs are checked by the caller.
"""
