"""Pre-training on the majority-only corpus: learns the majority's tastes, misses the minority's."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lmrl import lm as lm_lib
from lmrl import metrics
from lmrl import world as world_lib
from tests import conftest


def _init_params(key, lm_spec):
  """The parameters `pretrain(key, .)` starts from (before any step)."""
  key_init, _ = jax.random.split(key)
  return lm_lib.init_lm(key_init, lm_spec)


def test_pretraining_fits_the_majority(spec, lm_spec, world, pretrain_fn, base_params, exact_fn):
  _, losses = pretrain_fn(jax.random.key(1), world)
  chex.assert_shape(losses, (conftest.PRETRAIN_STEPS,))
  chex.assert_tree_all_finite((losses, base_params))
  log_q_major_PxN = world.log_q_GxPxN[0]
  kl_init = metrics.kl_divergence(log_q_major_PxN, exact_fn(_init_params(jax.random.key(1),
                                                                          lm_spec)))
  kl_trained = metrics.kl_divergence(log_q_major_PxN, exact_fn(base_params))
  # Measured: kl_init ~ 1.32, kl_trained ~ 0.007 (200 steps, batch 64, lr 1e-2).
  assert kl_trained < 0.3 * kl_init, (kl_init, kl_trained)
  assert kl_trained < 0.05
  # The loss went down (averages over the first and last tenth of the steps).
  tenth = conftest.PRETRAIN_STEPS // 10
  assert jnp.mean(losses[-tenth:]) < jnp.mean(losses[:tenth]) - 0.2


def test_pretrained_lm_under_covers_the_minority(spec, world, base_params, exact_fn):
  idx = jnp.arange(spec.num_prompts)
  m = metrics.distribution_metrics(exact_fn(base_params), world, idx)
  target_G = metrics.target_coverage(world, idx)
  # Measured: coverage ~ (0.63, 0.019) vs p*'s target (0.45, 0.22).
  assert m['coverage_G'][1] < 0.5 * target_G[1], (m['coverage_G'], target_G)
  assert m['coverage_G'][0] > target_G[0]
  # So the pre-trained LM is far from the population: KL(p* || p_theta) ~ 0.46.
  assert m['kl'] > 0.2


def test_pretraining_learns_the_prompt_distribution(spec, lm_spec, world, pretrain_fn):
  """With skewed prompts the LM's log p(x | BOS) matches rho (its transition role)."""
  skewed = spec._replace(prompt_logit_scale=2.0)
  skewed_world = world_lib.make_world(jax.random.key(3), skewed)
  params, _ = pretrain_fn(jax.random.key(1), skewed_world)
  bos = jnp.full((1, 1), spec.bos, jnp.int32)
  log_rho_model = jax.nn.log_softmax(lm_lib.lm_logits(params, bos, lm_spec)[0, 0])
  rho = np.exp(skewed_world.log_rho_P)
  assert rho.max() > 0.5  # Skewed.
  np.testing.assert_allclose(np.exp(log_rho_model), rho, atol=0.05)


def test_pretraining_same_key_repeats_different_keys_differ(world, pretrain_fn, base_params):
  params_again, losses_again = pretrain_fn(jax.random.key(1), world)
  _, losses = pretrain_fn(jax.random.key(1), world)
  chex.assert_trees_all_equal(params_again, base_params)
  np.testing.assert_array_equal(losses_again, losses)
  params_other, losses_other = pretrain_fn(jax.random.key(2), world)
  leaves_a = jax.tree_util.tree_leaves(base_params)
  leaves_b = jax.tree_util.tree_leaves(params_other)
  assert all(not np.allclose(a, b) for a, b in zip(leaves_a, leaves_b))
  assert not np.allclose(losses, losses_other)


@pytest.mark.slow  # ~8 s; the fast tier vmaps pre-training over worlds (the test below).
def test_pretraining_is_vmappable_over_keys(world, pretrain_fn, base_params, exact_fn):
  keys = jnp.stack([jax.random.key(1), jax.random.key(2)])
  params_S, losses_S = jax.jit(jax.vmap(pretrain_fn, in_axes=(0, None)))(keys, world)
  chex.assert_shape(losses_S, (2, conftest.PRETRAIN_STEPS))
  _, losses = pretrain_fn(jax.random.key(1), world)
  # Not bitwise: Adam turns float noise in zero-gradient leaves (the attention key bias, whose
  # true gradient is 0) into lr-sized steps, so compare what the LM computes.
  np.testing.assert_allclose(losses_S[0], losses, rtol=1e-2, atol=1e-2)
  log_p_vmapped = exact_fn(jax.tree_util.tree_map(lambda x: x[0], params_S))
  np.testing.assert_allclose(np.exp(log_p_vmapped), np.exp(exact_fn(base_params)), atol=1e-2)
  assert not np.allclose(losses_S[0], losses_S[1])


def test_worlds_and_their_pretraining_vmapped_equal_each_alone():
  """`world.num_worlds` = 2: the worlds are those of seeds world.seed and world.seed + 1, and
  the vmapped pre-training gives each the LM its own one-world pre-training gives."""
  from lmrl import pipeline  # pylint: disable=g-import-not-at-top
  from lmrl import pretraining  # pylint: disable=g-import-not-at-top
  config = conftest.fixture_config()
  config.pretrain.steps = 30
  config.world.num_worlds = 2
  spec, lm_spec = pipeline.build_specs(config)
  worlds = pipeline.make_world(config, spec)
  params_W, losses_W = pretraining.pretrain_from_config(config, worlds, spec, lm_spec)
  chex.assert_shape(losses_W, (2, 30))
  alone = config.copy_and_resolve_references()
  alone.world.num_worlds, alone.world.seed = 1, 1
  world_1 = pipeline.make_world(alone, spec)
  chex.assert_trees_all_equal(jax.tree_util.tree_map(lambda x: x[1], worlds), world_1)
  params_1, losses_1 = pretraining.pretrain_from_config(alone, world_1, spec, lm_spec)
  np.testing.assert_allclose(losses_W[1], losses_1, rtol=1e-4, atol=1e-4)
  report = pretraining.report_worlds(params_W, worlds, spec, lm_spec, jnp.arange(3))
  alone_report = pretraining.report(params_1, world_1, spec, lm_spec, jnp.arange(3))
  np.testing.assert_allclose(report['per_world'][1]['kl_to_pstar'], alone_report['kl_to_pstar'],
                             rtol=1e-3)
  assert report['kl_to_pstar'] == np.mean([r['kl_to_pstar'] for r in report['per_world']])
