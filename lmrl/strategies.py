"""Exploration strategies: which `K` responses to show a human for each prompt.

A strategy is a pure function `(key, explorer, prompts_BxLx, params: StrategyParams) ->
responses_BxKxLy`, looked up by name in `STRATEGIES`. It sees the agent only through an `Explorer`, a bundle of functions that any
agent (the joint LM-as-reward agent or the classic reward-model pipeline) provides:

  sample(key, prompts_BxLx, temperature) -> responses_BxLy          the deployed policy
  sample_thompson(key, prompts_BxLx, num) -> responses_BxKxLy       one response per sampled
                                                                     epistemic index
  utilities(prompts_BxLx, responses_BxCxLy) -> log_u_MxBxC          each member's Luce utility
  member_log_probs(prompts_PxLx) -> log_p_MxPxN                     each member's exact
                                                                     distribution over every
                                                                     response (its Luce model
                                                                     of the favourites)

Adding a strategy is one function and one line in `STRATEGIES`. The strategies:

  passive    K i.i.d. samples of the deployed LM (what a product would show)
  uniform    K uniformly random responses
  boltzmann  K samples at temperature tau
  thompson   double (K-fold) Thompson sampling: each response from a different sampled member
  infomax    BALD: from a pool of tempered samples, the K-tuple whose choice tells the most
             about which member is right (below)
  epig       the K-tuple whose ranking tells the most about a response Y of the population's
             distribution, I(Y; C), chosen one query after another (`lmrl.epig`)
  epig_random  epig's candidate pool and a uniformly random tuple of it: the control that says
             whether epig's score, rather than its pool, does the work
  oracle     knows p*: K distinct responses drawn from p*(.|x)^(1/2), normalised; a ceiling for
             the learner-side strategies, never a contender

Infomax scores a K-tuple by the mutual information between the human's choice `c` and the
epistemic index `m` (uniform over the M members), under each member's Luce model
`P_m(c = k) = softmax_k(u_m(y_k))`:

  I(c; m) = H(mean_m P_m) - mean_m H(P_m).

This is the expected information gain about which member is right (BALD). We use it rather than
the variance of choice probabilities because it is in bits of the quantity we want to learn, is
invariant to relabelling the shown responses, and counts a confident disagreement (members sure
of *different* answers) above a shared coin flip, which the variance does not do for K > 2.
Measured, it is a poor guide to `KL(p* || p)`: members disagree most about responses nobody likes,
which the KL barely weighs, and on the tabular world infomax did no better than a random tuple of
its own pool. `epig` scores the information about what the population favours instead (`I(Y; C)`,
whose expected value is the drop of the posterior's predicted KL; `lmrl.epig`).
"""

import itertools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lmrl import epig as epig_lib
from lmrl import world as world_lib


class Explorer(NamedTuple):
  sample: Callable  # (key, prompts_BxLx, temperature) -> responses int32[B, Ly]
  sample_thompson: Callable  # (key, prompts_BxLx, num) -> responses int32[B, num, Ly]
  utilities: Callable  # (prompts_BxLx, responses_BxCxLy) -> log-utilities float32[M, B, C]
  # (prompts_PxLx) -> each member's exact log p_m(y|x) over every response, float32[M, P, N]:
  # the joint agent's member LMs; the classic agent's log softmax_y r_m(x, y) (the same Luce
  # choices as `utilities`).
  member_log_probs: Callable
  vocab_size: int
  response_length: int
  # (key, prompts_BxLx, num, temperature) -> responses int32[B, M, num, Ly]: `num` draws from
  # each of the M members whose log-probabilities `utilities` gives (temperature 0: each
  # member's greedy response, token by token). The joint agent's (its `utilities` are those
  # members' exact `log p_m(y|x)`); None where `utilities` are not normalised (the classic
  # agent's rewards): epig without tables (`StrategyParams.epig_tables`) needs it.
  sample_members: Callable | None = None


class StrategyParams(NamedTuple):
  """What a strategy may use besides the explorer: static shapes and names, and the run's traced
  hyper-parameters (`lmrl.hyperparams`; read here: `temperature` (boltzmann),
  `pool_temperature` (infomax's and epig's candidates) and `info_temperature` (infomax: 0 = best
  tuple, > 0 = sample tuples)). Built by `lmrl.loop.strategy_params` from the config."""
  num_shown: int  # K.
  pool_size: int  # Infomax and epig: candidates per prompt (static).
  info_units: str  # Infomax: `info_temperature` in nats, or 'best' (static; see below).
  hparams: dict  # {name: float32[]}: the traced hyper-parameters.
  full_ranking: bool = False  # Epig's outcomes: the whole ranking (K! orders) or the 1st choice.
  epig_target: str = 'prompt'  # Epig's Y: 'prompt' or 'population' (`lmrl.epig.TARGETS`).
  epig_samples: int = 0  # Epig: Monte-Carlo draws of Y per member; 0 = every response, exactly.
  epig_top: int = 1  # Epig: each member's most probable responses among the candidates.
  epig_tuples: str = 'all'  # Epig: score every K-tuple, or grow one greedily (`TUPLE_SEARCHES`).
  epig_batch: str = 'round'  # Epig: condition on the round's earlier queries, or its prompt's.
  epig_tables: bool = True  # Epig: the members' exact tables, or draws scored (`epig_samples`).
  num_target_prompts: int = 0  # Epig's 'population' Y: the first n prompts (the evaluation
  #                              prompts, as the metrics weigh them); 0 = every prompt.
  # The oracle's knowledge, from the world (`lmrl.loop.one_round`): (prompts_BxLx) -> log p*(y|x)
  # float32[B, N]. None where no world is at hand: the oracle then refuses to run.
  log_pstar: Callable | None = None


INFO_UNITS = ('nats', 'best')  # What infomax's `info_temperature` is measured in.


def tuple_logits(info_BxU: jax.Array, info_temperature, info_units: str) -> jax.Array:
  """Logits of infomax's draw over each prompt's tuples: `I_u / tau`, float32[B, U].

  'nats': tau is in nats, the same for every prompt and round. 'best': tau is in units of the
  prompt's most informative tuple's `I`, i.e. the logits are `I_u / (tau max_u' I_u')`: the draw
  keeps its shape as the members come to agree and every `I` shrinks (in nats a fixed tau then
  makes it nearly uniform over the pool).
  """
  if info_units not in INFO_UNITS:
    raise ValueError(f'config.experiment.info_units must be one of {INFO_UNITS}, '
                     f'got {info_units!r}')
  tau = jnp.maximum(jnp.asarray(info_temperature, jnp.float32), 1e-6)
  if info_units == 'best':
    tau = tau * jnp.maximum(jnp.max(info_BxU, axis=-1, keepdims=True), 1e-12)
  return info_BxU / tau


def sample_k(key, explorer: Explorer, prompts_BxLx, num: int, temperature) -> jax.Array:
  """`num` i.i.d. samples per prompt from the deployed policy, int32[B, num, Ly]."""
  samples_NxBxLy = jax.vmap(lambda k: explorer.sample(k, prompts_BxLx, temperature))(
      jax.random.split(key, num))
  return jnp.swapaxes(samples_NxBxLy, 0, 1)


def passive(key, explorer: Explorer, prompts_BxLx, p: StrategyParams):
  """K i.i.d. samples from the deployed LM (what a deployed product would show)."""
  return sample_k(key, explorer, prompts_BxLx, p.num_shown, 1.0)


def uniform(key, explorer: Explorer, prompts_BxLx, p: StrategyParams):
  """K uniformly random responses."""
  shape = (prompts_BxLx.shape[0], p.num_shown, explorer.response_length)
  return jax.random.randint(key, shape, 0, explorer.vocab_size, dtype=jnp.int32)


def boltzmann(key, explorer: Explorer, prompts_BxLx, p: StrategyParams):
  """K samples at per-token temperature tau from the explorer's `sample`.

  For the joint agent each sample tempers one uniformly drawn member (the mixture's way of
  sampling), not the tempered mixture; for the classic agent, the tempered policy.
  """
  return sample_k(key, explorer, prompts_BxLx, p.num_shown, p.hparams['temperature'])


def thompson(key, explorer: Explorer, prompts_BxLx, p: StrategyParams):
  """Double (K-fold) Thompson sampling: each response from a different sampled index."""
  return explorer.sample_thompson(key, prompts_BxLx, p.num_shown)


def tuples(pool_size: int, num_shown: int) -> np.ndarray:
  """Every K-subset of `range(pool_size)`, int32[U, K]."""
  return np.asarray(list(itertools.combinations(range(pool_size), num_shown)), np.int32)


def choice_information(log_u_MxUxK: jax.Array) -> jax.Array:
  """Mutual information (nats) between the Luce choice and the member index, float32[U]."""
  log_p_MxUxK = jax.nn.log_softmax(log_u_MxUxK, axis=-1)
  entropy = lambda log_p: -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)
  log_mean_UxK = jax.nn.logsumexp(log_p_MxUxK, axis=0) - jnp.log(log_u_MxUxK.shape[0])
  return entropy(log_mean_UxK) - jnp.mean(entropy(log_p_MxUxK), axis=0)


def pool_information(key, explorer: Explorer, prompts_BxLx, p: StrategyParams
                     ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Infomax's candidates and what each K-tuple of them would tell about the member index.

  Returns the pool int32[B, C, Ly] (C samples of the deployed LM at the pool temperature), the
  tuples int32[U, K] (indices into the pool) and their information float32[B, U] (nats).
  """
  pool_BxCxLy = sample_k(key, explorer, prompts_BxLx, p.pool_size, p.hparams['pool_temperature'])
  log_u_MxBxC = explorer.utilities(prompts_BxLx, pool_BxCxLy)
  tuples_UxK = jnp.asarray(tuples(p.pool_size, p.num_shown))
  info_BxU = jax.vmap(choice_information, in_axes=1)(log_u_MxBxC[:, :, tuples_UxK])
  return pool_BxCxLy, tuples_UxK, info_BxU


def infomax(key, explorer: Explorer, prompts_BxLx, p: StrategyParams):
  """From a pool of C samples, the K-tuple whose choice tells the most about the index.

  With `info_temperature` tau > 0 the tuple is drawn with probability proportional to
  `exp(I / tau)` instead (batch-aware: prompts that recur within a round, with near-identical
  pools, then get different queries rather than the same best one), tau in nats or in units of
  the best tuple's information (`info_units`, `tuple_logits`).
  """
  pool_BxCxLy, tuples_UxK, info_BxU = pool_information(key, explorer, prompts_BxLx, p)
  info_temperature = p.hparams['info_temperature']
  sampled_B = jax.random.categorical(
      jax.random.fold_in(key, 1), tuple_logits(info_BxU, info_temperature, p.info_units), axis=-1)
  best_B = jnp.where(jnp.asarray(info_temperature) > 0, sampled_B,
                     jnp.argmax(info_BxU, axis=-1))
  chosen_BxK = tuples_UxK[best_B]
  return jnp.take_along_axis(pool_BxCxLy, chosen_BxK[:, :, None], axis=1)


# Epig's member tables are computed this many response prefixes (`V**(Ly-1)` per prompt) at a time
# per member and lane: the prompts in passes of `table_prompts_per_pass`, one after another, so
# that the tables' peak memory does not grow with the world's prompts (all 64 prompts of the
# structured family at once need ~4 GB per lane; checks.epig_table_bytes counts a pass).
TABLE_PREFIXES_PER_PASS = 1024


def table_prompts_per_pass(vocab_size: int, response_length: int) -> int:
  """Prompts per pass of epig's member tables: `TABLE_PREFIXES_PER_PASS // V**(Ly-1)`, >= 1."""
  return max(1, TABLE_PREFIXES_PER_PASS // vocab_size ** (response_length - 1))


def tables_in_passes(member_log_probs: Callable, prompts_PxLx, prompts_per_pass: int
                     ) -> jax.Array:
  """`member_log_probs(prompts_PxLx)`, float32[M, P, N], computed `prompts_per_pass` prompts at a
  time (`jax.lax.map`; the last pass padded with copies of the first prompt); one call if P fits
  in a pass."""
  P = prompts_PxLx.shape[0]
  if P <= prompts_per_pass:
    return member_log_probs(prompts_PxLx)
  passes = -(-P // prompts_per_pass)
  padded_PxLx = jnp.concatenate(
      [prompts_PxLx, jnp.broadcast_to(prompts_PxLx[:1], (passes * prompts_per_pass - P,)
                                      + prompts_PxLx.shape[1:])])
  log_p_QxMxXxN = jax.lax.map(member_log_probs,
                              padded_PxLx.reshape((passes, prompts_per_pass, -1)))
  Q, M, X, N = log_p_QxMxXxN.shape
  return jnp.moveaxis(log_p_QxMxXxN, 0, 1).reshape(M, Q * X, N)[:, :P]


def member_tables(explorer: Explorer, prompts_BxLx, num_target_prompts: int, population: bool
                  ) -> tuple[jax.Array, jax.Array | None]:
  """Each member's exact `log p_m(y|x)` for the round's prompts, float32[M, B, N], and for the
  first `num_target_prompts` prompts (0: all) if `population`, else None.

  Computed once per round: for every prompt at once when there are no more prompts than queries
  (then gathered), else for the round's B prompts; in passes of `table_prompts_per_pass` prompts.
  """
  B, Lx = prompts_BxLx.shape
  V = explorer.vocab_size
  per_pass = table_prompts_per_pass(V, explorer.response_length)
  all_prompts_PxLx = jnp.asarray(world_lib.enumerate_sequences(V, Lx))
  P = all_prompts_PxLx.shape[0]
  X = num_target_prompts or P

  def tables(prompts_PxLx):
    return tables_in_passes(explorer.member_log_probs, prompts_PxLx, per_pass)

  if P <= B:
    log_p_MxPxN = tables(all_prompts_PxLx)
    query_MxBxN = log_p_MxPxN[:, world_lib.sequence_index(prompts_BxLx, V)]
    return query_MxBxN, (log_p_MxPxN[:, :X] if population else None)
  return tables(prompts_BxLx), (tables(all_prompts_PxLx[:X]) if population else None)


def epig_pool(key, explorer: Explorer, prompts_BxLx, log_p_MxBxN, p: StrategyParams
              ) -> jax.Array:
  """Epig's candidates, response indices int32[B, C] (C = `pool_size`): each member's `epig_top`
  most probable responses (the best of every member first), then samples of the deployed LM at
  the pool temperature. A candidate that repeats an earlier one is replaced by a uniformly random
  response, so that the pool offers different responses where it can (members mostly share their
  favourites, and a peaked LM's samples repeat them)."""
  M, B, N = log_p_MxBxN.shape
  key_samples, key_uniform = jax.random.split(key)
  top = min(p.epig_top, N)
  num_top = min(M * top, p.pool_size)
  parts = []
  if num_top:
    _, top_MxBxT = jax.lax.top_k(log_p_MxBxN, top)
    parts.append(jnp.transpose(top_MxBxT, (1, 2, 0)).reshape(B, top * M)[:, :num_top])
  if p.pool_size > num_top:
    samples_BxCxLy = sample_k(key_samples, explorer, prompts_BxLx, p.pool_size - num_top,
                              p.hparams['pool_temperature'])
    parts.append(world_lib.sequence_index(samples_BxCxLy, explorer.vocab_size))
  pool_BxC = jnp.concatenate(parts, axis=1).astype(jnp.int32)
  uniform_BxC = jax.random.randint(key_uniform, (B, p.pool_size), 0, N, dtype=jnp.int32)
  return jnp.where(epig_lib.repeats(pool_BxC), uniform_BxC, pool_BxC)


def epig_candidates(key_pool, explorer: Explorer, prompts_BxLx, p: StrategyParams,
                    population: bool, with_tuples: bool = True):
  """What `epig` and `epig_random` choose from: the members' tables (`member_tables`), row b's C
  candidates (`epig_pool`) and, `with_tuples`, every K-tuple of them and which may be shown.

  Returns (query_MxBxN, target_MxXxN or None, pool_BxC, tuples_UxK, showable_BxU), the last two
  None without tuples (a greedy search needs none: `lmrl.epig.showable_candidates`).
  """
  query_MxBxN, target_MxXxN = member_tables(explorer, prompts_BxLx, p.num_target_prompts,
                                            population)
  pool_BxC = epig_pool(key_pool, explorer, prompts_BxLx, query_MxBxN, p)
  if not with_tuples:
    return query_MxBxN, target_MxXxN, pool_BxC, None, None
  tuples_UxK = jnp.asarray(tuples(p.pool_size, p.num_shown))
  return (query_MxBxN, target_MxXxN, pool_BxC, tuples_UxK,
          epig_lib.showable_tuples(pool_BxC, tuples_UxK))


def sampled_pool(key, explorer: Explorer, prompts_BxLx, p: StrategyParams) -> jax.Array:
  """Epig's candidates without the members' tables, responses int32[B, C, Ly]: each member's
  greedy response (`epig_top` 1; 0: none) in place of its most probable one, then samples of the
  deployed LM at the pool temperature; a candidate that repeats an earlier one is replaced by a
  uniformly random response (as `epig_pool` does)."""
  key_top, key_samples, key_uniform = jax.random.split(key, 3)
  B, C = prompts_BxLx.shape[0], p.pool_size
  parts = []
  if p.epig_top:
    top_BxMxLy = explorer.sample_members(key_top, prompts_BxLx, 1, 0.0)[:, :, 0]
    parts.append(top_BxMxLy[:, :C])
  num_top = parts[0].shape[1] if parts else 0
  if C > num_top:
    parts.append(sample_k(key_samples, explorer, prompts_BxLx, C - num_top,
                          p.hparams['pool_temperature']))
  pool_BxCxLy = jnp.concatenate(parts, axis=1).astype(jnp.int32)
  uniform_BxCxLy = jax.random.randint(key_uniform, pool_BxCxLy.shape, 0, explorer.vocab_size,
                                      dtype=jnp.int32)
  return jnp.where(epig_lib.repeats(pool_BxCxLy)[:, :, None], uniform_BxCxLy, pool_BxCxLy)


def _tuple_search(pool_BxC, p: StrategyParams, tuples_UxK=None, showable_BxU=None
                  ) -> epig_lib.TupleSearch:
  """`epig.select_queries`' search over a pool (response indices or tokens): growing tuples
  greedily from its showable candidates, or the best of every K-tuple (built here if not given)."""
  if p.epig_tuples == 'greedy':
    return epig_lib.TupleSearch(valid_BxC=epig_lib.showable_candidates(pool_BxC, p.num_shown))
  if tuples_UxK is None:
    tuples_UxK = jnp.asarray(tuples(p.pool_size, p.num_shown))
    showable_BxU = epig_lib.showable_tuples(pool_BxC, tuples_UxK)
  return epig_lib.TupleSearch(tuples_UxK=tuples_UxK, valid_BxU=showable_BxU)


def _batch_groups(prompts_BxLx, p: StrategyParams) -> jax.Array | None:
  """`epig.select_queries`' `group_B`: None (the whole round, 'round') or the queries' prompts."""
  return epig_lib.batch_groups(prompts_BxLx) if p.epig_batch == 'prompt' else None


def pool_utilities(query_MxBxN: jax.Array, pool_BxC: jax.Array) -> jax.Array:
  """Each member's Luce log-utility of each query's candidates, float32[B, M, C], read from the
  members' tables (`member_tables`) at the pool's responses (`epig_pool`)."""
  return jnp.take_along_axis(jnp.swapaxes(query_MxBxN, 0, 1), pool_BxC[:, None, :], axis=-1)


def epig_targets(query_MxBxN: jax.Array, target_MxXxN: jax.Array | None, p: StrategyParams
                 ) -> Callable:
  """`epig.select_queries`' `targets_fn(key, b)`: Y over query b's prompt ('prompt') or every
  evaluation prompt ('population', `target_MxXxN`), exactly or from `epig_samples` draws per
  member."""
  def targets_fn(key_t, b):
    table_MxXxN = (target_MxXxN if p.epig_target == 'population'
                   else query_MxBxN[:, b][:, None])
    if p.epig_samples:
      return epig_lib.sampled_targets(key_t, table_MxXxN, p.epig_samples)
    return epig_lib.exact_targets(table_MxXxN)
  return targets_fn


def epig_select(key, query_MxBxN, target_MxXxN, pool_BxC, tuples_UxK, showable_BxU,
                prompts_BxLx, p: StrategyParams) -> tuple[jax.Array, jax.Array]:
  """`epig`'s selection from its candidates (`epig_candidates`' outputs; the tuples None for a
  greedy search; `prompts_BxLx` read only with `epig_batch='prompt'`): the chosen candidate
  positions int32[B, K] and their scores float32[B] (`epig.select_queries`)."""
  return epig_lib.select_queries(key, pool_utilities(query_MxBxN, pool_BxC), p.num_shown,
                                 epig_targets(query_MxBxN, target_MxXxN, p), p.full_ranking,
                                 _tuple_search(pool_BxC, p, tuples_UxK, showable_BxU),
                                 _batch_groups(prompts_BxLx, p))


def _epig_without_tables(key_pool, key_select, explorer: Explorer, prompts_BxLx,
                         p: StrategyParams) -> jax.Array:
  """`epig` from draws instead of tables: the pool (`sampled_pool`) and `epig_samples` draws of
  Y from each member for every query, all scored by every member in one `utilities` call (the
  joint agent's: exact `log p_m(y|x)`), Y's targets `epig.member_sample_targets`. The cost is the
  draws' (`B M S` responses) and scores' (`M B (C + M S)` sequences), not `M B N`."""
  B, C, S = prompts_BxLx.shape[0], p.pool_size, p.epig_samples
  pool_BxCxLy = sampled_pool(key_pool, explorer, prompts_BxLx, p)
  draws_BxMxSxLy = explorer.sample_members(jax.random.fold_in(key_select, 1), prompts_BxLx, S,
                                           1.0)
  M = draws_BxMxSxLy.shape[1]
  scored_BxExLy = jnp.concatenate([pool_BxCxLy, draws_BxMxSxLy.reshape(B, M * S, -1)], axis=1)
  log_p_MxBxE = explorer.utilities(prompts_BxLx, scored_BxExLy)
  log_u_BxMxC = jnp.swapaxes(log_p_MxBxE[:, :, :C], 0, 1)
  chosen_BxK, _ = epig_lib.select_queries(
      key_select, log_u_BxMxC, p.num_shown,
      lambda key_t, b: epig_lib.member_sample_targets(log_p_MxBxE[:, b, C:], S),
      p.full_ranking, _tuple_search(pool_BxCxLy, p), _batch_groups(prompts_BxLx, p))
  return jnp.take_along_axis(pool_BxCxLy, chosen_BxK[:, :, None], axis=1)


def epig(key, explorer: Explorer, prompts_BxLx, p: StrategyParams):
  """The round's queries chosen one after another by `I(Y; C)` given the earlier ones
  (`lmrl.epig`): Y over the query's prompt ('prompt') or every evaluation prompt ('population'),
  exactly or from `epig_samples` draws per member; C the whole ranking or the first choice; the
  best of every K-tuple of the pool, or a tuple grown one slot at a time (`epig_tuples`)."""
  if p.epig_target not in epig_lib.TARGETS:
    raise ValueError(f'config.experiment.epig_target must be one of {epig_lib.TARGETS}, '
                     f'got {p.epig_target!r}')
  if p.epig_tuples not in epig_lib.TUPLE_SEARCHES:
    raise ValueError(f'config.experiment.epig_tuples must be one of {epig_lib.TUPLE_SEARCHES}, '
                     f'got {p.epig_tuples!r}')
  if p.epig_batch not in epig_lib.BATCHES:
    raise ValueError(f'config.experiment.epig_batch must be one of {epig_lib.BATCHES}, '
                     f'got {p.epig_batch!r}')
  key_pool, key_select = jax.random.split(key)
  population = p.epig_target == 'population'
  greedy = p.epig_tuples == 'greedy'
  if not p.epig_tables:
    if explorer.sample_members is None or population or not p.epig_samples:
      raise ValueError('epig without tables (config.experiment.epig_tables=False) needs the '
                       "joint agent, epig_target='prompt' and epig_samples >= 1")
    return _epig_without_tables(key_pool, key_select, explorer, prompts_BxLx, p)
  query_MxBxN, target_MxXxN, pool_BxC, tuples_UxK, showable_BxU = epig_candidates(
      key_pool, explorer, prompts_BxLx, p, population, with_tuples=not greedy)
  chosen_BxK, _ = epig_select(key_select, query_MxBxN, target_MxXxN, pool_BxC, tuples_UxK,
                              showable_BxU, prompts_BxLx, p)
  return response_tokens(explorer, jnp.take_along_axis(pool_BxC, chosen_BxK, axis=1))


def epig_random(key, explorer: Explorer, prompts_BxLx, p: StrategyParams):
  """Epig's control: the same candidate pool (`epig_pool`, from the same half of the key), then a
  uniformly random tuple of it showing K different responses (any tuple where the pool has fewer
  than K). Beside `epig` it separates what the score buys from what the pool does."""
  key_pool, key_tuple = jax.random.split(key)
  if not p.epig_tables:  # Epig's pool without tables (`sampled_pool`), tokens.
    pool_BxCxLy = sampled_pool(key_pool, explorer, prompts_BxLx, p)
    tuples_UxK = jnp.asarray(tuples(p.pool_size, p.num_shown))
    showable_BxU = epig_lib.showable_tuples(pool_BxCxLy, tuples_UxK)
    chosen_B = jax.random.categorical(key_tuple, jnp.where(showable_BxU, 0.0, -jnp.inf))
    return jnp.take_along_axis(pool_BxCxLy, tuples_UxK[chosen_B][:, :, None], axis=1)
  _, _, pool_BxC, tuples_UxK, showable_BxU = epig_candidates(key_pool, explorer, prompts_BxLx,
                                                             p, population=False)
  chosen_B = jax.random.categorical(key_tuple, jnp.where(showable_BxU, 0.0, -jnp.inf))
  return response_tokens(explorer, jnp.take_along_axis(pool_BxC, tuples_UxK[chosen_B], axis=1))


ORACLE_POWER = 0.5  # The oracle shows draws from p*(.|x)^ORACLE_POWER, normalised.


def oracle(key, explorer: Explorer, prompts_BxLx, p: StrategyParams):
  """Knows p*: K responses drawn from `p*(.|x)^(1/2)` normalised, without replacement (Gumbel
  top-K; with replacement if there are fewer than K responses). A ceiling, not a learner."""
  if p.log_pstar is None:
    raise ValueError('the oracle strategy needs p*: StrategyParams.log_pstar '
                     '(lmrl.loop.strategy_params(config, hparams, log_pstar=...))')
  log_w_BxN = ORACLE_POWER * p.log_pstar(prompts_BxLx)
  B, N = log_w_BxN.shape
  if p.num_shown <= N:
    _, shown_BxK = jax.lax.top_k(log_w_BxN + jax.random.gumbel(key, log_w_BxN.shape),
                                 p.num_shown)
  else:
    shown_BxK = jax.random.categorical(key, log_w_BxN[:, None], shape=(B, p.num_shown))
  return response_tokens(explorer, shown_BxK)


def response_tokens(explorer: Explorer, index_BxK: jax.Array) -> jax.Array:
  """Tokens of responses given by index (`world.sequence_index`), int32[B, K, Ly]."""
  return jnp.asarray(world_lib.enumerate_sequences(explorer.vocab_size,
                                                   explorer.response_length))[index_BxK]


STRATEGIES: dict[str, Callable] = {
    'passive': passive,
    'uniform': uniform,
    'boltzmann': boltzmann,
    'thompson': thompson,
    'infomax': infomax,
    'epig': epig,
    'epig_random': epig_random,
    'oracle': oracle,
}


# The strategies that build the members' exact tables each round (`member_tables`: the checks
# count their memory, `checks.epig_table_bytes`) and score or draw epig's tuples.
TABLE_STRATEGIES = ('epig', 'epig_random')


def get_strategy(name: str) -> Callable:
  if name not in STRATEGIES:
    raise ValueError(f'unknown strategy {name!r}; known: {", ".join(STRATEGIES)}')
  return STRATEGIES[name]
