"""The shared pre-trained-LM cache: one world is never pre-trained twice, another world is."""

import os

import jax
import numpy as np

from lmrl import pipeline
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
  assert os.listdir(cache) == [pipeline.pretrained_cache_key(config)]  # No temporary left.

  again, report_again, lines = _pretrained(config, tmp_path / 'b', cache)
  assert not any('pre-training the LM' in line for line in lines)
  assert any('from the cache' in line for line in lines)
  jax.tree_util.tree_map(np.testing.assert_array_equal, first, again)
  assert report_again == report
  assert os.path.exists(tmp_path / 'b' / 'pretrained')  # The work directory holds its own copy.

  # Settings that do not touch pre-training share the entry; another world does not.
  config.experiment.num_seeds = 7
  config.finetune.learning_rate = 0.5
  assert pipeline.pretrained_cache_key(config) == pipeline.pretrained_cache_key(tiny.get_config())
  config.world.seed = 1
  _, _, lines = _pretrained(config, tmp_path / 'c', cache)
  assert any('pre-training the LM' in line for line in lines)
  assert len(os.listdir(cache)) == 2
