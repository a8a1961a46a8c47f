"""Agents as bundles of pure functions, and the joint (LM-as-its-own-reward) agent.

An `Agent` is what the experiment loop needs from a learner, whatever its insides:

  init(key, base_params, hparams) -> state       from the pre-trained LM
  explorer(state, hparams) -> strategies.Explorer   what exploration strategies may ask of it
  learn(key, state, buffer, world, hparams) -> state, info   one round of learning (S steps)
  exact_log_probs(state, prompts_PxLx) -> (log_p_PxN, log_p_MxPxN)
                                      the deployed LM and each epistemic member, exactly

The joint agent (`make_joint_agent`) is an `EpistemicLM` trained by `update.make_joint_update`:
its members are at once policies and reward models, so `learn` is the whole of fine-tuning: S
steps, or with `finetune.stop` ('newest', 'every_k') at most S, stopped where the loss on
rankings held out of the steps rises (`learn_until_held_out_rises`, `lmrl.update`). The classic pipeline (`lmrl.classic`) provides the same bundle with a reward model and a policy.
`hparams` is the run's pytree of traced hyper-parameters (`lmrl.hyperparams`), which lives in
the run state, not in the agent's.
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
  init: Callable  # (key, base_params, hparams) -> state
  explorer: Callable[[Any, Any], strategies.Explorer]  # (state, hparams) -> Explorer
  learn: Callable  # (key, state, buffer, world, hparams) -> (state, info)
  exact_log_probs: Callable[[Any, jax.Array], tuple[jax.Array, jax.Array]]
  num_members: int  # M: columns of the buffer's bootstrap weights.


def balanced_members(key: jax.Array, num_rows: int, num_members: int) -> jax.Array:
  """A random member per row, each member exactly equally often, int32[P].

  The rows are padded to P = M * ceil(num_rows / M); row r's member is uniform over the M
  members (as for an independent draw), but the draws are stratified rather than independent,
  so that every member samples one block of P / M rows (`EpistemicNet.apply_blocks`).
  """
  rows_per_member = -(-num_rows // num_members)
  return jax.random.permutation(
      key, jnp.arange(num_members * rows_per_member, dtype=jnp.int32) // rows_per_member)


def _pad_rows(x: jax.Array, num_rows: int) -> jax.Array:
  return jnp.pad(x, [(0, num_rows - x.shape[0])] + [(0, 0)] * (x.ndim - 1))


def deployed_exact_log_probs(epi: epistemic.EpistemicNet, params: epistemic.EpistemicParams,
                             prompts_PxLx: jax.Array, spec: world_lib.WorldSpec, deploy: str
                             ) -> tuple[jax.Array, jax.Array]:
  """The deployed LM's exact `log p(y|x)` float32[P, N] and every member's, float32[M, P, N].

  One pass of the members over the enumerated prefixes serves both: with 'mean_logits' the
  members' mean logits ride along as an extra leading row.
  """
  if deploy == 'mixture':
    log_p_MxPxN = epistemic.member_exact_log_probs(epi, params, prompts_PxLx, spec)
    return metrics.mixture_log_probs(log_p_MxPxN), log_p_MxPxN
  if deploy != 'mean_logits':
    raise ValueError(f'config.agent.deploy must be one of {epistemic.DEPLOY_KINDS}, '
                     f'got {deploy!r}')

  def logits_fn(tokens_ExL):
    logits_MxExLxV = epistemic.mixture_logits_fn(epi, params)(tokens_ExL)
    return jnp.concatenate([logits_MxExLxV, jnp.mean(logits_MxExLxV, 0, keepdims=True)], 0)

  log_p_M1xPxN = lm_lib.exact_log_probs(logits_fn, prompts_PxLx, spec)
  return log_p_M1xPxN[-1], log_p_M1xPxN[:-1]


def epistemic_explorer(epi: epistemic.EpistemicNet, params: epistemic.EpistemicParams,
                       spec: world_lib.WorldSpec, deploy: str = 'mixture'
                       ) -> strategies.Explorer:
  """An `Explorer` over an epistemic LM whose deployed LM (`deploy`) is the policy.

  Sampling the mixture groups rows by mixture member (`balanced_members`): each member's network
  runs on its own block of rows only, so a sample costs one network evaluation per row, not M.
  Sampling the mean-logits LM needs every member on every row (M evaluations per row).
  `member_log_probs` gives the M mixture members' exact tables (epig's members, whose mixture
  is its `p_bar` whatever `deploy` is).
  """
  M = epi.num_members

  def sample_by_member(key, member_E, prompts_ExLx, temperature):
    """Row e sampled from mixture member member_E[e] with its own key, int32[E, Ly].

    Every member must appear exactly E / M times in `member_E`.
    """
    E = prompts_ExLx.shape[0]
    order_E = jnp.argsort(member_E, stable=True)  # Rows of member 0, then of member 1, ...

    def logits_fn(tokens_ExL):
      logits_MxRx = epi.apply_blocks(params, tokens_ExL.reshape((M, E // M, -1)))
      return logits_MxRx.reshape((E,) + logits_MxRx.shape[2:])

    sorted_ExLy = lm_lib.sample_responses(jax.random.split(key, E), logits_fn,
                                          prompts_ExLx[order_E], spec, temperature)
    return jnp.zeros_like(sorted_ExLy).at[order_E].set(sorted_ExLy)

  def sample(key, prompts_BxLx, temperature):
    B = prompts_BxLx.shape[0]
    if deploy == 'mean_logits':
      return lm_lib.sample_responses(jax.random.split(key, B),
                                     epistemic.mean_logits_fn(epi, params), prompts_BxLx, spec,
                                     temperature)
    # Sampling the uniform mixture: a uniformly chosen member per row, then that member's LM.
    key_member, key_tokens = jax.random.split(key)
    member_P = balanced_members(key_member, B, M)
    return sample_by_member(key_tokens, member_P, _pad_rows(prompts_BxLx, member_P.shape[0]),
                            temperature)[:B]

  def sample_thompson(key, prompts_BxLx, num):
    B = prompts_BxLx.shape[0]
    key_index, key_order, key_tokens = jax.random.split(key, 3)
    if epi.members_are_indices:
      # Row b shows members sigma(s_b), sigma(s_b + 1), ... (mod M): per row a uniformly random
      # ordered draw of distinct members (as `sample_indices`), and for each of the `num`
      # responses every member samples the same number of rows.
      slot_P = balanced_members(key_index, B, M)
      sigma_M = jax.random.permutation(key_order, M)
      member_PxN = sigma_M[(slot_P[:, None] + jnp.arange(num)) % M]
      P = slot_P.shape[0]
      prompts_ExLx = jnp.repeat(_pad_rows(prompts_BxLx, P), num, axis=0)
      responses_ExLy = sample_by_member(key_tokens, member_PxN.reshape(-1), prompts_ExLx, 1.0)
      return responses_ExLy.reshape(P, num, -1)[:B]
    # Fresh indices (the epinet's z): each row is evaluated at its own index.
    index_Bxn = jax.vmap(lambda k: epi.sample_indices(k, num))(jax.random.split(key_index, B))
    index_E = index_Bxn.reshape((B * num,) + index_Bxn.shape[2:])
    return lm_lib.sample_responses(
        jax.random.split(key_tokens, B * num),
        lambda tokens_ExL: epi.apply_rows(params, index_E, tokens_ExL),
        jnp.repeat(prompts_BxLx, num, axis=0), spec, 1.0).reshape(B, num, -1)

  def utilities(prompts_BxLx, responses_BxCxLy):
    return lm_lib.shown_log_probs(epistemic.mixture_logits_fn(epi, params), prompts_BxLx,
                                  responses_BxCxLy, spec)

  def member_log_probs(prompts_PxLx):
    return epistemic.member_exact_log_probs(epi, params, prompts_PxLx, spec)

  def sample_members(key, prompts_BxLx, num, temperature):
    # Row (b, m, s): prompt b, mixture member m; every member samples its own block of rows.
    B = prompts_BxLx.shape[0]
    member_E = jnp.tile(jnp.repeat(jnp.arange(M, dtype=jnp.int32), num), B)
    prompts_ExLx = jnp.repeat(prompts_BxLx, M * num, axis=0)
    return sample_by_member(key, member_E, prompts_ExLx, temperature).reshape(B, M, num, -1)

  return strategies.Explorer(sample, sample_thompson, utilities, member_log_probs,
                             spec.vocab_size, spec.response_length, sample_members)


def learn_until_held_out_rises(step: Callable, state, steps: int):
  """Up to `steps` steps of `step(state, i) -> (state, info)`, stopping where the held-out loss
  (`info['held_out_loss']`: of rankings the step does not fit) rises.

  Step i computes the held-out loss of the state it starts from; if that is above the loss of
  the state before it, step i - 1 is undone and the round's remaining steps are skipped. The
  last step's result is not checked (that would cost one more pass through the tables): a round
  that never stopped keeps it. The whole state (parameters, optimiser moments, average) is put
  back together. The steps are a scan of fixed length (under `vmap` every lane pays for `steps`,
  and the carry holds a second state); `info` is the last step's, with `steps_taken` (int32[])
  the steps kept.
  """
  def one(carry, i):
    state, before, loss_before, stopped = carry
    after, info = step(state, i)
    rose = info['held_out_loss'] > loss_before
    stop_now = ~stopped & rose
    keep = lambda a, b, c: jax.tree_util.tree_map(
        lambda x, y, z: jnp.where(stop_now, x, jnp.where(stopped, y, z)), a, b, c)
    # Stopping now: go back to `before` (the state of the lower loss); stopped: stay; else step.
    new_state = keep(before, state, after)
    carry = (new_state, state, info['held_out_loss'], stopped | stop_now)
    return carry, (info, ~(stopped | stop_now))
  init = (state, state, jnp.float32(jnp.inf), jnp.bool_(False))
  (state, _, _, stopped), (info, took_S) = jax.lax.scan(one, init, jnp.arange(steps))
  info = jax.tree_util.tree_map(lambda x: x[-1], info)
  # A stop at step i undoes step i - 1 too: the steps kept are those taken before it, less one.
  taken = jnp.sum(took_S.astype(jnp.int32)) - stopped.astype(jnp.int32)
  return state, {**info, 'steps_taken': taken}


def make_joint_agent(config, spec: world_lib.WorldSpec, lm_spec: lm_lib.LMSpec) -> Agent:
  """The LM is policy, reward and transition; `learn` takes S joint-update steps (at most S with
  `finetune.stop`)."""
  epi = epistemic.make_epistemic_lm(config.agent, lm_spec)
  update = update_lib.joint_update_from_config(config, epi, spec)
  steps = config.finetune.steps_per_round
  deploy = config.agent.deploy

  def init(key, base_params, hparams):
    return update_lib.init_agent_state(key, epi, base_params, hparams['prior_scale'],
                                       ema=config.finetune.ema_decay > 0)

  def learn(key, state, buffer, world, hparams):
    def step(state, i):
      return update(jax.random.fold_in(key, i), state, buffer, world, hparams)
    if config.finetune.stop != 'none':
      return learn_until_held_out_rises(step, state, steps)
    state, info = jax.lax.scan(step, state, jnp.arange(steps))
    return state, jax.tree_util.tree_map(lambda x: x[-1], info)

  def exact_log_probs(state, prompts_PxLx):
    return deployed_exact_log_probs(epi, update_lib.deployed_params(state), prompts_PxLx, spec,
                                    deploy)

  def explorer(state, hparams):
    del hparams  # The joint agent's explorer reads none (the strategies read theirs).
    return epistemic_explorer(epi, update_lib.deployed_params(state), spec, deploy)

  return Agent(init, explorer, learn, exact_log_probs, epi.num_members)
