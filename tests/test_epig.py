"""EPIG (`lmrl.epig`, the `epig` strategy), the `oracle` control and the `predicted_kl` metric.

The score is checked against a brute-force I(Y; C) from the joint table p(m, y, c) in float64
loops; the constructed cases use hand-made member tables over a few responses; the compiled
rounds run the strategies inside `lmrl.loop`'s `lax.switch` for the joint and classic agents on
the tests' tiny world (V=3, one-token prompts, 9 responses per prompt).
"""

import itertools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lmrl import checks
from lmrl import epig
from lmrl import errors
from lmrl import loop
from lmrl import metrics
from lmrl import pipeline
from lmrl import strategies
from lmrl import update
from lmrl import world as world_lib
from tests import conftest


def _random_tables(seed, num_members, num_prompts, num_responses, scale=1.5):
  """Members' log p_m(y|x), float64[M, X, N], distinct random tastes."""
  logits = np.random.default_rng(seed).normal(size=(num_members, num_prompts, num_responses))
  logits = logits * scale
  return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def _outcomes(log_u_K, full_ranking):
  """[(outcome, probability)] of one member's Luce / Plackett-Luce model, float64 loops."""
  w = [math.exp(u) for u in log_u_K]
  if not full_ranking:
    return [(k, w[k] / sum(w)) for k in range(len(w))]
  out = []
  for order in itertools.permutations(range(len(w))):
    prob, left = 1.0, list(order)
    for k in order:
      prob *= w[k] / sum(w[j] for j in left)
      left.remove(k)
    out.append((order, prob))
  return out


def _brute_force(log_p_MxXxN, x_query, shown, full_ranking, pi_M=None):
  """I(Y; C) from the joint table p(m, x, y, c) = pi_m rho(x) p_m(y|x) P_m(c), rho uniform over
  the X target prompts; C is the ranking (or first choice) of `shown` responses of prompt
  `x_query` under member m's Luce utilities log p_m(.|x_query)."""
  M, X, N = log_p_MxXxN.shape
  pi_M = np.full(M, 1 / M) if pi_M is None else pi_M
  joint = {}  # (x, y, c) -> p
  for m in range(M):
    for c, p_c in _outcomes([log_p_MxXxN[m, x_query, y] for y in shown], full_ranking):
      for x in range(X):
        for y in range(N):
          joint[(x, y, c)] = joint.get((x, y, c), 0.0) + (
              pi_M[m] / X * math.exp(log_p_MxXxN[m, x, y]) * p_c)
  p_t, p_c = {}, {}
  for (x, y, c), p in joint.items():
    p_t[(x, y)] = p_t.get((x, y), 0.0) + p
    p_c[c] = p_c.get(c, 0.0) + p
  return sum(p * math.log(p / (p_t[(x, y)] * p_c[c])) for (x, y, c), p in joint.items() if p > 0)


def _choice_log_probs(log_p_MxN, shown_UxK, full_ranking):
  log_u_MxUxK = jnp.asarray(log_p_MxN, jnp.float32)[:, jnp.asarray(shown_UxK)]
  return epig.outcome_log_probs(log_u_MxUxK, full_ranking)


# ----------------------------------------------------------------------------- the score


def test_outcome_log_probs_are_the_plackett_luce_and_luce_likelihoods():
  log_u_BxK = jax.random.normal(jax.random.key(0), (5, 4)) * 2
  orders_FxK = epig.outcome_orders(4)
  assert orders_FxK.shape == (24, 4) and len({tuple(o) for o in orders_FxK.tolist()}) == 24
  log_f_BxF = epig.outcome_log_probs(log_u_BxK, True)
  for f, order in enumerate(orders_FxK):
    nll_B = update.plackett_luce_nll(log_u_BxK, jnp.broadcast_to(order, (5, 4)), True)
    np.testing.assert_allclose(log_f_BxF[:, f], -nll_B, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(jnp.exp(log_f_BxF).sum(-1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(epig.outcome_log_probs(log_u_BxK, False),
                             jax.nn.log_softmax(log_u_BxK), rtol=1e-6)
  assert epig.num_outcomes(4, True) == 24 and epig.num_outcomes(4, False) == 4


@pytest.mark.parametrize('full_ranking', [False, True])
def test_the_score_equals_a_brute_force_from_the_joint_table(full_ranking):
  """M = 3 members, N = 6 responses, every 3-tuple of 5 candidates; Y over the query's prompt
  (uniform and non-uniform member weights) and over 2 prompts (the population target)."""
  M, N, K = 3, 6, 3
  log_p_MxXxN = _random_tables(1, M, 2, N)
  shown_UxK = np.asarray(list(itertools.combinations(range(5), K)))
  log_choice = _choice_log_probs(log_p_MxXxN[:, 0], shown_UxK, full_ranking)
  prompt = epig.exact_targets(jnp.asarray(log_p_MxXxN[:, :1], jnp.float32))
  population = epig.exact_targets(jnp.asarray(log_p_MxXxN, jnp.float32))
  pi_M = np.asarray([0.6, 0.3, 0.1])
  got = {
      'prompt': epig.information(log_choice, prompt),
      'weighted': epig.information(log_choice, prompt, jnp.log(jnp.asarray(pi_M, jnp.float32))),
      'population': epig.information(log_choice, population),
  }
  expected = {
      'prompt': [_brute_force(log_p_MxXxN[:, :1], 0, s, full_ranking) for s in shown_UxK],
      'weighted': [_brute_force(log_p_MxXxN[:, :1], 0, s, full_ranking, pi_M)
                   for s in shown_UxK],
      'population': [_brute_force(log_p_MxXxN, 0, s, full_ranking) for s in shown_UxK],
  }
  for name in got:
    np.testing.assert_allclose(got[name], expected[name], rtol=2e-3, atol=2e-6, err_msg=name)
  assert min(expected['prompt']) > 1e-3  # Not a vacuous comparison.
  # X is independent of C: I(X, Y; C) = mean_x I(Y; C | X = x), the other prompt's Y informed
  # through the member alone.
  other = epig.information(log_choice, epig.exact_targets(
      jnp.asarray(log_p_MxXxN[:, 1:], jnp.float32)))
  np.testing.assert_allclose(got['population'], (got['prompt'] + other) / 2, rtol=1e-4)


def test_the_score_is_zero_when_members_agree():
  log_p_N = _random_tables(2, 1, 1, 8)[0, 0]
  log_p_MxN = np.broadcast_to(log_p_N, (4, 8))
  shown_UxK = np.asarray(list(itertools.combinations(range(8), 3)))
  for full_ranking in (False, True):
    info_U = epig.information(_choice_log_probs(log_p_MxN, shown_UxK, full_ranking),
                              epig.exact_targets(jnp.asarray(log_p_MxN[:, None], jnp.float32)))
    np.testing.assert_allclose(info_U, 0.0, atol=1e-6)


def _two_factor_members(plausible_mass=(0.6, 0.3), junk_mass=(1e-4, 1e-7)):
  """Four members, two independent binary factors: A orders the plausible responses 0 and 1
  (mass 0.6 vs 0.3), B the junk responses 3 and 4 (mass 1e-4 vs 1e-7); response 2 holds 0.1 and
  5 nothing. log p_m(y), float32[4, 6]; member 2A + B."""
  rows = []
  for a, b in itertools.product((0, 1), (0, 1)):
    p = np.full(6, 1e-9)
    p[[0, 1]] = plausible_mass if a == 0 else plausible_mass[::-1]
    p[2] = 0.1
    p[[3, 4]] = junk_mass if b == 0 else junk_mass[::-1]
    rows.append(np.log(p / p.sum()))
  return jnp.asarray(np.stack(rows), jnp.float32)


def test_it_prefers_a_split_on_plausible_responses_where_bald_prefers_one_on_junk():
  """Members split on 0 vs 1 (plausible) and, independently, on 3 vs 4 (no mass): showing 3 and 4
  tells which member is right almost surely (BALD ~ log 2), but nothing about what the population
  favours; showing 0 and 1 does."""
  log_p_MxN = _two_factor_members()
  plausible, junk, mixed = (0, 1), (3, 4), (0, 3)
  shown_UxK = np.asarray([plausible, junk, mixed])
  for full_ranking in (False, True):
    info_U = np.asarray(epig.information(
        _choice_log_probs(log_p_MxN, shown_UxK, full_ranking),
        epig.exact_targets(log_p_MxN[:, None])))
    assert info_U[0] > 50 * info_U[1] and info_U[0] > 50 * info_U[2], info_U
  bald_U = np.asarray(strategies.choice_information(log_p_MxN[:, shown_UxK]))
  assert bald_U[1] > 10 * bald_U[0], bald_U  # BALD asks about the junk.


def _open_questions_members(strength=6.0):
  """Four members, two independent binary factors over 4 plausible responses: A orders 0 vs 1,
  B orders 2 vs 3, each sharply (log-odds `strength`). log p_m(y), float32[4, 4]."""
  rows = []
  for a, b in itertools.product((0, 1), (0, 1)):
    logits = np.zeros(4)
    logits[a] += strength
    logits[2 + b] += strength
    rows.append(logits - np.log(np.exp(logits).sum()))
  return jnp.asarray(np.stack(rows), jnp.float32)


def _three_queries_on_open_questions(search: str):
  """Three queries of `_open_questions_members` over candidates 0-3, K = 2: (log p_MxN, log
  u_BxMxC, the exact targets, every pair, the `select_queries` search)."""
  log_p_MxN = _open_questions_members()
  B, C = 3, 4
  tuples_UxK = jnp.asarray(strategies.tuples(C, 2))
  pool_BxC = jnp.broadcast_to(jnp.arange(C), (B, C))
  if search == 'all':
    found = epig.TupleSearch(tuples_UxK=tuples_UxK,
                             valid_BxU=epig.showable_tuples(pool_BxC, tuples_UxK))
  else:
    found = epig.TupleSearch(valid_BxC=epig.showable_candidates(pool_BxC, 2))
  return (log_p_MxN, jnp.broadcast_to(log_p_MxN[None], (B, 4, C)),
          epig.exact_targets(log_p_MxN[:, None]), tuples_UxK, found)


@pytest.mark.parametrize('full_ranking,search', [(False, 'all'), (True, 'all'),
                                                  (True, 'greedy')])
def test_the_batch_never_repeats_a_query_whose_information_it_used_up(full_ranking, search):
  """Three copies of one prompt in a round: one pair settles A (0 vs 1), another B (2 vs 3).
  Scored alone, every copy would get the same best pair; selected one after another, the second
  copy gets the question still open, and once both are settled nothing is worth much. (With
  K = 2 the greedy search is the best pair, so both searches choose alike.)"""
  log_p_MxN, log_u_BxMxC, targets, tuples_UxK, found = _three_queries_on_open_questions(search)
  select = jax.jit(lambda key: epig.select_queries(key, log_u_BxMxC, 2, lambda k, b: targets,
                                                   full_ranking, found))
  alone_U = epig.information(epig.outcome_log_probs(log_p_MxN[:, tuples_UxK], full_ranking),
                             targets)
  settling = {(0, 1), (2, 3)}
  for seed in range(5):
    chosen_BxK, score_B = select(jax.random.key(seed))
    pairs = [tuple(sorted(row)) for row in np.asarray(chosen_BxK).tolist()]
    assert {pairs[0], pairs[1]} == settling, pairs  # The two open questions, not one twice.
    np.testing.assert_allclose(score_B[:2], float(jnp.max(alone_U)), rtol=1e-4)
    assert float(score_B[2]) < 0.05 * float(score_B[0]), score_B  # Used up.


def test_a_batch_by_prompt_conditions_a_query_only_on_its_own_prompts_earlier_queries():
  """`epig_batch='prompt'`: rounds of prompts A, B, A with the same members. Query B is not
  conditioned on query A's outcome, so it scores what it would alone; the second A gets A's
  question still open, and scores what the first did (the round's conditioning would have used
  both questions up by then: `test_the_batch_never_repeats...`)."""
  log_p_MxN, log_u_BxMxC, targets, tuples_UxK, found = _three_queries_on_open_questions('all')
  prompts_BxLx = jnp.asarray([[1, 2], [3, 4], [1, 2]], jnp.int32)
  group_B = epig.batch_groups(prompts_BxLx)
  np.testing.assert_array_equal(group_B, [0, 1, 0])
  np.testing.assert_array_equal(
      epig.batch_groups(jnp.asarray([[1, 2], [3, 4], [1, 2], [3, 4], [5, 6]])), [0, 1, 0, 1, 4])
  best = float(jnp.max(epig.information(
      epig.outcome_log_probs(log_p_MxN[:, tuples_UxK], False), targets)))
  settling = {(0, 1), (2, 3)}
  for seed in range(5):
    chosen_BxK, score_B = epig.select_queries(jax.random.key(seed), log_u_BxMxC, 2,
                                              lambda k, b: targets, False, found, group_B)
    pairs = [tuple(sorted(row)) for row in np.asarray(chosen_BxK).tolist()]
    assert {pairs[0], pairs[2]} == settling and pairs[1] in settling, pairs
    np.testing.assert_allclose(score_B, best, rtol=1e-4)
  # Prompts A, A, B: A's two queries use both questions up; B, not conditioned on them, is
  # scored as a round's first (the round's conditioning would score it ~0).
  for group_B, third in [(epig.batch_groups(jnp.asarray([[1, 2], [1, 2], [3, 4]])), best),
                         (None, 0.0)]:
    _, score_B = epig.select_queries(jax.random.key(0), log_u_BxMxC, 2, lambda k, b: targets,
                                     False, found, group_B)
    np.testing.assert_allclose(score_B[:2], best, rtol=1e-4)
    np.testing.assert_allclose(score_B[2], third, rtol=1e-4, atol=0.05 * best)
  with pytest.raises(ValueError, match='group_B of shape'):
    epig.select_queries(jax.random.key(0), log_u_BxMxC, 2, lambda k, b: targets, False, found,
                        np.zeros(2, np.int32))


def _information_of(log_u_MxC, shown_UxK, targets, full_ranking):
  return np.asarray(epig.information(
      epig.outcome_log_probs(log_u_MxC[:, jnp.asarray(shown_UxK)], full_ranking), targets))


@pytest.mark.parametrize('full_ranking,num_shown', [(False, 3), (True, 3), (True, 4)])
def test_a_greedily_grown_tuple_is_the_best_pair_then_the_best_addition_slot_by_slot(
    full_ranking, num_shown):
  """K of 6 candidates (one a repeat of another), random members: the greedy tuple shows K
  different responses; its first two are the best showable pair and each later one the free
  candidate whose addition scores most; its reported score is that tuple's `I(Y; C)`, at most the
  best tuple's and, on these members, within 80% of it."""
  M, C, K = 4, 6, num_shown
  log_p_MxN = jnp.asarray(_random_tables(3, M, 1, 8, scale=2.0)[:, 0], jnp.float32)
  pool_C = jnp.asarray([0, 1, 2, 1, 3, 4])  # Position 3 repeats response 1.
  log_u_MxC = log_p_MxN[:, pool_C]
  targets = epig.exact_targets(log_p_MxN[:, None])
  valid_C = np.asarray(epig.showable_candidates(pool_C[None], K)[0])
  np.testing.assert_array_equal(valid_C, [True, True, True, False, True, True])
  chosen_BxK, score_B = epig.select_queries(jax.random.key(0), log_u_MxC[None], K,
                                            lambda k, b: targets, full_ranking,
                                            epig.TupleSearch(valid_BxC=jnp.asarray(valid_C)[None]))
  chosen = np.asarray(chosen_BxK[0]).tolist()
  assert 3 not in chosen and len(set(chosen)) == K, chosen
  pairs = [p for p in itertools.combinations(range(C), 2) if valid_C[list(p)].all()]
  best_pair = pairs[int(np.argmax(_information_of(log_u_MxC, pairs, targets, full_ranking)))]
  assert tuple(sorted(chosen[:2])) == best_pair, (chosen, best_pair)
  for k in range(2, K):
    free = [c for c in range(C) if valid_C[c] and c not in chosen[:k]]
    grown = [chosen[:k] + [c] for c in free]
    best_addition = free[int(np.argmax(_information_of(log_u_MxC, grown, targets,
                                                       full_ranking)))]
    assert chosen[k] == best_addition, (k, chosen, best_addition)
  showable = [t for t in itertools.combinations(range(C), K) if valid_C[list(t)].all()]
  score_U = _information_of(log_u_MxC, showable, targets, full_ranking)
  mine = float(_information_of(log_u_MxC, [chosen], targets, full_ranking)[0])
  np.testing.assert_allclose(score_B[0], mine, rtol=1e-5)
  assert 0.8 * score_U.max() <= mine <= score_U.max() + 1e-6, (mine, score_U.max())


def test_a_greedy_tuple_repeats_responses_only_where_too_few_differ_never_a_candidate():
  """Two different responses among 4 candidates, K = 3: every candidate may be shown, the tuple
  uses 3 different positions (so one response twice), and every query of the round gets one."""
  log_p_MxN = jnp.asarray(_random_tables(5, 3, 1, 4)[:, 0], jnp.float32)
  pool_BxC = jnp.asarray([[1, 1, 2, 1], [3, 3, 3, 0]])
  log_u_BxMxC = jnp.swapaxes(log_p_MxN[:, pool_BxC], 0, 1)
  valid_BxC = epig.showable_candidates(pool_BxC, 3)
  assert np.all(valid_BxC)
  targets = epig.exact_targets(log_p_MxN[:, None])
  chosen_BxK, score_B = epig.select_queries(jax.random.key(1), log_u_BxMxC, 3,
                                            lambda k, b: targets, True,
                                            epig.TupleSearch(valid_BxC=valid_BxC))
  for row in np.asarray(chosen_BxK).tolist():
    assert len(set(row)) == 3, row
  assert np.all(np.isfinite(np.asarray(score_B))), score_B
  with pytest.raises(ValueError, match='give tuples_UxK with valid_BxU, or valid_BxC alone'):
    epig.select_queries(jax.random.key(1), log_u_BxMxC, 3, lambda k, b: targets, True,
                        epig.TupleSearch())


def test_showable_candidates_allow_repeats_only_where_too_few_responses_differ():
  pool_BxC = jnp.asarray([[5, 7, 5, 2], [1, 1, 2, 1]])
  np.testing.assert_array_equal(epig.showable_candidates(pool_BxC, 3),
                                [[True, True, False, True], [True, True, True, True]])
  np.testing.assert_array_equal(epig.showable_candidates(pool_BxC, 2),
                                [[True, True, False, True], [True, False, True, False]])


def test_distinct_tuples_leave_out_repeated_candidates():
  tuples_UxK = jnp.asarray(strategies.tuples(4, 2))
  valid_BxU = epig.distinct_tuples(jnp.asarray([[5, 7, 5, 2], [1, 1, 1, 1]]), tuples_UxK)
  pairs = [tuple(t) for t in np.asarray(tuples_UxK).tolist()]
  assert {pairs[u] for u in np.flatnonzero(valid_BxU[0])} == {(0, 1), (0, 3), (1, 3)}
  assert not np.any(valid_BxU[1])
  showable_BxU = epig.showable_tuples(jnp.asarray([[5, 7, 5, 2], [1, 1, 1, 1]]), tuples_UxK)
  np.testing.assert_array_equal(showable_BxU[0], valid_BxU[0])
  assert np.all(showable_BxU[1])  # No tuple of K different responses: any tuple may be shown.


# Y over the query's prompt (the headline's) in the fast tier; over every prompt in the slow (~7 s).
@pytest.mark.parametrize('population', [False, pytest.param(True, marks=pytest.mark.slow)])
def test_the_monte_carlo_score_agrees_with_the_exact_one_within_its_standard_error(population):
  """8 draws of Y per member (stratified), 400 independent estimates: their mean is within 4
  standard errors of the exact score for every tuple, and one estimate is within a few of its."""
  M, N, K, repeats, S = 4, 9, 3, 400, 8
  log_p_MxXxN = jnp.asarray(_random_tables(3, M, 3 if population else 1, N), jnp.float32)
  shown_UxK = np.asarray(list(itertools.combinations(range(6), K)))
  log_choice = _choice_log_probs(log_p_MxXxN[:, 0], shown_UxK, True)
  exact_U = np.asarray(epig.information(log_choice, epig.exact_targets(log_p_MxXxN)))
  # One draw of S * repeats per member, split into `repeats` independent draws of S per member
  # (vmapping the sampler over keys instead compiles for tens of seconds on a CPU).
  @jax.jit
  def estimates(key):
    many = epig.sampled_targets(key, log_p_MxXxN, S * repeats)
    split = lambda x_MxY: jnp.moveaxis(x_MxY.reshape(M, M, repeats, S), 2, 0).reshape(
        repeats, M, M * S)
    draws = epig.Targets(split(many.log_y_MxY),
                         jnp.where(jnp.isfinite(split(many.log_mass_MxY)), -np.log(S), -jnp.inf))
    return jax.vmap(lambda t: epig.information(log_choice, t))(draws)

  estimate_RxU = np.asarray(estimates(jax.random.key(4)))
  se_U = estimate_RxU.std(0, ddof=1) / np.sqrt(repeats)
  assert np.all(np.abs(estimate_RxU.mean(0) - exact_U) < 4 * se_U + 1e-6), (
      estimate_RxU.mean(0), exact_U, se_U)
  assert np.all(se_U < 0.2 * exact_U)  # Informative: the standard error is small beside I.
  targets = epig.sampled_targets(jax.random.key(5), log_p_MxXxN, S)
  chex.assert_shape(targets.log_y_MxY, (M, M * S))


# ----------------------------------------------------------------------------- predicted_kl


def test_predicted_kl_is_the_information_a_query_that_reveals_the_member_would_give():
  """`predicted_kl` at the members' mixture is `mean_m KL(p_m || p_bar) = I(m; Y)`; a query whose
  ranking tells the member for sure has `I(Y; C) = I(m; Y)`: the score's ceiling is the metric."""
  # Member m alone likes response 4 + m (the others hold almost nothing there): showing 4 and 5
  # reveals m; responses 0..3 carry the members' different tastes.
  log_p_MxXxN = _random_tables(6, 2, 1, 6)
  log_p_MxXxN[0, 0, 4], log_p_MxXxN[0, 0, 5] = 0.0, -30.0
  log_p_MxXxN[1, 0, 4], log_p_MxXxN[1, 0, 5] = -30.0, 0.0
  log_p_MxXxN = log_p_MxXxN - np.log(np.exp(log_p_MxXxN).sum(-1, keepdims=True))
  log_p_MxXxN = jnp.asarray(log_p_MxXxN, jnp.float32)
  mixture_XxN = metrics.mixture_log_probs(log_p_MxXxN)
  predicted = metrics.predicted_kl(log_p_MxXxN, mixture_XxN)
  brute = np.mean([float(metrics.kl_divergence(log_p_MxXxN[m], mixture_XxN)) for m in range(2)])
  np.testing.assert_allclose(predicted, brute, rtol=1e-5)
  info = epig.information(_choice_log_probs(log_p_MxXxN[:, 0], np.asarray([[4, 5]]), False),
                          epig.exact_targets(log_p_MxXxN))
  np.testing.assert_allclose(info[0], predicted, rtol=1e-4)
  assert float(predicted) > 0.05
  # Against another deployed LM it is the posterior's expected KL of that LM, larger.
  other_XxN = jax.nn.log_softmax(jnp.zeros_like(mixture_XxN))
  assert float(metrics.predicted_kl(log_p_MxXxN, other_XxN)) > float(predicted)


def test_the_calibration_figure_draws_realised_and_predicted_kl_per_strategy():
  from lmrl import plotting  # pylint: disable=g-import-not-at-top  (matplotlib)
  rows = [{'agent': 'joint', 'strategy': name, 'seed': s, 'round': r, 'queries': 8 * r,
           'kl': 1.0 / (1 + r), 'predicted_kl': 0.5 / (1 + r + s), 'failed': 0}
          for name in ('epig', 'boltzmann') for s in (0, 1) for r in range(3)]
  fig = plotting.plot_calibration(rows, strategies=('boltzmann', 'epig'))
  labels = [line.get_label() for line in fig.axes[0].get_lines()]
  assert labels == ['boltzmann (realised)', 'boltzmann (predicted)', 'epig (realised)',
                    'epig (predicted)']
  np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(),
                             [(0.5 + 0.25) / 2, (0.25 + 0.5 / 3) / 2, (0.5 / 3 + 0.125) / 2])


# ----------------------------------------------------------------------------- config


def test_bad_epig_fields_fail_with_one_line_naming_the_field():
  for field, value in [('epig_target', 'everything'), ('epig_samples', -1), ('epig_top', -1),
                       ('epig_tuples', 'best'), ('epig_batch', 'query')]:
    config = conftest.fixture_config()
    config.experiment[field] = value
    with pytest.raises(errors.ConfigError, match=f'config.experiment.{field} '):
      checks.validate(config)
  config = conftest.fixture_config()
  config.experiment.strategies = ('epig', 'oracle')
  checks.validate(config)
  config.experiment.responses_per_prompt, config.experiment.pool_size = 7, 12
  with pytest.raises(errors.ConfigError, match='config.experiment.pool_size .*epig'):
    checks.validate(config)
  config.experiment.epig_tuples = 'greedy'  # 12 x 7! (the last slot's) pairs at most: allowed.
  checks.validate(config)
  config = conftest.fixture_config()  # Without tables: the joint agent's draws of Y.
  config.experiment.strategies, config.experiment.epig_tables = ('epig',), False
  config.experiment.epig_samples = 4
  for field, value, why in [('epig_samples', 0, 'epig_samples >= 1'),
                            ('epig_target', 'population', "epig_target='prompt'"),
                            ('epig_top', 2, 'epig_top 0 or 1')]:
    broken = config.copy_and_resolve_references()
    broken.experiment[field] = value
    with pytest.raises(errors.ConfigError, match=f'config.experiment.epig_tables .*{why}'):
      checks.validate(broken)
  checks.validate(config)
  config.agent.kind = 'classic'
  with pytest.raises(errors.ConfigError, match="config.experiment.epig_tables .*joint agent"):
    checks.validate(config)


# ----------------------------------------------------------------------------- compiled rounds

ROUND_PROMPTS = 24


def _round(kind, base_params, world, **experiment):
  """(config, spec, jitted (key, strategy) -> the buffer after round 0) of `kind`'s agent over
  ('epig', 'epig_random', 'oracle') on the tests' tiny world; its evaluation reports `predicted_kl`."""
  config = conftest.fixture_config()
  config.agent.kind = kind
  e = config.experiment
  e.strategies = ('epig', 'epig_random', 'oracle')
  e.prompts_per_round, e.rounds, e.eval_every, e.pool_size = ROUND_PROMPTS, 1, 1, 5
  e.rounds_per_chunk = 1
  for name, value in experiment.items():
    e[name] = value
  checks.validate(config)
  spec, lm_spec = pipeline.build_specs(config)
  exp = loop.make_experiment(config, spec, pipeline.make_agent(config, spec, lm_spec))

  @jax.jit
  def run(key, strategy):
    state = exp.init(key, base_params, world)
    return exp.one_round(key, state, world, 0, strategy)[0].buffer

  # The evaluated metrics (traced only; the metric's value is tested above).
  evaluated = jax.eval_shape(lambda key: exp.evaluate(exp.init(key, base_params, world), world),
                             jax.random.key(0))
  assert evaluated['predicted_kl'].shape == ()
  return config, spec, run


def _check_round(config, spec, run, world):
  names = config.experiment.strategies
  shown = {}
  for i, name in enumerate(names):
    buffer = run(jax.random.key(7), np.int32(i))
    chex.assert_shape(buffer.responses_HxKxLy, (ROUND_PROMPTS, 2, spec.response_length))
    shown[name] = (np.asarray(world_lib.sequence_index(buffer.prompts_HxLx, spec.vocab_size)),
                   np.asarray(world_lib.sequence_index(buffer.responses_HxKxLy, spec.vocab_size)))
  assert run._cache_size() == 1  # One program serves every strategy.
  # The oracle draws without replacement; epig's candidates are different responses where
  # they can be (a uniform replacement of a repeated one may repeat again, rarely).
  assert np.all(shown['oracle'][1][:, 0] != shown['oracle'][1][:, 1]), shown['oracle'][1]
  assert np.mean(shown['epig'][1][:, 0] != shown['epig'][1][:, 1]) >= 0.9, shown['epig'][1]
  # Its control draws from the same pool (same key, same state: same prompts) at random.
  np.testing.assert_array_equal(shown['epig_random'][0], shown['epig'][0])
  random_BxK = shown['epig_random'][1]
  assert np.mean(random_BxK[:, 0] != random_BxK[:, 1]) >= 0.9, random_BxK
  assert np.mean(np.any(np.sort(random_BxK, -1) != np.sort(shown['epig'][1], -1), -1)) > 0.2
  # The oracle's responses are drawn from p*^(1/2): more p* mass than uniform pairs hold.
  prompt_B, response_BxK = shown['oracle']
  pstar_BxK = np.exp(np.asarray(world.log_pstar_PxN)[prompt_B[:, None], response_BxK])
  assert pstar_BxK.mean() > 1.5 / spec.num_responses, pstar_BxK.mean()
  return shown


def test_epig_and_oracle_in_the_compiled_round_of_the_joint_agent(world, base_params):
  """Exact Y over the query's prompt (full rankings of K = 2: two outcomes)."""
  config, spec, run = _round('joint', base_params, world)
  shown = _check_round(config, spec, run, world)
  assert len({tuple(r) for r in shown['epig'][1].tolist()}) > 1  # Not one query for all.


@pytest.mark.slow  # ~10 s; the joint agent's compiled round (above) stays in the fast tier.
def test_epig_and_oracle_in_the_compiled_round_of_the_classic_agent(world, base_params):
  """Monte-Carlo Y over every evaluation prompt (4 draws per reward member), tuples grown
  greedily."""
  config, spec, run = _round('classic', base_params, world, epig_target='population',
                             epig_samples=4, epig_tuples='greedy')
  _check_round(config, spec, run, world)


@pytest.mark.slow  # ~10 s; the joint agent's round with tables stays in the fast tier.
def test_epig_without_tables_in_the_compiled_round_of_the_joint_agent(world, base_params):
  """Y drawn from the members and scored (4 draws per member), the pool from each member's greedy
  response and the LM's samples; epig_random draws from that same pool."""
  config, spec, run = _round('joint', base_params, world, epig_tables=False, epig_samples=4)
  shown = _check_round(config, spec, run, world)
  assert len({tuple(r) for r in shown['epig'][1].tolist()}) > 1


def test_the_oracle_refuses_to_run_without_pstar():
  params = strategies.StrategyParams(2, 4, 'nats', {})
  with pytest.raises(ValueError, match='oracle strategy needs p\\*'):
    strategies.oracle(jax.random.key(0), None, jnp.zeros((2, 1), jnp.int32), params)


def test_member_tables_are_the_agents_members(base_params, all_prompts, spec, lm_spec):
  """The joint explorer's `member_log_probs` are the members `agent.exact_log_probs` reports."""
  config = conftest.fixture_config()
  agent = pipeline.make_agent(config, spec, lm_spec)
  hparams = conftest.hparams()

  @jax.jit
  def tables(key):
    state = agent.init(key, base_params, hparams)
    return (agent.explorer(state, hparams).member_log_probs(all_prompts),
            agent.exact_log_probs(state, all_prompts)[1])

  mine, reported = tables(jax.random.key(3))
  np.testing.assert_allclose(mine, reported, rtol=1e-5, atol=1e-5)


def test_tables_in_passes_are_the_tables_at_once():
  """Epig's tables in passes of a few prompts (the last one padded) equal one call on all."""
  def member_log_probs(prompts_PxLx):  # A stand-in [M=2, P, N=3] that depends on each prompt.
    row_P = jnp.sum(prompts_PxLx * jnp.asarray([7, 1]), axis=-1).astype(jnp.float32)
    return row_P[None, :, None] * jnp.arange(1, 4.0)[None, None] + jnp.asarray([0., 100.])[:, None, None]

  prompts_PxLx = jnp.asarray([[0, 1], [1, 0], [2, 2], [3, 1], [0, 3]], jnp.int32)
  at_once = member_log_probs(prompts_PxLx)
  for per_pass in (1, 2, 3, 5, 8):
    np.testing.assert_array_equal(
        jax.jit(lambda p, n=per_pass: strategies.tables_in_passes(member_log_probs, p, n))(
            prompts_PxLx), at_once)
  assert strategies.table_prompts_per_pass(8, 4) == 2  # The structured family: 512 prefixes.
  assert strategies.table_prompts_per_pass(6, 3) >= 6  # The default world's 6 prompts: one pass.
