"""From a config to an experiment's pieces (`lmrl.pipeline`): the world and the LM's shapes from a
config, the pre-trained LM loaded from a work directory that holds one, the agent of a kind.
(The shared pre-trained-LM cache is tests/test_pretrained_cache.py's.)"""

import json
import os
import shutil

import jax
import numpy as np

from lmrl import lm as lm_lib
from lmrl import pipeline
from lmrl import registry
from lmrl import world as world_lib
from lmrl.configs import tiny
from tests import conftest


def test_the_shared_fixtures_are_the_tiny_configs_world_with_uniform_prompts(spec, lm_spec, world):
  """conftest builds `spec`, `lm_spec` and `world` with `build_world`; they stay the values every
  test's numbers were computed on."""
  assert spec == world_lib.WorldSpec(vocab_size=3, prompt_length=1, response_length=2,
                                     group_weights=(0.7, 0.3), teacher_temperature=0.5,
                                     prompt_logit_scale=0.0, favourite_mass=0.5)
  assert lm_spec == lm_lib.LMSpec(vocab_size=3, sequence_length=4, width=16, depth=1,
                                  num_heads=2, mlp_ratio=4)
  np.testing.assert_allclose(np.exp(world.log_rho_P), 1 / 3, rtol=1e-6)  # Uniform prompts.
  # The tiny config itself differs only in its prompts; the world comes from key(world.seed).
  config = tiny.get_config()
  assert pipeline.build_specs(config) == (spec._replace(prompt_logit_scale=0.5), lm_spec)
  config = conftest.fixture_config()
  config.world.seed = 1
  _, _, other = pipeline.build_world(config)
  jax.tree_util.tree_map(np.testing.assert_array_equal, other,
                         world_lib.make_world(jax.random.key(1), spec))
  assert not np.allclose(other.log_pstar_PxN, world.log_pstar_PxN)


def test_a_workdir_that_holds_a_pretrained_lm_loads_it_and_reports_the_same(tiny_run, tmp_path):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  shutil.copytree(os.path.join(tiny_run, 'pretrained'), workdir / 'pretrained')
  config = tiny.get_config()
  lines = []
  _, report = pipeline.pretrained_lm(config, *pipeline.build_world(config), str(workdir),
                                     log=lines.append)
  assert lines == [f'loaded the pre-trained LM from {workdir / "pretrained"}']  # No training.
  with open(os.path.join(tiny_run, 'pretrain.json')) as f:
    assert report == json.load(f)
  assert (workdir / 'pretrain.json').read_text() == (
      open(os.path.join(tiny_run, 'pretrain.json')).read())


def test_make_agent_builds_the_configs_kind_unless_told_another(monkeypatch):
  for kind in registry.AGENT_KINDS:
    monkeypatch.setitem(registry.AGENT_KINDS, kind, lambda *args, kind=kind: (kind, args))
  config = tiny.get_config()
  assert pipeline.make_agent(config, 'spec', 'lm_spec') == ('joint', (config, 'spec', 'lm_spec'))
  assert pipeline.make_agent(config, 'spec', 'lm_spec', 'classic')[0] == 'classic'
  config.agent.kind = 'classic'
  assert pipeline.make_agent(config, 'spec', 'lm_spec')[0] == 'classic'
