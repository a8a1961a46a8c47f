"""Faults around the work directory: a concurrent run, an unreadable checkpoint, a full disk.

Each fault stops with one line (a `errors.UserError`, which the binaries print as `error: ...`)
and leaves every file written before it as it was.
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

import lmrl
import tiny_sweep
from lmrl import checkpoints
from lmrl import errors
from lmrl import files
from lmrl import workdir as workdir_lib
from lmrl.configs import tiny
from tests import conftest


def _files(directory) -> dict[str, bytes]:
  """{relative path: bytes} of every file under `directory`."""
  out = {}
  for root, _, names in os.walk(directory):
    for name in names:
      if name == workdir_lib.LOCK_FILE:  # Holds the pid of the last run: not a result.
        continue
      path = os.path.join(root, name)
      with open(path, 'rb') as f:
        out[os.path.relpath(path, directory)] = f.read()
  return out


def _tiny_config():
  config = tiny.get_config()
  config.experiment.strategies = conftest.TINY_RUN_STRATEGIES
  return config


def _one_line(error: Exception) -> str:
  message = str(error)
  assert message and '\n' not in message, message
  return message


def test_a_second_run_on_a_live_workdir_is_refused_and_a_killed_run_leaves_no_lock(tmp_path):
  workdir = str(tmp_path / 'run')
  # A live run: another process holding the work directory's lock.
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time; from lmrl import workdir; '
       'lock = workdir.lock(sys.argv[1]); lock.__enter__(); print("locked", flush=True); '
       'time.sleep(600)', workdir], stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'locked'
    before = _files(workdir)
    with pytest.raises(workdir_lib.WorkdirError) as refused:
      lmrl.run(_tiny_config(), workdir, log=lambda line: None)
    message = _one_line(refused.value)
    assert 'in use by another run' in message and f'pid {holder.pid}' in message
    assert _files(workdir) == before  # Nothing written, nothing removed.
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
  finally:
    if holder.poll() is None:
      holder.kill()
  with workdir_lib.lock(workdir):  # The kernel dropped the killed holder's lock.
    pass


def test_an_unreadable_checkpoint_falls_back_to_the_one_before_or_stops_with_one_line(tmp_path):
  path = str(tmp_path / 'checkpoints')
  tiny_sweep.run(checkpoint_dir=path)  # Two chunks: checkpoints 1 and 2 are kept.
  assert sorted(os.listdir(path)) == ['1', '2']

  def truncate_largest_file(step):
    files = [os.path.join(root, name) for root, _, names in os.walk(os.path.join(path, step))
             for name in names]
    largest = max(files, key=os.path.getsize)
    with open(largest, 'r+b') as f:
      f.truncate(os.path.getsize(largest) // 2)

  truncate_largest_file('2')
  lines, chunks = [], []
  resumed = tiny_sweep.run(checkpoint_dir=path, log=lines.append,
                           on_chunk=lambda done, metrics, seconds: chunks.append(done))
  assert chunks == [2]  # Resumed from checkpoint 1: only the second chunk ran again.
  for name, value in tiny_sweep.reference().items():
    np.testing.assert_array_equal(resumed[name], value, err_msg=name)
  assert len(lines) == 1 and 'step 2' in lines[0] and 'cannot be read' in lines[0]
  assert os.path.isdir(path + '.unreadable-step2')  # Moved aside, not deleted.

  for step in ('1', '2'):
    truncate_largest_file(step)
  with pytest.raises(checkpoints.CorruptCheckpointError) as stopped:
    tiny_sweep.run(checkpoint_dir=path, log=lambda line: None)
  assert path in _one_line(stopped.value)
  kept = [name for name in os.listdir(tmp_path) if 'unreadable' in name]
  assert len(kept) == 3  # Every unreadable checkpoint is still there, set aside.


def test_a_full_disk_while_writing_a_result_stops_with_one_line_and_keeps_earlier_files(
    tiny_run, tmp_path, monkeypatch):
  workdir = str(tmp_path / 'run')
  shutil.copytree(tiny_run, workdir)
  os.remove(os.path.join(workdir, 'summary.json'))
  before = _files(workdir)

  real_open = open

  def open_on_a_full_disk(path, mode='r', *args, **kwargs):
    f = real_open(path, mode, *args, **kwargs)
    if 'summary.json' in str(path) and 'w' in mode:
      f.write = lambda text: (_ for _ in ()).throw(OSError(errno.ENOSPC, 'No space left'))
    return f

  monkeypatch.setattr(files, 'open', open_on_a_full_disk, raising=False)
  with pytest.raises(workdir_lib.WorkdirError) as stopped:
    lmrl.run(_tiny_config(), workdir, log=lambda line: None)
  message = _one_line(stopped.value)
  assert 'disk full' in message and os.path.join(workdir, 'summary.json') in message
  after = _files(workdir)
  assert after == before  # Every earlier file as it was (results.csv rewritten identically).
  assert not [name for name in after if '.tmp' in name]  # No half-written file left behind.


def _bytes_under(path) -> int:
  return (os.path.getsize(path) if os.path.isfile(path) else
          sum(os.path.getsize(os.path.join(root, name))
              for root, _, names in os.walk(path) for name in names))


def test_sweeps_that_would_not_fit_on_the_disk_are_refused_before_compiling(
    tiny_run, tmp_path, monkeypatch):
  """With the last sweep's files gone (it must run again) and a disk with less free space than
  its checkpoints and results need, the run stops before the sweep compiles, in one line giving
  both numbers; every file already written stays. The estimate covers what the sweep wrote."""
  workdir = str(tmp_path / 'run')
  shutil.copytree(tiny_run, workdir)
  sweep = 'joint_infomax'
  for name in (f'{sweep}.npz', f'{sweep}_shown.npz'):
    os.remove(os.path.join(workdir, 'results', name))
  shutil.rmtree(os.path.join(workdir, 'checkpoints', sweep))
  os.remove(os.path.join(workdir, 'results.csv'))
  before = _files(workdir)
  free = 10_000
  monkeypatch.setattr(lmrl.runner.shutil, 'disk_usage',
                      lambda path: shutil._ntuple_diskusage(10 ** 12, 10 ** 12 - free, free))
  with pytest.raises(workdir_lib.WorkdirError) as stopped:
    lmrl.run(_tiny_config(), workdir, log=lambda line: None)
  message = _one_line(stopped.value)
  assert message.startswith('the sweeps left (joint: infomax) need about ')
  assert f'more than the {free / 1e6:,.1f} MB free under {workdir}' in message
  assert 'experiment.num_seeds' in message
  assert _files(workdir) == before
  needed = float(message.split('need about ')[1].split(' MB')[0].replace(',', '')) * 1e6
  written = sum(_bytes_under(os.path.join(tiny_run, *part)) for part in (
      ('checkpoints', sweep), ('results', f'{sweep}.npz'), ('results', f'{sweep}_shown.npz')))
  assert written <= needed <= 3 * written, (written, needed)


def test_an_unreadable_finished_sweep_stops_with_one_line_naming_it(tiny_run, tmp_path):
  workdir = str(tmp_path / 'run')
  shutil.copytree(tiny_run, workdir)
  arrays = os.path.join(workdir, 'results', 'joint_infomax.npz')
  with open(arrays, 'r+b') as f:
    f.truncate(100)
  before = _files(workdir)
  with pytest.raises(workdir_lib.WorkdirError) as stopped:
    lmrl.run(_tiny_config(), workdir, log=lambda line: None)
  assert arrays in _one_line(stopped.value)
  assert _files(workdir) == before


def test_a_workdir_of_an_older_lmrl_resumes_and_another_config_is_refused_naming_fields(
    tmp_path):
  """A field the saved config lacks is accepted at its default (and config.json gains it; a
  script reading the run gets it there too, `saved_config`); a changed, missing or non-default
  new field is refused with one line naming each."""
  config = tiny.get_config()
  workdir = str(tmp_path / 'run')
  workdir_lib.prepare(workdir, config)
  path = os.path.join(workdir, 'config.json')
  older = json.loads(open(path).read())
  del older['agent']['deploy']  # As written by an lmrl before `agent.deploy` existed.
  open(path, 'w').write(json.dumps(older))
  # What scripts read back: the run's config, its tuples as tuples, the missing field's default.
  assert workdir_lib.saved_config(workdir).to_dict() == config.to_dict()
  workdir_lib.prepare(workdir, config)
  assert json.loads(open(path).read())['agent']['deploy'] == 'mixture'

  open(path, 'w').write(json.dumps(older))
  changed = tiny.get_config()
  changed.agent.deploy = 'mean_logits'
  changed.experiment.rounds = 7
  with pytest.raises(workdir_lib.ForeignWorkdir) as error:
    workdir_lib.prepare(workdir, changed)
  message = str(error.value)
  assert "agent.deploy: absent there, 'mean_logits' here" in message, message
  assert 'experiment.rounds: 4 there, 7 here' in message, message
  assert '\n' not in message
  assert json.loads(open(path).read()) == older  # Nothing rewritten.


def test_a_many_world_run_begun_before_lanes_were_keyed_by_world_seed_is_refused(tmp_path):
  """A new many-world run records its lane keys (`LANE_KEYS_FILE`) and resumes; one with a
  checkpoint but no record (an older lmrl's, whose lanes had other keys) is refused in one line,
  its files kept; a one-world run needs no record."""
  config = tiny.get_config()
  config.world.num_worlds = 2
  workdir = str(tmp_path / 'run')
  workdir_lib.prepare(workdir, config)
  record = os.path.join(workdir, workdir_lib.LANE_KEYS_FILE)
  assert os.path.exists(record)
  os.makedirs(os.path.join(workdir, 'checkpoints', 'joint_passive'))
  workdir_lib.prepare(workdir, config)  # Resumes.
  os.remove(record)
  before = _files(workdir)
  with pytest.raises(workdir_lib.ForeignWorkdir) as error:
    workdir_lib.prepare(workdir, config)
  assert str(error.value) == (
      f'--workdir {workdir} holds a many-world run begun before lmrl keyed lanes by world seed '
      f'(its checkpoints are there, its {workdir_lib.LANE_KEYS_FILE} file is not): its lanes '
      'would not match the ones run now; choose a new --workdir')
  assert _files(workdir) == before
  one_world = tiny.get_config()
  workdir_lib.prepare(str(tmp_path / 'one'), one_world)
  os.makedirs(str(tmp_path / 'one' / 'checkpoints' / 'joint_passive'))
  workdir_lib.prepare(str(tmp_path / 'one'), one_world)
  assert not os.path.exists(str(tmp_path / 'one' / workdir_lib.LANE_KEYS_FILE))


def test_checkpoints_are_packed_and_older_unpacked_ones_still_restore(tmp_path):
  """A checkpoint holds one array per dtype (orbax keeps memory per leaf saved); it restores to
  the tree exactly, and a checkpoint saved as the tree itself (before packing) restores too."""
  tree = {'state': {'w': np.arange(6, dtype=np.float32).reshape(2, 3), 'n': np.int32(7),
                    'empty': np.zeros((0, 4), np.float32), 'flags': np.asarray([True, False]),
                    'key': np.asarray([[1, 2]], np.uint32)},
          'metrics': {'kl': np.full((2, 5), np.nan, np.float32)}}
  packed = str(tmp_path / 'packed')
  checkpoints.save_progress(packed, 3, tree)
  step, restored = checkpoints.restore_progress(packed, tree, log=lambda line: None)
  assert step == 3
  jax_tree_equal = lambda a, b: all(  # pylint: disable=unnecessary-lambda-assignment
      x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
      for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))
  assert jax_tree_equal(restored, tree)
  manager = checkpoints._manager(packed)  # pylint: disable=protected-access
  stored = manager.restore(3, args=checkpoints.ocp.args.StandardRestore())  # As it is on disk.
  assert {name: np.shape(x) for name, x in stored.items()} == {
      'float32': (16,), 'int32': (1,), 'bool': (2,), 'uint32': (2,)}
  manager.close()
  older = str(tmp_path / 'older')
  del tree['state']['empty']  # (orbax saves no empty array: no older checkpoint held one.)
  manager = checkpoints._manager(older)  # pylint: disable=protected-access
  manager.save(5, args=checkpoints.ocp.args.StandardSave(tree))
  manager.wait_until_finished()
  manager.close()
  step, restored = checkpoints.restore_progress(older, tree, log=lambda line: None)
  assert step == 5 and jax_tree_equal(restored, tree)
