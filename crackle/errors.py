"""Exceptions raised for malformed Crackle streams.

Every problem found in a stream raises :class:`FormatError`, a subclass of
``ValueError``, so callers may catch either. Checksum mismatches raise the
more specific :class:`ChecksumError`.
"""


class FormatError(ValueError):
    """A Crackle stream is malformed, truncated or inconsistent."""


class ChecksumError(FormatError):
    """A stored crc8 or crc32c does not match the data it protects."""
