"""Files written whole or not at all, strict JSON, the metric arrays' `.npz` and the live JSONL.

Every file is written once, under a temporary name, and then renamed (`atomic_path`), so a killed
process leaves either the previous file or the new one, never half of one. The one file that
grows, a JSON-lines log (`append_jsonl`), is appended one whole batch of lines at a time, and a
line cut by a kill is dropped before the next append (`drop_partial_line`).

JSON is strict everywhere: NaN and inf are written as null (`finite_or_none`); in a JSON line the
object also says which fields were not finite and why (`"nonfinite": {"kl": "inf"}`).
"""

import contextlib
import csv
import io
import json
import math
import os
import zipfile

import numpy as np

from lmrl import errors


@contextlib.contextmanager
def atomic_path(path: str):
  """Yields a temporary path to write `path`'s whole content to; renamed to `path` on success."""
  tmp = f'{path}.tmp{os.getpid()}'
  try:
    yield tmp
    os.replace(tmp, path)
  except OSError as error:
    if error.filename is None:  # A failed write (e.g. a full disk) names no file: name it.
      raise OSError(error.errno, error.strerror, path) from error
    raise
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_atomic(path: str, text: str) -> None:
  """Writes `text` to `path` via a temporary file and a rename: never half a file."""
  with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())


def write_csv(path: str, rows: list[dict]) -> None:
  """Writes rows as a CSV (header from the union of their columns, in first-seen order)."""
  columns = list(dict.fromkeys(k for row in rows for k in row))
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=columns)
  writer.writeheader()
  writer.writerows(rows)
  write_atomic(path, out.getvalue())


def write_json(path: str, value) -> None:
  """Writes strict JSON (NaN and inf become null) atomically."""
  write_atomic(path, json.dumps(finite_or_none(value), indent=2) + '\n')


def finite_or_none(value):
  """`value` (nested dicts, lists and tuples) with every NaN or inf float replaced by None."""
  if isinstance(value, dict):
    return {k: finite_or_none(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [finite_or_none(v) for v in value]
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def save_arrays(path: str, arrays: dict[str, np.ndarray]) -> None:
  """Writes `arrays` as an uncompressed `.npz`, whole or not at all."""
  with atomic_path(path) as tmp, open(tmp, 'wb') as f:
    np.savez(f, **arrays)


def load_arrays(path: str) -> dict[str, np.ndarray]:
  """The arrays of a `.npz`; one that cannot be read raises `errors.WorkdirError` (one line)."""
  try:
    with np.load(path, allow_pickle=False) as data:
      return {name: data[name] for name in data.files}
  except (OSError, ValueError, zipfile.BadZipFile) as error:
    raise errors.WorkdirError(
        f'{path} cannot be read ({type(error).__name__}: {str(error)[:120]}); delete it to run '
        'that sweep again') from None


def json_line(obj: dict) -> str:
  """`obj` as one line of strict JSON: a non-finite float becomes null, and the object gains a
  `nonfinite` field naming each such field and what it was ('nan', 'inf' or '-inf')."""
  nonfinite = {k: str(v) for k, v in obj.items() if isinstance(v, float) and not math.isfinite(v)}
  if nonfinite:
    obj = {**{k: None if k in nonfinite else v for k, v in obj.items()}, 'nonfinite': nonfinite}
  return json.dumps(obj, allow_nan=False) + '\n'


def append_jsonl(path: str, objects: list[dict]) -> None:
  """Appends one strict JSON line per object (`json_line`) to `path`, flushed to disk.

  Safe to `tail -f`; every line is complete or absent (a line cut by a kill is dropped by
  `drop_partial_line` before the next run appends).
  """
  with open(path, 'a') as f:
    f.write(''.join(json_line(obj) for obj in objects))
    f.flush()
    os.fsync(f.fileno())


def drop_partial_line(path: str) -> None:
  """Truncates `path` after its last newline (what a kill mid-write may leave)."""
  if not os.path.exists(path):
    return
  with open(path, 'rb+') as f:
    data = f.read()
    if data and not data.endswith(b'\n'):
      f.truncate(data.rfind(b'\n') + 1)
