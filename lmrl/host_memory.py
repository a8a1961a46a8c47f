"""Host memory that stays flat over a long run: glibc's malloc arenas, limited (an option).

A long run on the CPU grew by ~80-100 MB over 10,240 rankings (docs/running.md, `python -m
benchmarks.memory`), in steps, with nothing leaking: glibc gives each thread that allocates its
own malloc arena (up to 8 per core), XLA's CPU thread pool allocates from many threads, and
freed memory in those arenas is kept for reuse rather than returned to the system.

`limit_malloc_arenas(2)` (glibc's `mallopt(M_ARENA_MAX, 2)`, what `MALLOC_ARENA_MAX=2` sets from
the environment) keeps the run flat and ~150-200 MB lower, at ~10% more seconds a round, measured
side by side (`python -m benchmarks.memory --malloc=arenas,glibc`); a fixed trim threshold
(`M_TRIM_THRESHOLD`, which also fixes glibc's mmap threshold) keeps it flat too but cost 1.24-1.32x
the seconds. So it is an option, not a default: the binaries take `--malloc_arena_max`
(`lmrl.flags`), 0 leaving glibc as it is. It must be set before JAX starts its threads (before the
first computation; `import jax` alone starts none), which is why the binaries apply it first
thing in `main`; a library import never does (the process's allocator is the caller's to choose).
Where the C library is not glibc it does nothing.
"""

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD = -1  # glibc's malloc.h parameter numbers.
M_ARENA_MAX = -8
ARENA_MAX = 2  # The arena limit measured (docs/running.md).
TRIM_THRESHOLD_BYTES = 128 * 1024  # The trim threshold measured (slower: not recommended).


@functools.cache
def _libc():
  """glibc, or None where the process's C library is not glibc (macOS, musl)."""
  try:
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    libc.gnu_get_libc_version  # pylint: disable=pointless-statement (glibc only)
  except (OSError, AttributeError):
    return None
  return libc


def limit_malloc_arenas(arena_max: int, trim_threshold_bytes: int | None = None) -> bool:
  """Sets glibc's arena limit (0: glibc's own, 8 per core) and, if given, its trim threshold
  for this process; True where the settings took effect.

  Call before JAX's first computation (arenas already made by other threads are kept).
  """
  libc = _libc()
  if libc is None:
    return False
  done = arena_max == 0 or bool(libc.mallopt(M_ARENA_MAX, arena_max))
  if trim_threshold_bytes is not None:
    done = done and bool(libc.mallopt(M_TRIM_THRESHOLD, trim_threshold_bytes))
  return done
