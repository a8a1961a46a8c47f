"""The experiment loop, compiled: rounds of {prompts, queries, human choices, learning, metrics}.

`make_experiment(config, spec, agent, strategy_names)` returns pure functions of one seed:

  init(key, base_params, world, hparams=None) -> RunState   hparams: the traced values by name
                                                           (`lmrl.hyperparams`; None: config's)
  run_rounds(key, state, world, round_R, strategy) -> (state, metrics with leading axis R)
  evaluate(state, world) -> metrics
  one_round(key, state, world, r, strategy) -> (state, metrics)   the body of run_rounds' scan

and what the binaries and the summary need to know about it: the strategy names (`strategy` is
an index into them), `evaluated_rounds`, the evaluation prompts and `target_coverage(world)`.

A round `r` (0-based): draw B prompts from rho, choose K responses each with the strategy (the
`oracle` control is handed `p*` of the world, `strategy_params(..., log_pstar)`), simulate the
humans' choices, append them to the fixed-capacity buffer, take S learning steps,
and at the rounds of the evaluation schedule compute exact metrics; other rounds report NaN.
The schedule (`evaluated_rounds`: 0, the pre-trained LM, then every `eval_every`-th round after
round 0 and the last) is derived once, here.

`run_rounds` is one `lax.scan` over the given rounds, so a whole run, or a chunk of it, is one
compiled function; seeds are vmapped over by `lmrl.sweep`. The strategy is a traced index into a
`lax.switch` over the named strategies, so one compilation serves every strategy of a sweep.
All randomness comes from the seed's key by `fold_in(key, round)`, so a run split into chunks
equals the run in one piece.

Numerical faults: a seed whose learning loss or metrics turn non-finite is marked `failed` from
that round on (a metric, 0 or 1, reported every round). Seeds are independent lanes of a vmap, so
a failed seed never touches the others; `lmrl.rows` and `lmrl.summary` report and exclude it.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lmrl import agent as agent_lib
from lmrl import buffer as buffer_lib
from lmrl import choices
from lmrl import hyperparams
from lmrl import metrics
from lmrl import strategies
from lmrl import world as world_lib


class HeldOut(NamedTuple):
  """Held-out human choices among uniform responses to evaluation prompts (choice log-loss)."""
  eval_position_Q: jax.Array  # Position of each query's prompt among the evaluation prompts.
  response_index_QxK: jax.Array
  chosen_Q: jax.Array


class RunState(NamedTuple):
  agent: Any
  buffer: buffer_lib.ChoiceBuffer
  held_out: HeldOut
  failed: jax.Array  # bool[]: a loss or metric of this seed has been NaN or inf.
  hparams: dict[str, jax.Array]  # float32[] per `lmrl.hyperparams.TRACED` name: their one home.


class Experiment(NamedTuple):
  init: Callable  # (key, base_params, world, hparams=None) -> RunState
  run_rounds: Callable  # (key, state, world, round_R, strategy) -> (state, metrics [R, ...])
  evaluate: Callable  # (state, world) -> metrics
  one_round: Callable  # (key, state, world, r, strategy) -> (state, metrics): the scan's body
  strategies: tuple[str, ...]  # Names; `strategy` arguments are int32 indices into them.
  evaluated_rounds: tuple[int, ...]  # Rounds with exact metrics (0 = the pre-trained LM).
  eval_prompt_index_P: jax.Array  # int32[P]: the evaluation prompts.
  target_coverage: Callable  # world -> float32[G]: what p* gives each group's favourites.


def eval_prompt_index(config, spec: world_lib.WorldSpec) -> jax.Array:
  """The fixed evaluation prompts: the first `num_eval_prompts` (0 = all), int32[P]."""
  n = config.world.num_eval_prompts or spec.num_prompts
  return jnp.arange(n, dtype=jnp.int32)


def evaluated_rounds(config) -> tuple[int, ...]:
  """Rounds with exact metrics: 0 (the pre-trained LM), every `eval_every`-th, and the last.

  Round r here counts the rounds done: metrics of round r are taken after r rounds of queries.
  """
  e = config.experiment
  return tuple(sorted({0, e.rounds, *range(e.eval_every, e.rounds + 1, e.eval_every)}))


def is_evaluated_round(config, r: int) -> bool:
  """Round r is one of `evaluated_rounds(config)`, found without listing them (the config
  checks ask it of experiment.refit_rounds, where experiment.rounds may be up to int32's max)."""
  e = config.experiment
  return r in (0, e.rounds) or (0 < r <= e.rounds and r % e.eval_every == 0)


def all_finite(tree) -> jax.Array:
  """bool[]: every float in `tree` is finite."""
  leaves = [x for x in jax.tree_util.tree_leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves] + [jnp.asarray(True)]))


def strategy_params(config, hparams: dict, log_pstar=None) -> strategies.StrategyParams:
  """The strategies' parameters: the config's static ones and the traced `hparams`.

  `log_pstar`: `(prompts_BxLx) -> log p*(y|x)` float32[B, N], the oracle's knowledge of the world
  (`one_round` gives it; without it the oracle strategy refuses to run).
  """
  e = config.experiment
  return strategies.StrategyParams(num_shown=e.responses_per_prompt, pool_size=e.pool_size,
                                   info_units=e.info_units, hparams=hparams,
                                   full_ranking=config.world.full_ranking,
                                   epig_target=e.epig_target, epig_samples=e.epig_samples,
                                   epig_top=e.epig_top, epig_tuples=e.epig_tuples,
                                   epig_batch=e.epig_batch,
                                   epig_tables=e.epig_tables,
                                   num_target_prompts=config.world.num_eval_prompts,
                                   log_pstar=log_pstar)


def make_experiment(config, spec: world_lib.WorldSpec, agent: agent_lib.Agent,
                    strategy_names: tuple[str, ...] | None = None) -> Experiment:
  """The experiment of `config` for `agent`, over `strategy_names` (default: the config's)."""
  e = config.experiment
  B, K, T = e.prompts_per_round, e.responses_per_prompt, e.rounds
  names = tuple(strategy_names or e.strategies)
  branches = [strategies.get_strategy(name) for name in names]
  schedule = evaluated_rounds(config)
  evaluated_after_round_T = np.isin(np.arange(1, T + 1), schedule)  # Static: after round r.
  eval_index_P = eval_prompt_index(config, spec)
  eval_prompts_PxLx = world_lib.prompt_tokens(eval_index_P, spec)

  def init(key, base_params, world, hparams=None) -> RunState:
    hparams = hyperparams.as_arrays(hparams or hyperparams.values(config))
    key_agent, key_x, key_y, key_c = jax.random.split(key, 4)
    Q = e.num_held_out
    eval_position_Q = jax.random.randint(key_x, (Q,), 0, eval_index_P.shape[0])
    prompt_index_Q = eval_index_P[eval_position_Q]
    responses_QxKxLy = jax.random.randint(key_y, (Q, K, spec.response_length), 0,
                                          spec.vocab_size, dtype=jnp.int32)
    ranking_QxK = choices.simulate_rankings(key_c, world, spec, prompt_index_Q,
                                            responses_QxKxLy, iia=config.world.iia)
    held_out = HeldOut(eval_position_Q,
                       world_lib.sequence_index(responses_QxKxLy, spec.vocab_size),
                       ranking_QxK[:, 0])
    buffer = buffer_lib.empty(T * B, spec.prompt_length, K, spec.response_length,
                              agent.num_members)
    return RunState(agent.init(key_agent, base_params, hparams), buffer, held_out,
                    failed=jnp.zeros((), bool), hparams=hparams)

  num_prompts = spec.vocab_size ** spec.prompt_length
  # Position of each prompt among the evaluation prompts; P (dropped by scatters) if not one.
  eval_position_of_prompt = np.full(num_prompts, eval_index_P.shape[0], np.int32)
  eval_position_of_prompt[np.asarray(eval_index_P)] = np.arange(eval_index_P.shape[0])

  def shown_mask(buffer: buffer_lib.ChoiceBuffer) -> jax.Array:
    """bool[P, N]: evaluation prompt p's response n was shown in a buffered query."""
    position_H = jnp.asarray(eval_position_of_prompt)[
        world_lib.sequence_index(buffer.prompts_HxLx, spec.vocab_size)]
    position_H = jnp.where(buffer.valid_H, position_H, eval_index_P.shape[0])
    response_HxK = world_lib.sequence_index(buffer.responses_HxKxLy, spec.vocab_size)
    shown_PxN = jnp.zeros((eval_index_P.shape[0], spec.vocab_size ** spec.response_length), bool)
    return shown_PxN.at[position_H[:, None], response_HxK].set(True, mode='drop')

  def evaluate(state: RunState, world) -> dict[str, jax.Array]:
    log_p_PxN, log_p_MxPxN = agent.exact_log_probs(state.agent, eval_prompts_PxLx)
    h = state.held_out
    out = {
        **metrics.distribution_metrics(log_p_PxN, world, eval_index_P),
        'choice_loss': metrics.choice_log_loss(log_p_PxN, h.eval_position_Q,
                                               h.response_index_QxK, h.chosen_Q),
        'spread': metrics.epistemic_spread(log_p_MxPxN),
        'predicted_kl': metrics.predicted_kl(log_p_MxPxN, log_p_PxN),
        'spread_error_corr': metrics.uncertainty_error_correlation(
            log_p_MxPxN, log_p_PxN, world.log_pstar_PxN[eval_index_P]),
    }
    failed = state.failed | ~all_finite(out)
    # Not part of the fault check: NaN by definition while nothing (or everything) was shown.
    out['disagreement_shown'], out['disagreement_unshown'] = metrics.disagreement_shown_unshown(
        log_p_MxPxN, shown_mask(state.buffer))
    return {**out, 'failed': failed.astype(jnp.float32)}

  def one_round(key, state: RunState, world, r, strategy):
    key = jax.random.fold_in(key, r)
    key_x, key_s, key_c, key_b, key_l = jax.random.split(key, 5)
    prompt_index_B = world_lib.sample_prompts(key_x, world, B)
    prompts_BxLx = world_lib.prompt_tokens(prompt_index_B, spec)
    explorer = agent.explorer(state.agent, state.hparams)
    s_params = strategy_params(config, state.hparams, log_pstar=lambda prompts: (
        world.log_pstar_PxN[world_lib.sequence_index(prompts, spec.vocab_size)]))
    responses_BxKxLy = jax.lax.switch(
        strategy, [lambda k, p, f=f: f(k, explorer, p, s_params) for f in branches], key_s,
        prompts_BxLx)
    ranking_BxK = choices.simulate_rankings(key_c, world, spec, prompt_index_B,
                                            responses_BxKxLy, iia=config.world.iia)
    weights_BxM = buffer_lib.bootstrap_weights(key_b, (B, agent.num_members),
                                               config.agent.bootstrap)
    buffer = buffer_lib.append(state.buffer, prompts_BxLx, responses_BxKxLy, ranking_BxK,
                               weights_BxM)
    agent_state, info = agent.learn(key_l, state.agent, buffer, world, state.hparams)
    state = state._replace(agent=agent_state, buffer=buffer,
                           failed=state.failed | ~all_finite(info))
    nan_metrics = jax.tree_util.tree_map(lambda x: jnp.full(x.shape, jnp.nan, x.dtype),
                                         jax.eval_shape(evaluate, state, world))
    due = jnp.asarray(evaluated_after_round_T)[r]
    metrics_now = jax.lax.cond(due, lambda: evaluate(state, world), lambda: nan_metrics)
    failed = state.failed | (metrics_now['failed'] > 0)
    return state._replace(failed=failed), {**metrics_now, 'failed': failed.astype(jnp.float32)}

  def run_rounds(key, state: RunState, world, round_R, strategy):
    return jax.lax.scan(lambda s, r: one_round(key, s, world, r, strategy), state, round_R)

  def target_coverage(world):
    return metrics.target_coverage(world, eval_index_P)

  return Experiment(init, run_rounds, evaluate, one_round, names, schedule, eval_index_P,
                    target_coverage)
