"""Exploration strategies on a stub explorer whose members' utilities are a known table."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lmrl import strategies
from lmrl import world as world_lib

V, LY, M, B = 3, 2, 2, 64
N = V ** LY


def _explorer(log_u_MxN):
  """Samples uniformly; member m's utility of response n is `log_u_MxN[m, n]`."""

  def sample(key, prompts_BxLx, temperature):
    del temperature
    return jax.random.randint(key, (prompts_BxLx.shape[0], LY), 0, V, dtype=jnp.int32)

  def sample_thompson(key, prompts_BxLx, num):
    return jax.random.randint(key, (prompts_BxLx.shape[0], num, LY), 0, V, dtype=jnp.int32)

  def utilities(prompts_BxLx, responses_BxCxLy):
    del prompts_BxLx
    return log_u_MxN[:, world_lib.sequence_index(responses_BxCxLy, V)]

  return strategies.Explorer(sample, sample_thompson, utilities, V, LY)


def _params(**kwargs):
  defaults = dict(num_shown=2, pool_size=N, temperature=2.0, pool_temperature=1.0)
  return strategies.StrategyParams(**{**defaults, **kwargs})


def test_choice_information_is_zero_when_members_agree_and_log2_when_sure_and_opposed():
  agree_MxUxK = jnp.zeros((M, 1, 2))
  opposed_MxUxK = jnp.asarray([[[20.0, -20.0]], [[-20.0, 20.0]]])
  np.testing.assert_allclose(strategies.choice_information(agree_MxUxK), 0.0, atol=1e-6)
  np.testing.assert_allclose(strategies.choice_information(opposed_MxUxK), np.log(2), rtol=1e-4)


@pytest.mark.parametrize('name', sorted(strategies.STRATEGIES))
def test_every_strategy_shows_k_valid_responses(name):
  explorer = _explorer(jnp.zeros((M, N)))
  prompts_BxLx = jnp.zeros((B, 1), jnp.int32)
  shown = jax.jit(lambda k: strategies.get_strategy(name)(k, explorer, prompts_BxLx,
                                                          _params(pool_size=4)))(
                                                              jax.random.key(0))
  chex.assert_shape(shown, (B, 2, LY))
  assert shown.dtype == jnp.int32 and int(shown.min()) >= 0 and int(shown.max()) < V


def test_infomax_shows_the_pair_the_members_disagree_on():
  # Members agree on every response except 0 and 1, whose order they dispute.
  log_u_MxN = jnp.zeros((M, N)).at[0, 0].set(5.0).at[1, 1].set(5.0)
  explorer = _explorer(log_u_MxN)
  shown = strategies.infomax(jax.random.key(1), explorer, jnp.zeros((B, 1), jnp.int32),
                             _params(pool_size=12))
  pairs = [tuple(sorted(p)) for p in np.asarray(world_lib.sequence_index(shown, V)).tolist()]
  # A row's pool (12 uniform draws of 9 responses) holds both 0 and 1 with prob. ~0.57; such rows
  # show exactly that pair; most others show a pair with 0 or 1 (the next most informative).
  assert pairs.count((0, 1)) >= 0.4 * B, pairs
  assert sum(0 in p or 1 in p for p in pairs) >= 0.85 * B, pairs


def test_infomax_with_an_information_temperature_varies_a_rounds_queries():
  """Batch-aware: identical prompts with identical pools get different tuples when tau > 0."""
  log_u_MxN = jax.random.normal(jax.random.key(2), (M, N)) * 2
  same_pool = _explorer(log_u_MxN)._replace(  # Every row draws the same candidate per slot.
      sample=lambda key, prompts_BxLx, temperature: jnp.broadcast_to(
          jax.random.randint(key, (LY,), 0, V, dtype=jnp.int32), (prompts_BxLx.shape[0], LY)))
  prompts_BxLx = jnp.zeros((B, 1), jnp.int32)
  distinct = lambda shown: len({tuple(r) for r in np.asarray(
      world_lib.sequence_index(shown, V)).tolist()})
  greedy = strategies.infomax(jax.random.key(3), same_pool, prompts_BxLx, _params())
  sampled = strategies.infomax(jax.random.key(3), same_pool, prompts_BxLx,
                               _params(info_temperature=0.05))
  assert distinct(greedy) == 1  # The same best tuple for every row of the round...
  assert distinct(sampled) >= 4  # ...while sampling spreads the round's queries.
  # tau = 0 is exactly the greedy choice.
  np.testing.assert_array_equal(
      strategies.infomax(jax.random.key(3), same_pool, prompts_BxLx,
                         _params(info_temperature=0.0)), greedy)


def test_info_temperature_in_units_of_the_best_tuple_is_scale_free():
  """'best': shrinking every I by the same factor leaves the draw as it was; 'nats' flattens it."""
  info_BxU = jnp.asarray([[0.6, 0.5, 0.1, 0.0], [0.2, 0.05, 0.05, 0.0]], jnp.float32)
  late_BxU = info_BxU / 20  # The members have come to agree: every tuple tells less.
  best = lambda i: jax.nn.softmax(strategies.tuple_logits(i, 0.1, 'best'))
  nats = lambda i: jax.nn.softmax(strategies.tuple_logits(i, 0.1, 'nats'))
  np.testing.assert_allclose(best(late_BxU), best(info_BxU), rtol=1e-5)
  np.testing.assert_allclose(strategies.tuple_logits(info_BxU, 0.1, 'best')[0],
                             info_BxU[0] / 0.06, rtol=1e-6)
  assert float(nats(info_BxU)[0, 0]) > 0.7  # Early, 0.1 nats is sharp...
  assert float(jnp.max(nats(late_BxU))) < 0.3  # ...late, close to uniform over 4 tuples.
  with pytest.raises(ValueError, match='info_units'):
    strategies.tuple_logits(info_BxU, 0.1, 'bits')
