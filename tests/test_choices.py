"""The choice simulator against the Luce / Plackett-Luce probabilities (fixed-seed statistics).

Each frequency test draws ~20000 choices and allows 5 standard errors (plus a tiny slack for
probabilities near 0 or 1), so a correct simulator fails with probability ~1e-6 per cell, and
the seeds are fixed anyway.
"""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lmrl import choices
from lmrl import world as world_lib

NUM_DRAWS = 20000


def _assert_frequencies_match(counts, probs, num, num_se=5.0):
  freq = np.asarray(counts, np.float64) / num
  probs = np.asarray(probs, np.float64)
  se = np.sqrt(probs * (1 - probs) / num)
  assert np.all(np.abs(freq - probs) <= num_se * se + 1e-3), (freq, probs)


def _first_choice_counts(ranking_BxK, K):
  return np.bincount(np.asarray(ranking_BxK[:, 0]), minlength=K)


@pytest.mark.parametrize('log_u', [
    [0.3, -0.4],
    [1.2, 0.0, -0.7, -2.0],
])
def test_luce_first_choice_frequencies_match_softmax(log_u):
  K = len(log_u)
  log_u_BxK = jnp.broadcast_to(jnp.asarray(log_u, jnp.float32), (NUM_DRAWS, K))
  ranking_BxK = jax.jit(choices.luce_ranking)(jax.random.key(K), log_u_BxK)
  chex.assert_shape(ranking_BxK, (NUM_DRAWS, K))
  # Each row is a permutation of 0..K-1.
  np.testing.assert_array_equal(np.sort(np.asarray(ranking_BxK), axis=-1),
                                np.broadcast_to(np.arange(K), (NUM_DRAWS, K)))
  probs = np.asarray(jax.nn.softmax(jnp.asarray(log_u)))
  _assert_frequencies_match(_first_choice_counts(ranking_BxK, K), probs, NUM_DRAWS)
  np.testing.assert_allclose(choices.luce_probabilities(log_u_BxK[:1])[0], probs, rtol=1e-6)


def test_luce_full_ranking_frequencies_match_plackett_luce():
  log_u = np.asarray([0.8, 0.0, -1.0])
  u = np.exp(log_u)
  log_u_BxK = jnp.broadcast_to(jnp.asarray(log_u, jnp.float32), (NUM_DRAWS, 3))
  ranking_BxK = np.asarray(jax.jit(choices.luce_ranking)(jax.random.key(11), log_u_BxK))
  perms = list(itertools.permutations(range(3)))
  counts, probs = [], []
  for perm in perms:
    counts.append(np.sum(np.all(ranking_BxK == np.asarray(perm), axis=-1)))
    # Plackett-Luce: choose perm[0] among all, then perm[1] among the rest, ...
    prob, remaining = 1.0, list(range(3))
    for item in perm:
      prob *= u[item] / u[remaining].sum()
      remaining.remove(item)
    probs.append(prob)
  np.testing.assert_allclose(sum(probs), 1.0)
  assert sum(counts) == NUM_DRAWS
  _assert_frequencies_match(counts, probs, NUM_DRAWS)


# ----------------------------------------------------------------------------- simulate_rankings


def _hand_world():
  """V=3, Lx=1, Ly=1: three responses; group 0 loves response 0, group 1 loves response 2.

  Responses 0 and 1 shown together split the population very differently under IIA (Luce on
  p*, where response 1 is rare) and non-IIA (group 1 is indifferent between 0 and 1).
  """
  spec = world_lib.WorldSpec(vocab_size=3, prompt_length=1, response_length=1,
                             group_weights=(0.5, 0.5), teacher_temperature=1.0,
                             prompt_logit_scale=0.0, favourite_mass=0.5)
  q_GxN = np.asarray([[0.90, 0.05, 0.05],
                      [0.05, 0.05, 0.90]])
  weights_G = np.asarray(spec.group_weights)
  P = spec.num_prompts
  log_q_GxPxN = jnp.log(jnp.asarray(np.broadcast_to(q_GxN[:, None], (2, P, 3)), jnp.float32))
  log_pstar_PxN = jnp.log(jnp.asarray(np.broadcast_to(weights_G @ q_GxN, (P, 3)), jnp.float32))
  world = world_lib.World(
      log_rho_P=jnp.full((P,), -np.log(P), jnp.float32),
      log_weights_G=jnp.log(jnp.asarray(weights_G, jnp.float32)),
      log_q_GxPxN=log_q_GxPxN,
      log_pstar_PxN=log_pstar_PxN,
      favourites_GxPxN=jax.vmap(world_lib.favourites, in_axes=(0, None))(log_q_GxPxN, 0.5))
  return spec, world, q_GxN, weights_G


def _simulate_first_choice(spec, world, shown, iia, seed):
  K = len(shown)
  prompt_index_B = jnp.asarray(np.arange(NUM_DRAWS) % spec.num_prompts, jnp.int32)
  responses_BxKxLy = jnp.broadcast_to(
      jnp.asarray(world_lib.all_responses(spec))[jnp.asarray(shown)], (NUM_DRAWS, K,
                                                                       spec.response_length))
  simulate = jax.jit(choices.simulate_rankings, static_argnums=(2, 5))
  ranking_BxK = simulate(jax.random.key(seed), world, spec, prompt_index_B, responses_BxKxLy,
                         iia)
  chex.assert_shape(ranking_BxK, (NUM_DRAWS, K))
  return _first_choice_counts(ranking_BxK, K)


@pytest.mark.parametrize('shown', [(0, 1), (0, 1, 2)])
def test_simulate_rankings_iia_is_luce_on_pstar(shown):
  spec, world, q_GxN, weights_G = _hand_world()
  pstar_N = weights_G @ q_GxN
  luce = pstar_N[list(shown)] / pstar_N[list(shown)].sum()
  counts = _simulate_first_choice(spec, world, shown, iia=True, seed=1)
  _assert_frequencies_match(counts, luce, NUM_DRAWS)


def test_simulate_rankings_iia_on_a_random_world(spec, world):
  # Three fixed responses shown for prompt 1 of the tiny random world.
  shown = np.asarray([2, 5, 6])
  prompt_index_B = jnp.ones((NUM_DRAWS,), jnp.int32)
  responses_BxKxLy = jnp.broadcast_to(jnp.asarray(world_lib.all_responses(spec))[shown],
                                      (NUM_DRAWS, 3, spec.response_length))
  ranking_BxK = jax.jit(choices.simulate_rankings, static_argnums=(2, 5))(
      jax.random.key(3), world, spec, prompt_index_B, responses_BxKxLy, True)
  luce = jax.nn.softmax(world.log_pstar_PxN[1, shown])
  _assert_frequencies_match(_first_choice_counts(ranking_BxK, 3), luce, NUM_DRAWS)


@pytest.mark.parametrize('shown', [(0, 1), (0, 1, 2)])
def test_simulate_rankings_non_iia_is_a_mixture_of_group_luce_models(shown):
  spec, world, q_GxN, weights_G = _hand_world()
  shown_q_GxK = q_GxN[:, list(shown)]
  mixture = weights_G @ (shown_q_GxK / shown_q_GxK.sum(-1, keepdims=True))
  counts = _simulate_first_choice(spec, world, shown, iia=False, seed=2)
  _assert_frequencies_match(counts, mixture, NUM_DRAWS)


def test_non_iia_differs_from_luce_on_pstar():
  spec, world, q_GxN, weights_G = _hand_world()
  shown = (0, 1)
  pstar_N = weights_G @ q_GxN
  luce_first = pstar_N[0] / pstar_N[[0, 1]].sum()  # 0.475 / 0.525 = 0.905
  mixture_first = weights_G @ (q_GxN[:, 0] / q_GxN[:, [0, 1]].sum(-1))  # 0.5 * (0.947 + 0.5)
  assert abs(luce_first - mixture_first) > 0.15
  freq_non_iia = _simulate_first_choice(spec, world, shown, iia=False, seed=4)[0] / NUM_DRAWS
  freq_iia = _simulate_first_choice(spec, world, shown, iia=True, seed=4)[0] / NUM_DRAWS
  se = np.sqrt(0.25 / NUM_DRAWS)
  assert abs(freq_non_iia - luce_first) > 20 * se
  assert abs(freq_iia - mixture_first) > 20 * se
  assert abs(freq_non_iia - mixture_first) < 5 * se
  assert abs(freq_iia - luce_first) < 5 * se


def test_simulate_rankings_differs_across_keys_and_repeats_for_one_key(spec, world):
  prompt_index_B = jnp.zeros((64,), jnp.int32)
  responses_BxKxLy = jax.random.randint(jax.random.key(0), (64, 3, spec.response_length), 0,
                                        spec.vocab_size)
  simulate = jax.jit(choices.simulate_rankings, static_argnums=(2, 5))
  a = simulate(jax.random.key(1), world, spec, prompt_index_B, responses_BxKxLy, True)
  b = simulate(jax.random.key(1), world, spec, prompt_index_B, responses_BxKxLy, True)
  c = simulate(jax.random.key(2), world, spec, prompt_index_B, responses_BxKxLy, True)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
