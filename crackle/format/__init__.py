"""Byte-level knowledge of the Crackle format: header, checksums, section layout, label sections.

Nothing here decodes crack codes; that is the job of :mod:`crackle.kernels`.
"""
