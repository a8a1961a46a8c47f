"""EPIG: what a human's ranking of a shown tuple would tell about the population's favourites.

Expected predictive information gain (Bickford Smith et al., AISTATS 2023) for the `epig`
strategy (`lmrl.strategies`): score a query by the information its outcome `C` (the human's
ranking) gives about a response `Y` drawn from the population's distribution, not about which
epistemic member is right (BALD, `strategies.choice_information`).

**The quantity.** Members `m = 1..M` are uniform a priori; member `m` says the population's
favourites follow `p_m(y|x)`, and the deployed LM is their mixture `p_bar = mean_m p_m`. If the
truth `p*` is one of the members (the posterior's own view), the expected KL of the deployed LM is

  E_m KL(p_m || p_bar) = mean_m sum_y p_m(y) log(p_m(y) / p_bar(y)) = I(m; Y),   Y ~ p_m(.|x),

the mutual information between the member and a response it draws (`metrics.predicted_kl` logs it
every evaluated round, beside the realised `KL(p* || p_bar)`).

**Why I(Y; C).** A query's outcome `C` is drawn from the member's Luce / Plackett-Luce model of the
shown responses (`P_m(c)`, utilities `log p_m(y)`), independently of `Y` given `m`. After seeing
`C = c` the members are re-weighted by `P_m(c)`, and the posterior's predicted KL becomes
`I(m; Y | C = c)`. Its expected drop is, by the chain rule of mutual information applied twice to
`I(m, C; Y)`,

  I(m; Y) - I(m; Y | C) = I(m, C; Y) - I(m; Y | C) - I(C; Y | m) = I(Y; C),

since `I(C; Y | m) = 0`. So `I(Y; C)` is exactly how much a ranking is expected to lower the
posterior's predicted KL. It weighs each response by the mass the members give it: members that
disagree only about responses nobody is predicted to like barely move `Y`, whatever BALD says.

**How it is computed.** With member weights `pi_m` (uniform, or a posterior, see below),
`p_bar(y) = sum_m pi_m p_m(y)`, `w_m(y) = pi_m p_m(y) / p_bar(y)` (the posterior over members
given `Y = y`) and `P(c | y) = sum_m w_m(y) P_m(c)`,

  I(Y; C) = H(C) - sum_y p_bar(y) H(C | Y = y),       H(C) = H(sum_m pi_m P_m(c)),

one matrix product of the `Y x M` weights with the `M x (tuples * outcomes)` choice
probabilities, then an entropy per row (`expected_information`, chunked over rows to bound
memory). The outcomes (`outcome_log_probs`) are what the human gives: the whole Plackett-Luce
ranking of the K shown (K! orders) with `world.full_ranking`, else the first choice (K).

**Targets Y** (`Targets`): 'prompt' (`exact_targets` of the query's own prompt: every
enumerated response), 'population' (every response of every evaluation prompt, the prompts
weighted as the `kl` metric weighs them, uniformly: what counts once tastes share structure across
prompts; the members couple prompts, so a ranking on one prompt informs `Y` on another), or a
Monte-Carlo estimate (`sampled_targets`): `S` draws of `Y` per member (stratified over members:
draw `t` from member `m_t`, weight `pi_{m_t} / S`), which is unbiased for the second term while
`H(C)` stays exact. Only `Y`'s axis shrinks (N to M * S), the cost that grows with the world.
With `experiment.epig_tables=False` (`strategies.epig`) the draws come from the members' LMs
and every member scores them (`member_sample_targets`), so no table over the N responses is
built at all: what a world too large to tabulate needs.

**Which tuple** (`experiment.epig_tuples`): the best of every K-tuple of the C candidates
(`'all'`: `C(C, K)` tuples, 1,820 for 16 candidates and K = 4, each with K! outcomes), or one grown
a slot at a time (`'greedy'`: the best pair, then the candidate that adds most, slot by slot:
`C(C, 2) + (K - 2) C` tuples, 152 for the same, each scored with the outcomes of the responses
chosen so far), which need not find the best tuple. At that size with full rankings it scores
720 (tuple, outcome) pairs a query instead of 43,680 (first choices: 352 vs 7,280) and selects
11-12x faster (`benchmarks.epig_search`, docs/performance.md).

**A batch that does not ask the same thing twice** (`select_queries`). A round's queries are
chosen one after another, greedily maximising `I(Y; C_b | C_1..C_b-1)`: the expected score after
the earlier queries' outcomes. With M members the posterior after any outcomes is a weight vector
`pi` over them, so conditioning is exact given the outcomes; their expectation is estimated with
M simulated histories, history `s` drawing each chosen query's outcome from member `s` (a sample
of the outcomes stratified over members, unbiased for the expected score). A query whose
information was used up scores ~0 the next time, so a prompt that recurs in the round gets the
question that is still open instead of the identical one (drawing `exp(I / tau)`, as infomax does,
only spreads the round's queries at random). The finite ensemble holds at most `log M` nats, so
late in a large batch every score can be ~0: ties are broken at random (`TIE_BREAK` nats of Gumbel
noise), among tuples without a repeated response. Measured on the structured headline (8
members, full rankings of 4; `experiments/analysis/epig_diagnostic.py`): the histories' weights
collapse within a round's first 4-16 queries, 85-92% of its 64 queries score below 1% of its
first, and its last 48, scored alone, are worth what random tuples of the pool are.
`experiment.epig_batch='prompt'` conditions a query only on the earlier queries of its own prompt
(`batch_groups`): a recurring prompt still gets the question that is still open, and a query on
another prompt is scored as if it were the first.

Shapes (beside `lmrl`'s legend): F outcomes of a query (K! rankings or K first choices), Y
targets (values of `Y`: responses, (prompt, response) pairs or samples), X target prompts, H
posteriors over the members (simulated histories);
`log_pi_MxM` holds one posterior per simulated history (row s: the history drawn from member s).
"""

import itertools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

TARGETS = ('prompt', 'population')  # `experiment.epig_target`: what Y ranges over.
MAX_CHUNK = 1 << 22  # Elements of one chunk of the Y x tuples x outcomes product (16 MB).
TIE_BREAK = 1e-6  # Nats of Gumbel noise that break ties between (near-)equal scores.


def outcome_orders(num_shown: int) -> np.ndarray:
  """Every order of K shown responses, int32[K!, K] (positions, best first)."""
  return np.asarray(list(itertools.permutations(range(num_shown))), np.int32)


def num_outcomes(num_shown: int, full_ranking: bool) -> int:
  """F: K! rankings, or K first choices."""
  return math.factorial(num_shown) if full_ranking else num_shown


def _remaining_sets(num_shown: int) -> tuple[np.ndarray, np.ndarray]:
  """The sets of responses left to rank, as the Plackett-Luce likelihood divides by them.

  Returns `member_AxK` (bool: response k is in set a, for the 2^K - 1 non-empty sets a) and
  `count_FxA` (1 where order f divides by set a: its responses from position i on, for each i).
  """
  K = num_shown
  sets = list(range(1, 2 ** K))
  member_AxK = np.asarray([[(a >> k) & 1 for k in range(K)] for a in sets], bool)
  index = {a: i for i, a in enumerate(sets)}
  orders_FxK = outcome_orders(K)
  count_FxA = np.zeros((orders_FxK.shape[0], len(sets)), np.float32)
  for f, order in enumerate(orders_FxK.tolist()):
    for i in range(K):
      count_FxA[f, index[sum(1 << k for k in order[i:])]] = 1.0
  return member_AxK, count_FxA


def outcome_log_probs(log_u_xK: jax.Array, full_ranking: bool) -> jax.Array:
  """`log P(c)` of every outcome under Luce utilities `log_u` of K shown responses, [..., F].

  Full ranking: Plackett-Luce, outcome f is `outcome_orders(K)[f]`; else the first choice, outcome
  k is response k chosen (a softmax). Every order's numerators multiply to the same
  `prod_k u_k`, and its denominators are the sums over the sets still to rank: one log-sum-exp
  per set of the `2^K - 1`, then a matrix product with which sets each order divides by.
  """
  if not full_ranking:
    return jax.nn.log_softmax(log_u_xK, axis=-1)
  member_AxK, count_FxA = _remaining_sets(log_u_xK.shape[-1])
  log_set_xA = jax.nn.logsumexp(
      jnp.where(jnp.asarray(member_AxK), log_u_xK[..., None, :], -jnp.inf), axis=-1)
  return jnp.sum(log_u_xK, axis=-1, keepdims=True) - log_set_xA @ jnp.asarray(count_FxA).T


class Targets(NamedTuple):
  """The values `t` of `Y` the score sums over, as the members see them.

  `p_bar`'s share of target t under member weights `pi` is `a_t = sum_m pi_m mass_mt`: exactly
  `p_bar(t)` (times its prompt's weight) for enumerated targets, `pi_{m_t} / S` for a sample.
  """
  log_y_MxY: jax.Array  # log p_m(t): each member's probability of target t.
  log_mass_MxY: jax.Array  # log mass_mt (see above).


def exact_targets(log_p_MxXxN: jax.Array, log_weight_X: jax.Array | None = None) -> Targets:
  """Every response of X prompts, the prompts weighted by `log_weight_X` (default: uniform)."""
  M, X, N = log_p_MxXxN.shape
  if log_weight_X is None:
    log_weight_X = jnp.full((X,), -math.log(X), jnp.float32)
  log_y_MxY = log_p_MxXxN.reshape(M, X * N)
  return Targets(log_y_MxY, log_y_MxY + jnp.repeat(log_weight_X, N)[None])


def member_sample_targets(log_y_MxY: jax.Array, samples_per_member: int) -> Targets:
  """Targets of `S = samples_per_member` draws from each member, target `t` drawn from member
  `t // S` (stratified), given every member's `log p_m(y_t)` (float32[M, M * S])."""
  M = log_y_MxY.shape[0]
  member_Y = jnp.repeat(jnp.arange(M), samples_per_member)
  log_mass_MxY = jnp.where(member_Y[None] == jnp.arange(M)[:, None],
                           -math.log(samples_per_member), -jnp.inf)
  return Targets(log_y_MxY, log_mass_MxY)


def sampled_targets(key: jax.Array, log_p_MxXxN: jax.Array, samples_per_member: int,
                    log_weight_X: jax.Array | None = None) -> Targets:
  """`samples_per_member` draws of (prompt, response) from each member, Y = M * S targets.

  Draw t: its member `m_t` (stratified: S draws each), a prompt from `log_weight_X` (default
  uniform), a response from `p_{m_t}(.|x)`. (Without the tables, `strategies.epig` draws the
  responses from the members' LMs and scores them: `member_sample_targets`.)
  """
  M, X, N = log_p_MxXxN.shape
  S = samples_per_member
  if log_weight_X is None:
    log_weight_X = jnp.full((X,), -math.log(X), jnp.float32)
  key_x, key_y = jax.random.split(key)
  if X == 1:
    x_MxS = jnp.zeros((M, S), jnp.int32)
  else:
    x_MxS = jax.random.categorical(key_x, log_weight_X, shape=(M, S))
  log_p_MxSxN = jnp.take_along_axis(log_p_MxXxN, x_MxS[:, :, None], axis=1)
  y_MxS = jax.random.categorical(key_y, log_p_MxSxN)
  return member_sample_targets(log_p_MxXxN[:, x_MxS.reshape(-1), y_MxS.reshape(-1)], S)


def _entropy(p_xF: jax.Array) -> jax.Array:
  """`-sum_f p log p` over the last axis (0 log 0 = 0; plainer, so faster, than `entr`)."""
  return -jnp.sum(p_xF * jnp.log(jnp.maximum(p_xF, 1e-30)), axis=-1)


def expected_information(log_choice_MxUxF: jax.Array, targets: Targets,
                         log_pi_HxM: jax.Array) -> jax.Array:
  """`mean_h I_{pi_h}(Y; C)` of every tuple u, nats, float32[U].

  `log_choice_MxUxF`: `log P_m(c)` of each tuple's outcomes; `log_pi_HxM`: H weight vectors over
  the members (H = 1: one posterior; H histories: the expected score over them). Rows (h, t) of the
  `(H * Y) x M` weights times the `M x (U * F)` choice probabilities are taken `MAX_CHUNK`
  elements at a time.
  """
  M, U, F = log_choice_MxUxF.shape
  H, Y = log_pi_HxM.shape[0], targets.log_y_MxY.shape[1]
  choice_MxE = jnp.exp(log_choice_MxUxF).reshape(M, U * F)
  # H(C) under each history's weights.
  c_HxUxF = (jnp.exp(log_pi_HxM) @ choice_MxE).reshape(H, U, F)
  h_c = jnp.mean(_entropy(c_HxUxF), axis=0)
  # w_m(t) and a_t for every (history, target) row.
  log_w_HxYxM = jax.nn.log_softmax(log_pi_HxM[:, None, :] + targets.log_y_MxY.T[None], axis=-1)
  log_a_HxY = jax.nn.logsumexp(log_pi_HxM[:, :, None] + targets.log_mass_MxY[None], axis=1)
  w_RxM = jnp.exp(log_w_HxYxM).reshape(H * Y, M)
  a_R = jnp.exp(log_a_HxY).reshape(H * Y) / H

  rows = H * Y
  chunk = max(1, min(rows, MAX_CHUNK // (U * F)))
  num_chunks = -(-rows // chunk)
  pad = num_chunks * chunk - rows
  w_CxRxM = jnp.pad(w_RxM, ((0, pad), (0, 0))).reshape(num_chunks, chunk, M)
  a_CxR = jnp.pad(a_R, (0, pad)).reshape(num_chunks, chunk)

  def conditional_entropy(total, chunk_in):
    w_RxM, a_R = chunk_in
    p_RxUxF = (w_RxM @ choice_MxE).reshape(-1, U, F)
    return total + a_R @ _entropy(p_RxUxF), None

  if num_chunks == 1:
    h_c_given_y, _ = conditional_entropy(jnp.zeros((U,), jnp.float32), (w_CxRxM[0], a_CxR[0]))
  else:
    h_c_given_y, _ = jax.lax.scan(conditional_entropy, jnp.zeros((U,), jnp.float32),
                                  (w_CxRxM, a_CxR))
  return h_c - h_c_given_y


def information(log_choice_MxUxF: jax.Array, targets: Targets,
                log_pi_M: jax.Array | None = None) -> jax.Array:
  """`I(Y; C)` of every tuple, nats, float32[U], under member weights `pi` (default uniform)."""
  M = log_choice_MxUxF.shape[0]
  if log_pi_M is None:
    log_pi_M = jnp.full((M,), -math.log(M), jnp.float32)
  return expected_information(log_choice_MxUxF, targets, log_pi_M[None])


TUPLE_SEARCHES = ('all', 'greedy')  # `experiment.epig_tuples`: how a query's K-tuple is found.


def _best_of_all(log_u_MxC, targets, log_pi_HxM, tuples_UxK, allowed_U, noise_G, full_ranking):
  """The allowed tuple of `tuples_UxK` with the largest score: (positions int32[K], its score,
  its outcomes' `log P_m(c)` float32[M, F]). `noise_G`: U tie-breaking Gumbel draws."""
  log_choice_MxUxF = outcome_log_probs(log_u_MxC[:, tuples_UxK], full_ranking)
  score_U = expected_information(log_choice_MxUxF, targets, log_pi_HxM)
  u = jnp.argmax(jnp.where(allowed_U, score_U + TIE_BREAK * noise_G, -jnp.inf))
  return tuples_UxK[u], score_U[u], log_choice_MxUxF[:, u]


def greedy_draws(num_candidates: int, num_shown: int) -> int:
  """Tie-breaking draws `_grown_greedily` uses: every pair, then C per further slot."""
  return math.comb(num_candidates, 2) + (num_shown - 2) * num_candidates


def _grown_greedily(log_u_MxC, targets, log_pi_HxM, num_shown, allowed_C, noise_G,
                    full_ranking):
  """A K-tuple grown one slot at a time: the allowed pair with the largest score, then, slot by
  slot, the allowed candidate whose addition scores most (each step scores its tuples'
  whole outcomes: k! rankings or k first choices of the k shown so far). Scores
  `C(C, 2) + (K - 2) C` tuples instead of `C(C, K)`; returns what `_best_of_all` returns."""
  C = log_u_MxC.shape[1]
  pairs_Px2 = np.asarray(list(itertools.combinations(range(C), 2)), np.int32)
  num_pairs = pairs_Px2.shape[0]
  chosen_K, score, log_choice_MxF = _best_of_all(
      log_u_MxC, targets, log_pi_HxM, jnp.asarray(pairs_Px2),
      allowed_C[pairs_Px2[:, 0]] & allowed_C[pairs_Px2[:, 1]], noise_G[:num_pairs], full_ranking)
  for k in range(2, num_shown):
    grown_CxK = jnp.concatenate([jnp.broadcast_to(chosen_K, (C, k)),
                                 jnp.arange(C, dtype=jnp.int32)[:, None]], axis=1)
    free_C = allowed_C & ~jnp.any(jnp.arange(C)[:, None] == chosen_K[None], axis=1)
    draws = noise_G[num_pairs + (k - 2) * C:num_pairs + (k - 1) * C]
    chosen_K, score, log_choice_MxF = _best_of_all(log_u_MxC, targets, log_pi_HxM, grown_CxK,
                                                   free_C, draws, full_ranking)
  return chosen_K, score, log_choice_MxF


class TupleSearch(NamedTuple):
  """How `select_queries` finds a query's K-tuple: give `tuples_UxK` (every K-subset of the
  candidates) with `valid_BxU` (those that may be shown, `showable_tuples`: every row allows at
  least one), the best of which is chosen; or `valid_BxC` alone (the candidates that may be
  shown, `showable_candidates`: every row allows at least K), from which a tuple is grown
  greedily (`_grown_greedily`: `C(C, 2) + (K - 2) C` tuples scored instead of `C(C, K)`, not
  always the best one)."""
  tuples_UxK: jax.Array | None = None
  valid_BxU: jax.Array | None = None
  valid_BxC: jax.Array | None = None


def select_queries(key: jax.Array, log_u_BxMxC: jax.Array, num_shown: int,
                   targets_fn: Callable[[jax.Array, jax.Array], Targets], full_ranking: bool,
                   search: TupleSearch, group_B: jax.Array | None = None
                   ) -> tuple[jax.Array, jax.Array]:
  """A round's B queries, one after another, each the K-tuple of its candidates with the largest
  `I(Y; C_b | C_1..C_b-1)` (see the module docstring).

  `group_B` (int[B] in [0, B), optional; `batch_groups`): query b is conditioned only on the
  earlier queries of its own group (`experiment.epig_batch='prompt'`: the queries on the same
  prompt); by default on every earlier query of the round ('round').

  `log_u_BxMxC`: each member's Luce log-utility of query b's C candidates; `targets_fn(key, b)`:
  query b's `Targets`; `search`: the exhaustive or the greedy search (`TupleSearch`). Returns
  the chosen tuples' candidate positions int32[B, K] (ascending for the exhaustive search, in
  the order chosen for the greedy one) and their scores float32[B] (nats, given the queries
  before them). The two searches draw their noise differently, so the same key
  gives them different simulated outcomes for the histories.
  """
  B, M, C = log_u_BxMxC.shape
  K = num_shown
  F = num_outcomes(K, full_ranking)
  tuples_UxK, valid_BxU, valid_BxC = search
  greedy = tuples_UxK is None
  if greedy == (valid_BxC is None) or (valid_BxU is None) != greedy:
    raise ValueError('select_queries: give tuples_UxK with valid_BxU, or valid_BxC alone')
  if greedy and not 2 <= K <= C:
    raise ValueError(f'select_queries: a greedy tuple of K={K} needs 2 <= K <= C={C}')
  if not greedy and tuples_UxK.shape[1] != K:
    raise ValueError(f'select_queries: tuples of {tuples_UxK.shape[1]}, num_shown {K}')
  G = greedy_draws(C, K) if greedy else tuples_UxK.shape[0]
  # One posterior per simulated history, per group (one group unless `group_B` is given).
  group_B = jnp.zeros((B,), jnp.int32) if group_B is None else jnp.asarray(group_B, jnp.int32)
  if group_B.shape != (B,):
    raise ValueError(f'select_queries: group_B of shape {group_B.shape}, {B} queries')
  log_pi_BxMxM = jnp.full((B, M, M), -math.log(M), jnp.float32)
  # Every step's noise in one draw (each random-number program takes a while to compile).
  key_targets, key_noise = jax.random.split(key)
  noise_BxE = jax.random.gumbel(key_noise, (B, G + M * F))
  outcome_noise_BxMxF = noise_BxE[:, G:].reshape(B, M, F)

  def step(log_pi_BxMxM, b):
    log_pi_MxM = log_pi_BxMxM[group_B[b]]
    targets = targets_fn(jax.random.fold_in(key_targets, b), b)
    if greedy:
      chosen_K, score, log_choice_MxF = _grown_greedily(
          log_u_BxMxC[b], targets, log_pi_MxM, K, valid_BxC[b], noise_BxE[b, :G], full_ranking)
    else:
      chosen_K, score, log_choice_MxF = _best_of_all(
          log_u_BxMxC[b], targets, log_pi_MxM, tuples_UxK, valid_BxU[b], noise_BxE[b, :G],
          full_ranking)
    # History s draws this query's outcome from member s (Gumbel-max) and re-weights its members.
    outcome_M = jnp.argmax(log_choice_MxF + outcome_noise_BxMxF[b], axis=-1)
    log_pi_MxM = jax.nn.log_softmax(log_pi_MxM + log_choice_MxF[:, outcome_M].T, axis=-1)
    return (log_pi_BxMxM.at[group_B[b]].set(log_pi_MxM),
            (chosen_K.astype(jnp.int32), score))

  _, (chosen_BxK, score_B) = jax.lax.scan(step, log_pi_BxMxM, jnp.arange(B))
  return chosen_BxK, score_B


BATCHES = ('round', 'prompt')  # `experiment.epig_batch`: what a query is conditioned on.


def batch_groups(prompts_BxLx: jax.Array) -> jax.Array:
  """int32[B]: each query's group for `select_queries(group_B=...)` under
  `experiment.epig_batch='prompt'`: the position of the round's first query on the same prompt."""
  same_BxB = jnp.all(prompts_BxLx[:, None] == prompts_BxLx[None], axis=-1)
  return jnp.argmax(same_BxB, axis=1).astype(jnp.int32)


def repeats(pool_BxC: jax.Array) -> jax.Array:
  """bool[B, C]: candidate c of row b repeats an earlier candidate of the row. The candidates are
  response indices, int[B, C], or responses' tokens, int[B, C, Ly] (equal in every token)."""
  C = pool_BxC.shape[1]
  same_BxCxC = pool_BxC[:, :, None] == pool_BxC[:, None, :]
  if pool_BxC.ndim == 3:
    same_BxCxC = jnp.all(same_BxCxC, axis=-1)
  return jnp.any(same_BxCxC & jnp.tril(jnp.ones((C, C), bool), k=-1), axis=-1)


def distinct_tuples(pool_BxC: jax.Array, tuples_UxK: jax.Array) -> jax.Array:
  """bool[B, U]: tuple u of row b's candidates (response indices) uses no candidate that repeats
  an earlier one, so it shows K different responses (every set of distinct responses among the
  candidates is still a tuple of their first occurrences)."""
  return ~jnp.any(repeats(pool_BxC)[:, tuples_UxK], axis=-1)


def showable_tuples(pool_BxC: jax.Array, tuples_UxK: jax.Array) -> jax.Array:
  """bool[B, U]: the tuples a round may show of row b's candidates: those of K different
  responses (`distinct_tuples`), or every tuple where the row has fewer than K different ones."""
  distinct_BxU = distinct_tuples(pool_BxC, tuples_UxK)
  return distinct_BxU | ~jnp.any(distinct_BxU, axis=-1, keepdims=True)


def showable_candidates(pool_BxC: jax.Array, num_shown: int) -> jax.Array:
  """bool[B, C]: the candidates a greedily grown tuple may use: each response's first occurrence
  in row b (so the tuple shows K different responses), or every candidate where the row has
  fewer than K different ones (`showable_tuples`, candidate by candidate)."""
  first_BxC = ~repeats(pool_BxC)
  return first_BxC | (jnp.sum(first_BxC, axis=-1, keepdims=True) < num_shown)
