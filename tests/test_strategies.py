"""Exploration strategies on a stub explorer whose members' utilities are a known table."""

import itertools
import math

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

  def member_log_probs(prompts_PxLx):
    log_p_MxN = jax.nn.log_softmax(log_u_MxN, axis=-1)
    return jnp.broadcast_to(log_p_MxN[:, None], (M, prompts_PxLx.shape[0], N))

  return strategies.Explorer(sample, sample_thompson, utilities, member_log_probs, V, LY)


def _params(num_shown=2, pool_size=N, info_units='nats', **traced):
  """StrategyParams with the traced values `traced` (temperature 2, pool temperature 1,
  info temperature 0 unless given)."""
  hparams = {'temperature': 2.0, 'pool_temperature': 1.0, 'info_temperature': 0.0, **traced}
  # The oracle's p*: uniform over the responses of every prompt.
  log_pstar = lambda prompts_BxLx: jnp.full((prompts_BxLx.shape[0], N), -np.log(N))
  return strategies.StrategyParams(num_shown, pool_size, info_units, hparams, log_pstar=log_pstar)


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


# ----------------------------------------------------------------------------- brute force


def _information_brute_force(log_u_MxK: np.ndarray) -> float:
  """I(c; m) = sum_m sum_c (1/M) P_m(c) log(P_m(c) / P_bar(c)), in float64 loops."""
  num_members, num_shown = log_u_MxK.shape
  p_MxK = np.zeros((num_members, num_shown))
  for m in range(num_members):
    weights = [math.exp(u) for u in log_u_MxK[m]]
    for c in range(num_shown):
      p_MxK[m, c] = weights[c] / sum(weights)
  p_bar_K = [sum(p_MxK[m, c] for m in range(num_members)) / num_members
             for c in range(num_shown)]
  return sum(p_MxK[m, c] * math.log(p_MxK[m, c] / p_bar_K[c]) / num_members
             for m in range(num_members) for c in range(num_shown))


def test_choice_information_and_pool_information_equal_a_brute_force():
  """M = 4 members, K = 3 shown, a pool of 5 per prompt, members with distinct random tastes.

  `pool_information`'s tuples are every 3-subset of the pool and its information[b, u] (which is
  `choice_information` of the members' utilities of row b's tuple u) is the brute force of them:
  a wrong formula, vmap axis or tuple gather would not be.
  """
  num_members, num_shown, pool, rows = 4, 3, 5, 6
  log_u_MxN = np.random.default_rng(7).normal(size=(num_members, N)) * 1.5
  explorer = _explorer(jnp.asarray(log_u_MxN, jnp.float32))
  params = _params(num_shown=num_shown, pool_size=pool)
  pool_BxCxLy, tuples_UxK, info_BxU = jax.jit(lambda key: strategies.pool_information(
      key, explorer, jnp.zeros((rows, 1), jnp.int32), params))(jax.random.key(9))
  assert sorted(map(tuple, np.asarray(tuples_UxK).tolist())) == list(
      itertools.combinations(range(pool), num_shown))
  pool_BxC = np.asarray(world_lib.sequence_index(pool_BxCxLy, V))
  assert len({tuple(r) for r in pool_BxC.tolist()}) > 1  # Rows' pools differ.
  expected_BxU = [[_information_brute_force(log_u_MxN[:, pool_BxC[b, list(t)]])
                   for t in np.asarray(tuples_UxK).tolist()] for b in range(rows)]
  np.testing.assert_allclose(info_BxU, expected_BxU, rtol=1e-4, atol=1e-6)
  assert np.min(expected_BxU) >= 0 and np.max(expected_BxU) > 0.05
