"""lmrl.host_memory: the binaries' malloc settings take effect (glibc's arenas, counted)."""

import subprocess
import sys

import pytest

from lmrl import host_memory

# Eight threads allocate at once, then glibc's `malloc_info` is read: one `<heap nr=...>` per arena.
_COUNT_ARENAS = r'''
import ctypes, importlib.util, os, sys, tempfile, threading
spec = importlib.util.spec_from_file_location('host_memory', sys.argv[2])  # Not all of lmrl.
host_memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(host_memory)
if sys.argv[1] == 'limited':
  assert host_memory.limit_malloc_arenas(2)
libc = ctypes.CDLL('libc.so.6')
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
together = threading.Barrier(8)
def allocate():
  together.wait()
  blocks = [libc.malloc(1 << 16) for _ in range(64)]
  together.wait()  # Every thread holds its blocks at once.
  for block in blocks:
    libc.free(block)
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
  thread.start()
for thread in threads:
  thread.join()
with tempfile.TemporaryDirectory() as tmp:
  path = os.path.join(tmp, 'info.xml')
  stream = libc.fopen(path.encode(), b'w')
  libc.malloc_info(0, stream)
  libc.fclose(stream)
  print(open(path).read().count('<heap nr='))
'''


def _arenas(setting: str) -> int:
  out = subprocess.run([sys.executable, '-c', _COUNT_ARENAS, setting, host_memory.__file__], check=True,
                       capture_output=True, text=True).stdout
  return int(out)


@pytest.mark.skipif(host_memory._libc() is None, reason='glibc only')  # pylint: disable=protected-access
def test_limit_caps_the_arenas_eight_threads_would_make():
  assert _arenas('glibc') > host_memory.ARENA_MAX  # Otherwise the check below proves nothing.
  assert _arenas('limited') <= host_memory.ARENA_MAX

