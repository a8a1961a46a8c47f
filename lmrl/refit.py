"""The refit reference: what a buffer's data is worth, apart from the learner that collected it.

A strategy is judged by the LM its human choices produce, but that LM is also the online
learner's work: a learner that lags its data (uniform replay leaves the latest rounds nearly
unseen) can decide which strategy looks best. `make_refit` separates the two. For a strategy's
buffer at round r (its first r rounds of rankings), it fits the joint agent afresh, from the
pre-trained LM (theta_0, with priors drawn anew), to those rankings with the exact full-buffer
gradient (`lmrl.update`, rows='all': every ranking every step, no sampling noise) for
`experiment.refit_steps` steps at the run's traced hyper-parameters, and reports the exact
`KL(p*||p)` of the LM the run deploys (`agent.deploy`): the refit KL, which ranks strategies by the data they collected.

  learner_lag = online KL - refit KL      (the online learner's fault; `lmrl.summary.learner_lag`)

**When to stop.** Fitted to convergence, the objective over-fits a small buffer: at 1,280
rankings of the default world a 300-step refit was *worse* than the online LM that collected the
data (experiments/learner/README.md), so "the value of the data" needs a stopping rule that
does not look at p*. With `experiment.refit_holdout_every` = k > 0, a first fit leaves out every
k-th of the buffer's rows and measures the deployed LM's choice loss on them every
`experiment.refit_check_every` steps; the refit then fits every row for the number of steps
whose held-out loss was lowest (k = 0: `refit_steps`, no first fit). The refit thus costs two fits:
the first of `refit_steps` steps, the second of the steps chosen (a loop that stops there; under
`vmap`, the most any lane chose).

Per step, the second fit's choice loss is returned (flat after the chosen step), with the first
fit's held-out losses and the steps chosen, so a test (and a reader) can see that the fit stopped
where the held-out loss did, or converged. With `experiment.refit_rounds` set, `lmrl.run` refits
every lane's buffer at those rounds after each strategy's sweep (the `refit_kl` and `refit_steps`
metric columns, NaN at other rounds).
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from lmrl import agent as agent_lib
from lmrl import buffer as buffer_lib
from lmrl import epistemic
from lmrl import loop
from lmrl import metrics
from lmrl import update as update_lib
from lmrl import world as world_lib

REFIT_STREAM = 0x52454654  # fold_in constant: a lane's refit randomness apart from its run's.


class RefitInfo(NamedTuple):
  """How a refit went: `choice_loss_T` float32[refit_steps] (the fit of every row; constant after
  `steps`), `held_out_loss_C` float32[C] (the first fit's, after every check_every steps; empty
  without a held-out set), `steps` int32[] (the steps fitted)."""
  choice_loss_T: jax.Array
  held_out_loss_C: jax.Array
  steps: jax.Array


def make_refit(config, spec: world_lib.WorldSpec, lm_spec) -> Callable:
  """`refit(key, base_params, buffer, world, hparams, num_rows) -> (kl, RefitInfo)`.

  Fits to the buffer's first `num_rows` rows (traced: one compilation serves every round);
  `kl` is float32[]: the deployed LM's exact `KL(p*||p)` on the evaluation prompts.
  """
  e = config.experiment
  epi = epistemic.make_epistemic_lm(config.agent, lm_spec)
  step = update_lib.joint_update_from_config(config, epi, spec, rows='all',
                                                 hold_out='none')
  eval_index_P = loop.eval_prompt_index(config, spec)
  eval_prompts_PxLx = world_lib.prompt_tokens(eval_index_P, spec)
  all_prompts_PxLx = jnp.asarray(world_lib.all_prompts(spec))
  num_steps, holdout_every, check_every = e.refit_steps, e.refit_holdout_every, e.refit_check_every
  num_checks = num_steps // check_every if holdout_every else 0

  def held_out_loss(params, buffer, held_out_H):
    """The deployed LM's mean Plackett-Luce loss on the held-out rows, float32[]."""
    log_p_PxN, _ = agent_lib.deployed_exact_log_probs(epi, params, all_prompts_PxLx, spec,
                                                      config.agent.deploy)
    nll_H = update_lib.plackett_luce_nll(
        update_lib.table_at_rows(log_p_PxN, buffer, spec.vocab_size), buffer.ranking_HxK,
        config.world.full_ranking)
    return jnp.sum(jnp.where(held_out_H, nll_H, 0.0)) / jnp.maximum(jnp.sum(held_out_H), 1)

  def refit(key, base_params, buffer: buffer_lib.ChoiceBuffer, world, hparams, num_rows):
    key_init, key_fit = jax.random.split(jax.random.fold_in(key, REFIT_STREAM))
    row_H = jnp.arange(buffer.valid_H.shape[0])
    prefix_H = buffer.valid_H & (row_H < num_rows)
    initial = update_lib.init_agent_state(key_init, epi, base_params, hparams['prior_scale'],
                                          ema=config.finetune.ema_decay > 0)

    def fit(state, rows_H, i):
      state, info = step(jax.random.fold_in(key_fit, i), state, buffer._replace(valid_H=rows_H),
                         world, hparams)
      return state, info['choice_loss']

    steps = jnp.int32(num_steps)
    held_out_loss_C = jnp.zeros((0,), jnp.float32)
    if num_checks:  # The first fit: every k-th row held out, its loss after every check.
      held_out_H = prefix_H & (row_H % holdout_every == holdout_every - 1)

      def check(state, c):
        state, _ = jax.lax.scan(lambda s, i: fit(s, prefix_H & ~held_out_H, i), state,
                                c * check_every + jnp.arange(check_every))
        return state, held_out_loss(update_lib.deployed_params(state), buffer, held_out_H)

      _, held_out_loss_C = jax.lax.scan(check, initial, jnp.arange(num_checks))
      steps = jnp.where(jnp.any(held_out_H),  # Too few rows to hold any out: every step.
                        (jnp.argmin(held_out_loss_C).astype(jnp.int32) + 1) * check_every, steps)

    def fit_every_row(carry):  # Steps 0 .. steps-1 only: a loop, not a masked scan of all.
      i, state, loss_T = carry
      state, loss = fit(state, prefix_H, i)
      return i + 1, state, loss_T.at[i].set(loss)

    _, state, loss_T = jax.lax.while_loop(
        lambda carry: carry[0] < steps, fit_every_row,
        (jnp.int32(0), initial, jnp.zeros((num_steps,), jnp.float32)))
    _, fitted_loss = fit(state, prefix_H, steps)  # The loss of the state kept (a step not taken).
    choice_loss_T = jnp.where(jnp.arange(num_steps) < steps, loss_T, fitted_loss)
    log_p_PxN, _ = agent_lib.deployed_exact_log_probs(
        epi, update_lib.deployed_params(state), eval_prompts_PxLx, spec, config.agent.deploy)
    kl = metrics.distribution_metrics(log_p_PxN, world, eval_index_P)['kl']
    return kl, RefitInfo(choice_loss_T, held_out_loss_C, steps)

  return refit


def refit_lanes(config, spec, lm_spec, lanes, buffer_S: buffer_lib.ChoiceBuffer,
                rounds: tuple[int, ...]) -> dict[int, tuple[jax.Array, jax.Array]]:
  """{round: (refit KL float32[S], steps fitted int32[S])} of every lane's buffer at each of
  `rounds` (one compilation).

  `lanes` is the sweep's `sweep.Lanes` (keys, traced hyper-parameters, pre-trained LM, world);
  `buffer_S` the lanes' final buffers, whose first `round * prompts_per_round` rows are round
  `round`'s data.
  """
  w = None if lanes.world_S is None else 0  # Lanes in several worlds: each lane's own.
  refit = jax.jit(jax.vmap(make_refit(config, spec, lm_spec),
                           in_axes=(0, w, 0, w, 0, None)))
  B = config.experiment.prompts_per_round
  out = {}
  for r in rounds:
    kl_S, info = refit(lanes.keys_S, lanes.base_params, buffer_S, lanes.world, lanes.hparams_S,
                       jnp.int32(r * B))
    out[r] = (kl_S, info.steps)
  return out
