"""The address-space limit (`ulimit -v`, RLIMIT_AS), read without numpy: for `limits`' refusal
and for `python -m sim`, which must say so in one line when the limit stops it loading at all.

RLIMIT_AS bounds the address space a process maps, not the memory it holds: a loaded sim
process maps nearly 1 GiB (shared libraries, numba's LLVM, a thread stack, an OpenBLAS buffer
and a malloc arena for each of its threads) while it holds about 250 MiB. Counting what it
holds let runs through that then died of a MemoryError, or of OpenBLAS ending the process.
Under a limit `python -m sim` allows one malloc arena (`cap_malloc_arenas`): about 700 MiB.
"""

from __future__ import annotations

import os

__all__ = ["ARENA_ADDRESS_SPACE", "CORE_ADDRESS_SPACE", "EUM_ADDRESS_SPACE", "PROCESS_ADDRESS_SPACE",
           "START_ADDRESS_SPACE", "START_CORE_ADDRESS_SPACE", "address_space_limit", "cap_malloc_arenas",
           "describe_failure", "eum_address_space", "format_size", "loaded_address_space", "malloc_arenas",
           "start_refusal", "virtual_size"]

PROCESS_ADDRESS_SPACE = 620 << 20
"""Address space a sim process maps once it has run a chunk (Python, numpy, numba and LLVM,
pyarrow, SimPy, pydantic, matplotlib) on one core with one malloc arena: measured at 600 MiB
(OPENBLAS_NUM_THREADS=1 MALLOC_ARENA_MAX=1)."""
CORE_ADDRESS_SPACE = 80 << 20
"""What each usable core after the first adds: a thread in each of the two OpenBLAS libraries
(numpy's and scipy's: an 8 MiB stack and a 32 MiB buffer each); measured 81 MiB."""
ARENA_ADDRESS_SPACE = 64 << 20
"""What each malloc arena after the first maps (glibc's HEAP_MAX on 64 bits). Threads that
allocate get arenas of their own, up to MALLOC_ARENA_MAX: without it, the baseline made 3 on
one core and 4 on two (784 and 938 to 979 MiB in all). Under a limit an arena that does not fit
is done without, but one that fits first takes the room a later array or OpenBLAS buffer then
lacks (a run failed under 928 MiB, not under 879 MiB): counted whole, no run depends on that
race. `python -m sim` allows one arena under a limit (`cap_malloc_arenas`)."""
EUM_ADDRESS_SPACE = 520 << 20
"""The same for `sim eum`, which loads neither pyarrow nor scipy, besides `START_CORE_ADDRESS_SPACE`
a core: measured at 527 to 590 MiB on two cores, 565 MiB on one, 100,000 replicates included."""

START_ADDRESS_SPACE = 96 << 20
"""Address space `python -m sim` maps before any command runs (Python, numpy), besides
`START_CORE_ADDRESS_SPACE` a core: measured, it started under 127 MiB on one core and 161 MiB
on two. Below that OpenBLAS ends the process as numpy loads, with its own words and exit 1, or
raises a SIGINT that reads as a Ctrl-C: `start_refusal` says so first."""
START_CORE_ADDRESS_SPACE = 40 << 20
"""What each usable core adds at start: a thread of numpy's OpenBLAS, its stack and buffer."""


def start_refusal() -> str | None:
    """One line refusing to start where this process's address-space limit is below what Python
    and numpy map (`START_ADDRESS_SPACE`); None where it is not (or there is no limit)."""
    limit = address_space_limit()
    if limit is None:  # as usual: nothing more to load at every start
        return None
    from .parallel import usable_cores

    start = START_ADDRESS_SPACE + START_CORE_ADDRESS_SPACE * usable_cores()
    if limit >= start:
        return None
    return (f"address space: sim cannot start under its address-space limit of {format_size(limit)} (ulimit -v): "
            f"Python with numpy maps about {format_size(start)} before any command runs, and a run about "
            f"{format_size(loaded_address_space())}; raise that limit")


def loaded_address_space() -> int:
    """Bytes of address space a sim process maps once loaded and running (a fresh worker
    process as much), on this machine's usable cores, with the malloc arenas it may make
    (`malloc_arenas`)."""
    from .parallel import usable_cores

    cores = usable_cores()
    return PROCESS_ADDRESS_SPACE + CORE_ADDRESS_SPACE * (cores - 1) + ARENA_ADDRESS_SPACE * (malloc_arenas(cores) - 1)


def malloc_arenas(cores: int) -> int:
    """The malloc arenas a sim process on `cores` cores makes: measured, the cores and three more
    (its threads: pyarrow's, OpenBLAS's, its own), at most MALLOC_ARENA_MAX where that is set."""
    arenas = cores + 3
    try:
        return max(1, min(arenas, int(os.environ["MALLOC_ARENA_MAX"])))
    except (KeyError, ValueError):
        return arenas


def cap_malloc_arenas() -> None:
    """For `python -m sim` under an address-space limit, before numpy loads: one malloc arena
    (mallopt M_ARENA_MAX, glibc), and MALLOC_ARENA_MAX=1 for the worker processes it spawns, so
    that each thread's 64 MiB arena does not take the room its arrays and libraries need (a run
    then fits in about 700 MiB on two cores, not 1 GiB). A user's own MALLOC_ARENA_MAX stands;
    where there is no mallopt (not glibc: no such arenas either) nothing changes. The process
    allocates from one arena only under that limit, with no measurable cost here."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        if ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 1) != 1:
            return
    except (OSError, AttributeError):
        return
    os.environ["MALLOC_ARENA_MAX"] = "1"


_M_ARENA_MAX = -8
"""glibc's malloc.h."""


def eum_address_space() -> int:
    """`loaded_address_space` of a process that runs `sim eum` alone."""
    from .parallel import usable_cores

    return EUM_ADDRESS_SPACE + START_CORE_ADDRESS_SPACE * usable_cores()


def address_space_limit() -> int | None:
    """This process's soft RLIMIT_AS in bytes; None where there is none (RLIM_INFINITY, or not
    a POSIX system)."""
    try:
        import resource
    except ImportError:  # not a POSIX system: no such limit
        return None
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (OSError, ValueError, AttributeError):
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    return soft


def virtual_size() -> int | None:
    """Bytes of address space this process maps now (VmSize: the first field of
    /proc/self/statm, in pages); None where that cannot be read (not Linux)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


_MAPPING_FAILED = ("failed to map segment", "cannot allocate memory", "could not find/load shared object",
                   "unable to allocate", "failed to launch worker thread", "can't start new thread")
"""What a loader, numpy, pyarrow, llvmlite or Python says when a mapping or a thread does not fit."""


def describe_failure(exc: BaseException) -> str | None:
    """One line for an exception that the address-space limit caused (a MemoryError, or a
    shared library, thread or array that could not be mapped, anywhere in its chain), naming
    the limit and what a sim process maps; None where there is no limit or `exc` is something
    else (a bug: it keeps its traceback)."""
    limit = address_space_limit()
    cause = _mapping_failure(exc)
    if limit is None or cause is None:
        return None
    what = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return (f"address space: sim ran out of address space under its limit of {format_size(limit)} (ulimit -v): "
            f"{what}; a sim process maps about {format_size(loaded_address_space())} once loaded: raise that limit")


def _mapping_failure(exc: BaseException | None) -> BaseException | None:
    """The MemoryError or failed mapping in `exc`'s chain of causes, if any: the innermost
    MemoryError or OSError, the loader's own words (llvmlite's wrapper says only that it could
    not load the library), else the first that names a failed mapping or thread (pyarrow's)."""
    seen: set[int] = set()
    first = inner = None
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MemoryError) or any(s in str(exc).lower() for s in _MAPPING_FAILED):
            first = first or exc
            if isinstance(exc, (MemoryError, OSError)):
                inner = exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return inner or first


def format_size(n: float) -> str:
    """`n` bytes in the largest binary unit it reaches, one decimal: `1.5 GiB`."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"
