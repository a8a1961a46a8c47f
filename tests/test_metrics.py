"""Exact metrics on hand-computed cases."""

import jax
import jax.numpy as jnp
import numpy as np

from lmrl import metrics


def _log(x):
  return jnp.log(jnp.asarray(x, jnp.float32))


def test_kl_divergence_on_a_hand_case():
  # Prompt 0: p = (1/2, 1/2), q = (1/4, 3/4): KL = 1/2 log 2 + 1/2 log(2/3).
  # Prompt 1: p = (1, 0), q = (1/2, 1/2): KL = log 2 (the zero of p contributes nothing).
  log_p = _log([[0.5, 0.5], [1.0, 0.0]])
  log_q = _log([[0.25, 0.75], [0.5, 0.5]])
  kl_0 = 0.5 * np.log(2.0) + 0.5 * np.log(2.0 / 3.0)
  kl_1 = np.log(2.0)
  np.testing.assert_allclose(metrics.kl_divergence(log_p[:1], log_q[:1]), kl_0, rtol=1e-5)
  np.testing.assert_allclose(metrics.kl_divergence(log_p, log_q), (kl_0 + kl_1) / 2, rtol=1e-5)
  # KL(q || p) is infinite where q puts mass on p's zero; KL(p || p) = 0.
  assert np.isinf(metrics.kl_divergence(log_q[1:], log_p[1:]))
  np.testing.assert_allclose(metrics.kl_divergence(log_q, log_q), 0.0, atol=1e-7)


def test_kl_divergence_is_not_symmetric_and_matches_numpy():
  p = np.asarray([[0.1, 0.2, 0.7]])
  q = np.asarray([[0.3, 0.3, 0.4]])
  forward = np.sum(p * np.log(p / q))
  backward = np.sum(q * np.log(q / p))
  np.testing.assert_allclose(metrics.kl_divergence(_log(p), _log(q)), forward, rtol=1e-5)
  np.testing.assert_allclose(metrics.kl_divergence(_log(q), _log(p)), backward, rtol=1e-5)
  assert abs(forward - backward) > 1e-2


def test_total_variation_on_a_hand_case():
  log_p = _log([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
  log_q = _log([[0.25, 0.75, 0.0], [0.5, 0.3, 0.2]])
  # Prompt 0: 1/2 (0.25 + 0.25) = 0.25; prompt 1: 1/2 (0.3 + 0 + 0.3) = 0.3.
  np.testing.assert_allclose(metrics.total_variation(log_p, log_q), 0.275, rtol=1e-5)
  np.testing.assert_allclose(metrics.total_variation(log_q, log_p), 0.275, rtol=1e-5)
  np.testing.assert_allclose(metrics.total_variation(log_p, log_p), 0.0, atol=1e-7)
  # Disjoint supports are at distance 1.
  np.testing.assert_allclose(metrics.total_variation(_log([[1.0, 0.0]]), _log([[0.0, 1.0]])),
                             1.0)


def test_coverage_on_a_hand_case():
  log_p = _log([[0.1, 0.2, 0.3, 0.4],
                [0.25, 0.25, 0.25, 0.25]])
  favourites_GxPxN = jnp.asarray([
      [[False, False, False, True], [True, False, False, False]],  # group 0
      [[True, True, False, False], [False, True, True, True]],  # group 1
  ])
  # Group 0: (0.4 + 0.25) / 2; group 1: (0.3 + 0.75) / 2.
  np.testing.assert_allclose(metrics.coverage(log_p, favourites_GxPxN), [0.325, 0.525],
                             rtol=1e-5)


def test_distribution_metrics_of_pstar_are_perfect(world):
  idx = jnp.arange(world.log_pstar_PxN.shape[0])
  m = metrics.distribution_metrics(world.log_pstar_PxN, world, idx)
  np.testing.assert_allclose(m['kl'], 0.0, atol=1e-6)
  np.testing.assert_allclose(m['tv'], 0.0, atol=1e-6)
  np.testing.assert_allclose(m['coverage_G'], metrics.target_coverage(world, idx), rtol=1e-6)
  # Each group covers its own favourites with at least favourite_mass under its own q_g.
  own_G = jnp.stack([metrics.coverage(world.log_q_GxPxN[g], world.favourites_GxPxN)[g]
                     for g in range(world.log_q_GxPxN.shape[0])])
  assert np.all(own_G >= 0.5 - 1e-6)


def test_mixture_log_probs_is_the_mean_of_members():
  p_MxPxN = np.asarray([[[0.2, 0.8], [0.5, 0.5]],
                        [[0.6, 0.4], [0.1, 0.9]]])
  log_mix = metrics.mixture_log_probs(_log(p_MxPxN))
  np.testing.assert_allclose(np.exp(log_mix), [[0.4, 0.6], [0.3, 0.7]], rtol=1e-5)
  np.testing.assert_allclose(np.exp(log_mix).sum(-1), 1.0, rtol=1e-6)


def test_epistemic_spread_zero_iff_members_agree():
  p_PxN = np.asarray([[0.2, 0.8], [0.5, 0.5]])
  equal = _log(np.stack([p_PxN] * 3))
  np.testing.assert_allclose(metrics.epistemic_spread(equal), 0.0, atol=1e-6)

  p_MxPxN = np.asarray([[[0.2, 0.8], [0.5, 0.5]],
                        [[0.6, 0.4], [0.1, 0.9]]])
  mix_PxN = p_MxPxN.mean(0)
  # mean over members of the (prompt-averaged) KL(p_bar || p_m).
  expected = np.mean([np.mean(np.sum(mix_PxN * np.log(mix_PxN / p_m), -1)) for p_m in p_MxPxN])
  spread = metrics.epistemic_spread(_log(p_MxPxN))
  assert spread > 0.01
  np.testing.assert_allclose(spread, expected, rtol=1e-5)
  # More disagreement, more spread.
  closer = 0.5 * p_MxPxN + 0.5 * mix_PxN[None]
  assert metrics.epistemic_spread(_log(closer)) < spread


def test_spread_error_correlation_reads_the_deployed_lms_error():
  """Near +1 when members disagree where the deployed LM is wrong, near -1 when only elsewhere.

  The error is the deployed LM's (`log_p_PxN`), not the members' mixture's: in `elsewhere` the
  mixture is wrong exactly where the members disagree, yet the correlation is negative.
  """
  log_pstar_PxN = _log(np.full((1, 4), 0.25))
  log_p_PxN = _log(np.asarray([[0.10, 0.40, 0.25, 0.25]]))  # Wrong on responses 0 and 1.
  wrong_N = np.asarray([1.0, 1.0, 0.0, 0.0])
  members = lambda where_N: np.log(np.stack([np.full((1, 4), 0.25) * np.exp(s * where_N)
                                             for s in (-0.5, 0.5)]))
  at_error, elsewhere = members(wrong_N), members(1.0 - wrong_N)
  # Pearson of u = [1, 1, 0, 0] with e = [0.92, 0.47, 0, 0] (up to scale): 0.91.
  assert metrics.uncertainty_error_correlation(at_error, log_p_PxN, log_pstar_PxN) > 0.9
  assert metrics.uncertainty_error_correlation(elsewhere, log_p_PxN, log_pstar_PxN) < -0.9

def test_spread_error_correlation_equals_a_brute_force_at_a_non_uniform_pstar():
  """M = 5 members, P = 3 prompts, N = 7 responses, p* far from uniform: the p*-weighted Pearson
  correlation (weights p*(y|x) / P over every pair) equals NumPy's weighted covariance."""
  rng = np.random.default_rng(0)
  num_members, num_prompts, num_responses = 5, 3, 7
  normalise = lambda logits: logits - np.log(np.sum(np.exp(logits), -1, keepdims=True))
  log_pstar_PxN = normalise(rng.normal(size=(num_prompts, num_responses)) * 2.0)
  log_p_MxPxN = normalise(rng.normal(size=(num_members, num_prompts, num_responses)))
  log_p_PxN = normalise(rng.normal(size=(num_prompts, num_responses)))
  assert np.max(np.exp(log_pstar_PxN)) > 0.5  # Non-uniform.
  std_of_members = np.asarray([[np.sqrt(np.mean((log_p_MxPxN[:, x, y]
                                                 - log_p_MxPxN[:, x, y].mean()) ** 2))
                                for y in range(num_responses)] for x in range(num_prompts)])
  error = np.abs(log_p_PxN - log_pstar_PxN)
  weights = np.exp(log_pstar_PxN) / num_prompts
  cov = np.cov(std_of_members.ravel(), error.ravel(), aweights=weights.ravel(), bias=True)
  expected = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
  got = metrics.uncertainty_error_correlation(*(jnp.asarray(a, jnp.float32) for a in (
      log_p_MxPxN, log_p_PxN, log_pstar_PxN)))
  np.testing.assert_allclose(got, expected, rtol=1e-4)
  # The weights matter: the unweighted correlation is another number.
  assert abs(np.corrcoef(std_of_members.ravel(), error.ravel())[0, 1] - expected) > 0.05


def test_disagreement_is_split_by_whether_a_pair_was_shown():
  # Two members over 1 prompt x 3 responses: they agree on response 0 and differ on 1 and 2.
  log_p_MxPxN = jnp.log(jnp.asarray([[[0.5, 0.3, 0.2]], [[0.5, 0.1, 0.4]]]))
  std_PxN = np.std(np.asarray(log_p_MxPxN), axis=0)
  shown, unshown = metrics.disagreement_shown_unshown(log_p_MxPxN, jnp.asarray([[1, 0, 0]]))
  np.testing.assert_allclose(shown, 0.0, atol=1e-7)
  np.testing.assert_allclose(unshown, std_PxN[0, 1:].mean(), rtol=1e-6)
  shown, unshown = metrics.disagreement_shown_unshown(log_p_MxPxN, jnp.zeros((1, 3)))
  assert np.isnan(shown) and np.isclose(unshown, std_PxN.mean())


def test_choice_log_loss_on_a_hand_case():
  log_p_PxN = _log([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
  prompt_Q = jnp.asarray([0, 1])
  response_QxK = jnp.asarray([[0, 2], [0, 1]])
  chosen_Q = jnp.asarray([1, 0])  # Response 2 for prompt 0, response 0 for prompt 1.
  expected = -0.5 * (np.log(0.7 / 0.8) + np.log(0.5 / 0.75))
  np.testing.assert_allclose(metrics.choice_log_loss(log_p_PxN, prompt_Q, response_QxK, chosen_Q),
                             expected, rtol=1e-5)


def test_metrics_are_jittable(world):
  idx = jnp.arange(world.log_pstar_PxN.shape[0])
  m = jax.jit(metrics.distribution_metrics)(world.log_q_GxPxN[0], world, idx)
  assert float(m['kl']) > 0 and 0 < float(m['tv']) < 1
