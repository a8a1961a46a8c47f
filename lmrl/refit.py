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

The refit's choice loss is returned per step, so a test (and a reader) can see that it stopped
falling: it is a fit to convergence, not one more run of the online learner. With
`experiment.refit_rounds` set, `lmrl.run` refits every lane's buffer at those rounds after each
strategy's sweep (a `refit_kl` metric column, NaN at other rounds).
"""

from typing import Callable

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


def make_refit(config, spec: world_lib.WorldSpec, lm_spec) -> Callable:
  """`refit(key, base_params, buffer, world, hparams, num_rows) -> (kl, choice_loss_steps)`.

  Fits to the buffer's first `num_rows` rows (traced: one compilation serves every round);
  `kl` is float32[], `choice_loss_steps` float32[refit_steps].
  """
  epi = epistemic.make_epistemic_lm(config.agent, lm_spec)
  step = update_lib.joint_update_from_config(config, epi, spec, rows='all')
  eval_index_P = loop.eval_prompt_index(config, spec)
  eval_prompts_PxLx = world_lib.prompt_tokens(eval_index_P, spec)
  num_steps = config.experiment.refit_steps

  def refit(key, base_params, buffer: buffer_lib.ChoiceBuffer, world, hparams, num_rows):
    key_init, key_fit = jax.random.split(jax.random.fold_in(key, REFIT_STREAM))
    prefix = buffer._replace(valid_H=buffer.valid_H & (jnp.arange(buffer.valid_H.shape[0])
                                                       < num_rows))
    state = update_lib.init_agent_state(key_init, epi, base_params, hparams['prior_scale'])

    def body(state, i):
      state, info = step(jax.random.fold_in(key_fit, i), state, prefix, world, hparams)
      return state, info['choice_loss']

    state, choice_loss_steps = jax.lax.scan(body, state, jnp.arange(num_steps))
    log_p_PxN, _ = agent_lib.deployed_exact_log_probs(epi, state.params, eval_prompts_PxLx, spec,
                                                      config.agent.deploy)
    kl = metrics.distribution_metrics(log_p_PxN, world, eval_index_P)['kl']
    return kl, choice_loss_steps

  return refit


def refit_lanes(config, spec, lm_spec, lanes, buffer_S: buffer_lib.ChoiceBuffer,
                rounds: tuple[int, ...]) -> dict[int, jax.Array]:
  """{round: refit KL float32[S]} of every lane's buffer at each of `rounds` (one compilation).

  `lanes` is the sweep's `sweep.Lanes` (keys, traced hyper-parameters, pre-trained LM, world);
  `buffer_S` the lanes' final buffers, whose first `round * prompts_per_round` rows are round
  `round`'s data.
  """
  w = None if lanes.world_S is None else 0  # Lanes in several worlds: each lane's own.
  refit = jax.jit(jax.vmap(make_refit(config, spec, lm_spec),
                           in_axes=(0, w, 0, w, 0, None)))
  hparams_S = lanes.hparams_S
  B = config.experiment.prompts_per_round
  return {r: refit(lanes.keys_S, lanes.base_params, buffer_S, lanes.world, hparams_S,
                   jnp.int32(r * B))[0] for r in rounds}
