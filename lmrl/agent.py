"""Agents as bundles of pure functions, and the joint (LM-as-its-own-reward) agent.

An `Agent` is what the experiment loop needs from a learner, whatever its insides:

  init(key, base_params) -> state               from the pre-trained LM
  explorer(state) -> strategies.Explorer        what exploration strategies may ask of it
  learn(key, state, buffer, world) -> state, info   one round of learning (S update steps)
  exact_log_probs(state, prompts_PxLx) -> (log_p_PxN, log_p_MxPxN)
                                      the deployed LM and each epistemic member, exactly

The joint agent (`make_joint_agent`) is an `EpistemicLM` trained by `update.make_joint_update`:
its members are at once policies and reward models, so `learn` is the whole of fine-tuning. The
classic pipeline (`lmrl.classic`) provides the same bundle with a reward model and a policy.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from lmrl import epistemic
from lmrl import lm as lm_lib
from lmrl import metrics
from lmrl import strategies
from lmrl import update as update_lib
from lmrl import world as world_lib


class Agent(NamedTuple):
  init: Callable[[jax.Array, Any], Any]
  explorer: Callable[[Any], strategies.Explorer]
  learn: Callable
  exact_log_probs: Callable[[Any, jax.Array], tuple[jax.Array, jax.Array]]
  num_members: int  # M: columns of the buffer's bootstrap weights.


def epistemic_explorer(epi: epistemic.EpistemicNet, params: epistemic.EpistemicParams,
                       spec: world_lib.WorldSpec) -> strategies.Explorer:
  """An `Explorer` over an epistemic LM whose mixture is the deployed policy."""

  def sample_rows(key, index_B, prompts_BxLx, temperature):
    """Row b sampled from the LM of index_B[b] with its own key, int32[B, Ly]."""
    return lm_lib.sample_responses(
        jax.random.split(key, prompts_BxLx.shape[0]),
        lambda tokens_BxL: epi.apply_rows(params, index_B, tokens_BxL), prompts_BxLx, spec,
        temperature)

  def sample(key, prompts_BxLx, temperature):
    # Sampling the uniform mixture: a uniformly chosen member per row, then that member's LM.
    key_member, key_tokens = jax.random.split(key)
    member_B = jax.random.randint(key_member, (prompts_BxLx.shape[0],), 0, epi.num_members)
    return sample_rows(key_tokens, params.mixture_index_M[member_B], prompts_BxLx, temperature)

  def sample_thompson(key, prompts_BxLx, num):
    B = prompts_BxLx.shape[0]
    key_index, key_tokens = jax.random.split(key)
    index_Bxn = jax.vmap(lambda k: epi.sample_indices(k, num))(jax.random.split(key_index, B))
    index_E = index_Bxn.reshape((B * num,) + index_Bxn.shape[2:])
    prompts_ExLx = jnp.repeat(prompts_BxLx, num, axis=0)
    return sample_rows(key_tokens, index_E, prompts_ExLx, 1.0).reshape(B, num, -1)

  def utilities(prompts_BxLx, responses_BxCxLy):
    return lm_lib.shown_log_probs(epistemic.mixture_logits_fn(epi, params), prompts_BxLx,
                                  responses_BxCxLy, spec)

  return strategies.Explorer(sample, sample_thompson, utilities, spec.vocab_size,
                             spec.response_length)


def make_joint_agent(config, spec: world_lib.WorldSpec, lm_spec: lm_lib.LMSpec) -> Agent:
  """The LM is policy, reward and transition; `learn` takes S joint-update steps."""
  epi = epistemic.make_epistemic_lm(config.agent, lm_spec)
  update = update_lib.make_joint_update(
      epi, spec, full_ranking=config.world.full_ranking, batch_size=config.finetune.batch_size,
      lm_batch_size=config.finetune.lm_batch_size, lm_loss_tokens=config.finetune.lm_loss_tokens,
      corpus_group_mix=tuple(config.world.corpus_group_mix))
  steps = config.finetune.steps_per_round

  def init(key, base_params):
    return update_lib.init_agent_state(
        key, epi, base_params, prior_scale=config.agent.prior_scale,
        learning_rate=config.finetune.learning_rate, lambda_lm=config.finetune.lambda_lm,
        lambda_l2=config.finetune.lambda_l2, l2_prior_choices=config.finetune.l2_prior_choices)

  def learn(key, state, buffer, world):
    def step(state, i):
      return update(jax.random.fold_in(key, i), state, buffer, world)
    state, info = jax.lax.scan(step, state, jnp.arange(steps))
    return state, jax.tree_util.tree_map(lambda x: x[-1], info)

  def exact_log_probs(state, prompts_PxLx):
    log_p_MxPxN = epistemic.member_exact_log_probs(epi, state.params, prompts_PxLx, spec)
    return metrics.mixture_log_probs(log_p_MxPxN), log_p_MxPxN

  return Agent(init, lambda state: epistemic_explorer(epi, state.params, spec), learn,
               exact_log_probs, epi.num_members)
