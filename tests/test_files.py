"""Files are whole or absent, JSON is strict, an unreadable `.npz` is one line, JSON lines stay
whole across a kill. Pure Python and NumPy on a temporary directory."""

import json
import os

import numpy as np
import pytest

from lmrl import errors
from lmrl import files
from lmrl import workdir as workdir_lib


def _strict(line: str):
  """json.loads that refuses NaN, Infinity and -Infinity."""
  def refuse(name):
    raise ValueError(f'not strict JSON: {name}')
  return json.loads(line, parse_constant=refuse)


def test_a_failed_write_keeps_the_previous_file_and_names_it(tmp_path):
  path = str(tmp_path / 'summary.json')
  files.write_atomic(path, 'before\n')

  with pytest.raises(OSError) as failed:
    with files.atomic_path(path) as tmp:
      with open(tmp, 'w') as f:
        f.write('half')
      raise OSError(28, 'No space left on device')  # No file name: atomic_path names it.
  assert failed.value.filename == path
  with open(path) as f:
    assert f.read() == 'before\n'
  assert os.listdir(tmp_path) == ['summary.json']  # No temporary file left behind.


def test_write_json_is_strict_and_write_csv_takes_every_column(tmp_path):
  path = str(tmp_path / 'x.json')
  files.write_json(path, {'a': float('nan'), 'b': [1.0, float('inf'), (float('-inf'), 2)]})
  with open(path) as f:
    assert _strict(f.read()) == {'a': None, 'b': [1.0, None, [None, 2]]}
  path = str(tmp_path / 'x.csv')
  files.write_csv(path, [{'a': 1, 'b': 2}, {'a': 3, 'c': float('nan')}])
  with open(path, newline='') as f:
    assert f.read() == 'a,b,c\r\n1,2,\r\n3,,nan\r\n'


def test_arrays_round_trip_and_an_unreadable_file_is_one_line(tmp_path):
  path = str(tmp_path / 'joint_passive.npz')
  arrays = {'kl': np.arange(6.0).reshape(2, 3), 'failed': np.array([0, 1], np.int32)}
  files.save_arrays(path, arrays)
  loaded = files.load_arrays(path)
  assert sorted(loaded) == sorted(arrays)
  for name, value in arrays.items():
    np.testing.assert_array_equal(loaded[name], value)
    assert loaded[name].dtype == value.dtype
  with open(path, 'r+b') as f:
    f.truncate(100)
  with pytest.raises(workdir_lib.WorkdirError) as unreadable:
    files.load_arrays(path)
  assert isinstance(unreadable.value, errors.UserError)
  message = str(unreadable.value)
  assert '\n' not in message and path in message and 'delete it' in message


def test_json_lines_are_strict_and_a_cut_line_is_dropped(tmp_path):
  path = str(tmp_path / 'metrics.jsonl')
  files.drop_partial_line(path)  # No file yet: nothing to do.
  files.append_jsonl(path, [{'round': 0, 'kl': 1.5}, {'round': 1, 'kl': float('inf'),
                                                       'tv': float('nan')}])
  with open(path, 'a') as f:
    f.write('{"round": 2, "kl"')  # What a kill mid-write may leave.
  files.drop_partial_line(path)
  files.append_jsonl(path, [{'round': 2, 'kl': float('-inf')}])
  with open(path) as f:
    lines = [_strict(line) for line in f]
  assert lines == [{'round': 0, 'kl': 1.5},
                   {'round': 1, 'kl': None, 'tv': None, 'nonfinite': {'kl': 'inf', 'tv': 'nan'}},
                   {'round': 2, 'kl': None, 'nonfinite': {'kl': '-inf'}}]
