"""The shared pre-trained-LM cache: one world is never pre-trained twice, another world is, and
an LM pre-trained by other code is never served; `--pretrained_cache_clear` empties the cache."""

import json
import os
import shutil
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
import jax
import numpy as np

from experiments import explore
from lmrl import lm as lm_lib
from lmrl import pipeline
from lmrl import pretrained_cache
from lmrl import pretraining
from lmrl.configs import tiny


def _pretrained(config, workdir, cache_dir):
  lines = []
  spec, lm_spec, world = pipeline.build_world(config)
  params, report = pipeline.pretrained_lm(config, spec, lm_spec, world, str(workdir),
                                          log=lines.append, cache_dir=str(cache_dir))
  return params, report, lines


def test_a_second_run_of_the_same_world_loads_the_cached_lm_and_another_world_pretrains(
    tmp_path):
  config = tiny.get_config()
  cache = tmp_path / 'cache'
  first, report, lines = _pretrained(config, tmp_path / 'a', cache)
  assert any('pre-training the LM' in line for line in lines)
  assert os.listdir(cache) == [pretrained_cache.key(config)]  # No temporary left.

  again, report_again, lines = _pretrained(config, tmp_path / 'b', cache)
  assert not any('pre-training the LM' in line for line in lines)
  assert any('from the cache' in line for line in lines)
  jax.tree_util.tree_map(np.testing.assert_array_equal, first, again)
  assert report_again == report
  assert os.path.exists(tmp_path / 'b' / 'pretrained')  # The work directory holds its own copy.

  # Settings that do not touch pre-training share the entry; another world does not.
  config.experiment.num_seeds = 7
  config.finetune.learning_rate = 0.5
  assert pretrained_cache.key(config) == pretrained_cache.key(tiny.get_config())
  config.world.seed = 1
  _, _, lines = _pretrained(config, tmp_path / 'c', cache)
  assert any('pre-training the LM' in line for line in lines)
  assert len(os.listdir(cache)) == 2


def _normalised(value):
  return json.loads(json.dumps(value))


def test_an_entry_written_by_other_code_is_never_served(tmp_path, monkeypatch):
  config = tiny.get_config()
  cache = tmp_path / 'cache'
  pretrained = []  # One entry per pre-training; a stand-in LM keeps the test fast.

  def pretrain_from_config(config, world, spec, lm_spec):
    del world, spec
    pretrained.append(config.seed)
    return lm_lib.init_lm(jax.random.key(len(pretrained)), lm_spec), np.ones(2)

  monkeypatch.setattr(pretraining, 'pretrain_from_config', pretrain_from_config)
  current = pretrained_cache.key(config)
  with monkeypatch.context() as other_code:
    other_code.setattr(pretrained_cache, 'code_hash', lambda: 'edited lm.py')
    other = pretrained_cache.key(config)
    assert other != current  # The source is part of the key.
    _pretrained(config, tmp_path / 'a', cache)  # Pre-trained by "other code".
    _, _, lines = _pretrained(config, tmp_path / 'a2', cache)
    assert any('from the cache' in line for line in lines)  # Which serves itself.
  assert len(pretrained) == 1

  _, _, lines = _pretrained(config, tmp_path / 'b', cache)
  assert len(pretrained) == 2  # A fresh pre-training.
  assert any('pre-training the LM' in line for line in lines)
  assert not any('from the cache' in line for line in lines)
  assert sorted(os.listdir(cache)) == sorted([current, other])
  manifest = json.loads((cache / current / 'manifest.json').read_text())
  assert manifest['key'] == current and manifest['written']
  assert manifest['inputs'] == _normalised(pretrained_cache.inputs(config))
  assert set(manifest['inputs']['code']) == {'source', 'lmrl', 'libraries', 'platform'}
  assert set(manifest['inputs']['config']) == {'seed', 'world', 'lm', 'pretrain'}

  # Even at this code's key (a truncated-hash collision, a hand-copied entry), an entry whose
  # manifest names other inputs is not served: pre-trained again, and replaced.
  shutil.rmtree(cache / current)
  os.rename(cache / other, cache / current)
  _, _, lines = _pretrained(config, tmp_path / 'c', cache)
  assert any('other inputs' in line for line in lines)
  assert len(pretrained) == 3
  manifest = json.loads((cache / current / 'manifest.json').read_text())
  assert manifest['inputs']['code']['source'] == pretrained_cache.code_hash()


def _fake_entry(cache, name, inputs=None, size=1000):
  entry = cache / name
  (entry / 'params').mkdir(parents=True)
  (entry / 'params' / 'data').write_bytes(b'x' * size)
  if inputs is not None:
    (entry / 'manifest.json').write_text(json.dumps({'key': name, 'inputs': inputs}))
  return size + (len(json.dumps({'key': name, 'inputs': inputs})) if inputs is not None else 0)


def test_the_clear_flag_removes_stale_entries_then_every_entry(tmp_path, capsys):
  cache = tmp_path / 'cache'
  inputs = _normalised(pretrained_cache.inputs(tiny.get_config()))
  kept = _fake_entry(cache, 'current', inputs)
  stale = _fake_entry(cache, 'other_code', {**inputs, 'code': {**inputs['code'], 'source': 'x'}})
  stale += _fake_entry(cache, 'old_layout')  # No manifest: an entry of an earlier lmrl.
  kept += _fake_entry(cache, 'current.tmp123', inputs)  # Perhaps being written by a live run.
  listed = {os.path.basename(e['path']): e for e in pretrained_cache.entries(str(cache))}
  assert {n: e['current'] for n, e in listed.items()} == {
      'current': True, 'other_code': False, 'old_layout': False, 'current.tmp123': True}
  assert listed['other_code']['manifest']['inputs']['code']['source'] == 'x'

  def clear(which):
    with flagsaver.flagsaver():
      flags.FLAGS(['explore', f'--pretrained_cache={cache}', f'--pretrained_cache_clear={which}'])
      explore.main([])  # Without --workdir: clears, says so and returns.
    return capsys.readouterr().out.strip().splitlines()

  assert clear('stale') == [
      f'--pretrained_cache_clear=stale: removed 2 entries not written by this code from {cache}, '
      f'freed {stale / 1e6:.1f} MB ({stale} bytes); kept 2 entries']
  assert sorted(os.listdir(cache)) == ['current', 'current.tmp123']
  assert clear('all') == [
      f'--pretrained_cache_clear=all: removed 2 entries from {cache}, freed {kept / 1e6:.1f} MB '
      f'({kept} bytes); kept 0 entries']
  assert os.listdir(cache) == []


def test_pretrain_has_the_clear_flag_too(tmp_path):
  cache = tmp_path / 'cache'
  size = _fake_entry(cache, 'old_layout')
  out = subprocess.run([sys.executable, '-m', 'experiments.pretrain', '--config=tiny',
                        f'--pretrained_cache={cache}', '--pretrained_cache_clear=stale'],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr
  assert out.stdout.splitlines() == [
      f'--pretrained_cache_clear=stale: removed 1 entry not written by this code from {cache}, '
      f'freed 0.0 MB ({size} bytes); kept 0 entries']
  assert os.listdir(cache) == []


def _changed(value):
  """Another valid-looking value of a config field's type."""
  if isinstance(value, bool):
    return not value
  if isinstance(value, (int, float)):
    return value + 1
  if isinstance(value, str):
    return value + '_other'
  if isinstance(value, tuple):
    return value[::-1] if value[::-1] != value else value + value[:1]
  raise TypeError(type(value))


def test_the_key_holds_the_world_kind_and_every_world_field():
  """An LM pre-trained on one world is never served for another: every field of config.world
  (the kind, the structured world's parameters, ...) enters the key."""
  base = pretrained_cache.key(tiny.get_config())
  config = tiny.get_config()
  config.world.kind = 'structured'
  structured = pretrained_cache.key(config)
  assert structured != base
  config.world.minority_opposition = 0.5
  assert pretrained_cache.key(config) not in (base, structured)
  for field, value in tiny.get_config().world.items():
    config = tiny.get_config()
    config.world[field] = _changed(value)
    assert pretrained_cache.key(config) != base, field
