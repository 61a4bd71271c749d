"""How every kernel is compiled: ``@njit(cache=True, nogil=True)``, without the wrappers it never uses.

Numba builds two wrappers around each compiled function: one that lets Python
call it and one with a C calling convention (for use as a first-class
function). Each costs compile time on a cold cache and is cached for nothing
when no one calls it that way. No kernel is used as a first-class function,
and kernels that only other kernels call (``internal=True``) need no Python
entry point either. Small helpers are inlined into their callers
(``inline=True``): Numba then compiles them as part of each caller, not
alone, and LLVM sees through them.
"""

from numba import njit


def kernel(function=None, *, internal: bool = False, inline: bool = False):
    """Compile ``function`` as a kernel: ``@kernel``, ``@kernel(internal=True)`` or ``@kernel(inline=True)``.

    ``internal``: only other kernels call it (calling it from Python raises).
    ``inline``: inlined into every kernel that calls it.
    """
    options = dict(cache=True, nogil=True, no_cfunc_wrapper=True)
    if internal:
        options["no_cpython_wrapper"] = True
    if inline:
        options["inline"] = "always"
    compile_ = njit(**options)
    return compile_ if function is None else compile_(function)
