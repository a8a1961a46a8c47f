"""The classic RLHF pipeline, as a baseline: a separate reward model, then REINFORCE on a policy.

`make_classic_agent(config, spec, lm_spec)` returns the same `agent.Agent` bundle as the joint
agent, so the same experiment loop, strategies, worlds and metrics compare the two
(`--config.agent.kind=classic` vs `joint`). One round of `learn` is two stages, one compiled
function (two `lax.scan`s, no host syncs):

1. **Reward model.** `r(x, y)`: the LM's transformer trunk (its last block's hidden features at
   the last position of `[BOS, x, y]`) and a scalar head. The trunk starts from the pre-trained
   LM, the head at zero. Fitted with `config.finetune.steps_per_round` Adam steps
   (`finetune.learning_rate`, `finetune.batch_size`) of the same Luce / Plackett-Luce loss as the
   joint update (`update.plackett_luce_nll` on `r` instead of `log p`), plus
   `finetune.lambda_l2 * ||theta - theta_0||^2`. Its epistemic options mirror `lmrl.epistemic`:

   * `ensemble`: `M` reward models, member `m` outputting `r_theta_m + beta * r_prior_m` with a
     frozen random prior reward model (`prior_width` x `prior_depth`, random head), and
     per-member bootstrap weights on the buffer's rows;
   * `epinet`: one reward model plus an `epistemic.EpinetMLP` (one output) on its stop-gradient
     last features and a Gaussian index `z`, plus a frozen prior epinet scaled by beta.

   The deployed reward is the members' mean `r_bar = mean_m r_m`.

2. **Policy.** A plain LM `pi`, starting from the pre-trained LM, takes
   `config.classic.policy_steps_per_round` REINFORCE steps maximising
   `E_pi[r_bar] + alpha * H(pi)` (alpha = `classic.entropy_weight`), whose maximiser is
   `pi(y|x) ~ exp(r_bar(x, y) / alpha)`: with alpha = 1 the same target as the joint update,
   since a Luce reward fitted to choices on `p*` is `log p*(y|x) + c(x)`. Each step draws
   `classic.policy_batch_size` prompts from rho and one whole response each from `pi`, and
   follows the score-function estimate `mean_b (A_b - baseline_b) grad log pi(y_b|x_b)` with
   `A_b = r_bar(x_b, y_b) - alpha * log pi(y_b|x_b)` (unbiased for the gradient of the objective,
   because `E[grad log pi] = 0`). Adam at `classic.policy_learning_rate`.

   The baseline is a leave-one-out mean of `A` over the *other* samples of the batch that share
   the prompt (over all other samples where none does). A reward fitted to choices is identified
   only up to a per-prompt constant `c(x)`, so a batch-mean baseline would leave the differences
   of `c(x)` across prompts in the advantage as pure noise; the per-prompt baseline removes it,
   and at the optimum (`A` constant per prompt) the gradient estimate is exactly zero. Leaving
   the sample itself out keeps the estimate unbiased.

   The policy also takes `finetune.lambda_lm` times the next-token loss on the pre-training
   corpus (`finetune.lm_batch_size` sequences), the same regulariser as the joint update, so the
   two agents' deployed LMs are held to the pre-training data equally.

What the exploration strategies see (`Explorer`):

* `sample`: the policy `pi` at the given temperature (passive, boltzmann, infomax's pool);
* `sample_thompson`: for each of the `K` responses a different sampled reward member `m`; that
  response is the best under `r_m` of its own pool of `experiment.pool_size` samples from `pi`
  (best-of-C under a sampled reward: `pi` is only the proposal, the member picks);
* `utilities`: each member's reward `r_m(x, y)` as its Luce log-utility, so infomax scores
  K-tuples by the reward models' disagreement;
* `member_log_probs`: each member's `log softmax_y r_m(x, y)` over every response (its Luce model
  of the population's favourites; the same choice probabilities as `utilities`), from which
  epig scores what a ranking tells about them.

`exact_log_probs` gives the policy's exact `log pi(y|x)` (the deployed LM, what KL/TV/coverage
measure) and, as the members, each reward member's Boltzmann distribution
`log softmax_y r_m(x, y)` over all responses, so the `spread` metric is reward disagreement.
"""

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from lmrl import agent as agent_lib
from lmrl import buffer as buffer_lib
from lmrl import epistemic
from lmrl import lm as lm_lib
from lmrl import strategies
from lmrl import update as update_lib
from lmrl import world as world_lib

# ----------------------------------------------------------------------------- the reward model


class RewardModel(nn.Module):
  """`tokens_BxL -> (reward_B, features_BxD)`: the LM's trunk and a scalar head on the last token.

  The trunk's parameters sit under `trunk` with exactly the layout of `lm.Transformer`, so the
  pre-trained LM's parameters drop in; its next-token head is computed but unused (and removed
  by XLA as dead code).
  """
  spec: lm_lib.LMSpec
  head_init: Callable = nn.initializers.zeros

  @nn.compact
  def __call__(self, tokens_BxL: jax.Array) -> tuple[jax.Array, jax.Array]:
    _, h_BxLxD = lm_lib.Transformer(self.spec, name='trunk')(tokens_BxL)
    features_BxD = h_BxLxD[:, -1].astype(jnp.float32)
    reward_B = nn.Dense(1, kernel_init=self.head_init, name='head')(features_BxD)[:, 0]
    return reward_B.astype(jnp.float32), features_BxD


def reward_from_lm(lm_params, spec: lm_lib.LMSpec):
  """Reward-model parameters whose trunk is the (pre-trained) LM's and whose head is zero."""
  head = {'kernel': jnp.zeros((spec.width, 1), jnp.float32), 'bias': jnp.zeros((1,), jnp.float32)}
  return {'params': {'trunk': lm_params['params'], 'head': head}}


def reward_network(spec: lm_lib.LMSpec, head_init=nn.initializers.zeros) -> epistemic.Network:
  """The reward model as an `epistemic.Network`: `out` = rewards float32[B], features [B, D]."""
  model = RewardModel(spec, head_init)
  return epistemic.Network(
      lambda key: model.init(key, jnp.zeros((1, spec.sequence_length), jnp.int32)),
      model.apply)


def make_epistemic_reward(agent_config, lm_spec: lm_lib.LMSpec) -> epistemic.EpistemicNet:
  """The epistemic reward model of `config.agent` (`lmrl.epistemic` over `reward_network`).

  Its base parameters are `reward_from_lm(lm_params)`. An ensemble member's prior is a random
  reward model of the prior architecture with a random (lecun-normal) head, so `r_prior` has
  about unit scale per sequence.
  """
  prior = reward_network(epistemic.prior_lm_spec(lm_spec, agent_config),
                         nn.initializers.lecun_normal())
  return epistemic.make_epistemic(agent_config, reward_network(lm_spec), prior, num_outputs=1,
                                  feature_width=lm_spec.width)


def shown_rewards(rew: epistemic.EpistemicNet, params: epistemic.EpistemicParams, index_I,
                  prompts_BxLx: jax.Array, responses_BxKxLy: jax.Array,
                  spec: world_lib.WorldSpec) -> jax.Array:
  """`r_i(x_b, y_bk)` for every index i and `K` responses per prompt, float32[I, B, K]."""
  B, K, _ = responses_BxKxLy.shape
  seqs_BxKxL = lm_lib.responses_with_prompts(prompts_BxLx, responses_BxKxLy, spec)
  r_IxE = rew.apply(params, index_I, seqs_BxKxL.reshape(B * K, -1))
  return r_IxE.reshape(r_IxE.shape[:-1] + (B, K))


def member_boltzmann_log_probs(rew: epistemic.EpistemicNet, params: epistemic.EpistemicParams,
                               prompts_PxLx: jax.Array, spec: world_lib.WorldSpec) -> jax.Array:
  """Each member's `log softmax_y r_m(x, y)` over every response, float32[M, P, N]."""
  P = prompts_PxLx.shape[0]
  responses_NxLy = jnp.asarray(world_lib.all_responses(spec))
  responses_PxNxLy = jnp.broadcast_to(responses_NxLy[None], (P,) + responses_NxLy.shape)
  return jax.nn.log_softmax(shown_rewards(rew, params, params.mixture_index_M, prompts_PxLx,
                                          responses_PxNxLy, spec), axis=-1)


# ----------------------------------------------------------------------------- the agent


class ClassicState(NamedTuple):
  reward: epistemic.EpistemicParams  # Trained members, frozen priors and anchor as data.
  reward_opt: Any  # Adam state of `reward.train` (its learning rate: hparams' `learning_rate`).
  policy: Any  # The policy LM's parameters.
  policy_opt: Any  # Adam state of `policy` (its learning rate: hparams' `policy_learning_rate`).


def leave_one_out_baseline(values_B: jax.Array, group_B: jax.Array) -> jax.Array:
  """Mean of `values` over the other rows of the same group (over all other rows if none)."""
  B = values_B.shape[0]
  same_BxB = (group_B[:, None] == group_B[None, :]) & ~jnp.eye(B, dtype=bool)
  count_B = jnp.sum(same_BxB, axis=1)
  same_mean_B = (same_BxB @ values_B) / jnp.maximum(count_B, 1)
  other_mean_B = (jnp.sum(values_B) - values_B) / max(B - 1, 1)
  return jnp.where(count_B > 0, same_mean_B, other_mean_B)


def make_reward_update(rew: epistemic.EpistemicNet, spec: world_lib.WorldSpec, *, full_ranking: bool,
                       batch_size: int, recent: bool = False) -> Callable:
  """`update(key, state, buffer, hparams) -> (state, info)`: one Adam step of the reward models'
  loss (traced `learning_rate` and `lambda_l2` from `hparams`); with `recent`, half of each batch
  comes from the latest round (`lmrl.buffer.sample_rows`)."""
  optimizer = update_lib.make_optimizer()

  def loss_fn(train, state: ClassicState, key, buffer: buffer_lib.ChoiceBuffer, hparams):
    key_rows, key_index = jax.random.split(key)
    params = state.reward._replace(train=train)
    rows_B = buffer_lib.sample_rows(key_rows, buffer, batch_size, recent=recent)
    prompts_BxLx = buffer.prompts_HxLx[rows_B]
    responses_BxKxLy = buffer.responses_HxKxLy[rows_B]
    ranking_BxK = buffer.ranking_HxK[rows_B]
    if rew.uses_bootstrap:
      weights_MxB = buffer.bootstrap_HxM[rows_B].T
    else:
      weights_MxB = jnp.ones((rew.num_members, batch_size), jnp.float32)

    r_MxBxK = shown_rewards(rew, params, rew.train_indices(key_index, params), prompts_BxLx,
                            responses_BxKxLy, spec)
    nll_MxB = jax.vmap(update_lib.plackett_luce_nll, in_axes=(0, None, None))(
        r_MxBxK, ranking_BxK, full_ranking)
    choice_M = jnp.mean(weights_MxB * nll_MxB, axis=-1)
    l2 = epistemic.anchor_penalty(rew, params, train)
    loss = jnp.mean(choice_M) + hparams['lambda_l2'] * l2
    return loss, {'reward_loss': loss, 'reward_choice_loss': jnp.mean(choice_M),
                  'reward_l2': l2}

  def update(key, state: ClassicState, buffer: buffer_lib.ChoiceBuffer, hparams):
    grads, info = jax.grad(loss_fn, has_aux=True)(state.reward.train, state, key, buffer, hparams)
    reward_opt = update_lib.with_learning_rate(state.reward_opt, hparams['learning_rate'])
    updates, reward_opt = optimizer.update(grads, reward_opt, state.reward.train)
    train = optax.apply_updates(state.reward.train, updates)
    return state._replace(reward=state.reward._replace(train=train), reward_opt=reward_opt), info

  return update


def make_policy_update(rew: epistemic.EpistemicNet, spec: world_lib.WorldSpec,
                       lm_spec: lm_lib.LMSpec, *, batch_size: int, lm_batch_size: int,
                       lm_loss_tokens: str = 'sequence',
                       corpus_group_mix: tuple[float, ...]) -> Callable:
  """`update(key, state, world, hparams) -> (state, info)`: one REINFORCE step on the policy.

  Maximises `E_pi[r_bar] + alpha H(pi)` (+ `lambda_lm` times the corpus next-token loss,
  minimised); see the module docstring for the estimator and its baseline. Traced:
  `policy_learning_rate`, `entropy_weight` (alpha) and `lambda_lm` from `hparams`.
  """
  optimizer = update_lib.make_optimizer()
  group_mix_G = jnp.asarray(corpus_group_mix, jnp.float32)

  def logits_fn(policy):
    return lambda tokens_BxL: lm_lib.lm_logits(policy, tokens_BxL, lm_spec)

  def loss_fn(policy, hparams, seqs_BxL, reward_B, prompt_index_B, corpus_BxL):
    log_pi_B = lm_lib.response_log_probs(logits_fn(policy), seqs_BxL, spec.response_length)
    alpha = hparams['entropy_weight']
    advantage_B = jax.lax.stop_gradient(reward_B - alpha * log_pi_B)
    advantage_B = advantage_B - leave_one_out_baseline(advantage_B, prompt_index_B)
    surrogate = -jnp.mean(advantage_B * log_pi_B)
    lm_loss = lm_lib.next_token_loss(logits_fn(policy), corpus_BxL,
                                     update_lib.lm_loss_num_tokens(lm_loss_tokens, spec))
    loss = surrogate + hparams['lambda_lm'] * lm_loss
    return loss, {'policy_reward': jnp.mean(reward_B),
                  'policy_entropy': -jnp.mean(jax.lax.stop_gradient(log_pi_B)),
                  'policy_lm_loss': lm_loss}

  def update(key, state: ClassicState, world, hparams):
    key_x, key_y, key_corpus = jax.random.split(key, 3)
    prompt_index_B = world_lib.sample_prompts(key_x, world, batch_size)
    prompts_BxLx = world_lib.prompt_tokens(prompt_index_B, spec)
    responses_BxLy = lm_lib.sample_responses(key_y, logits_fn(state.policy), prompts_BxLx, spec)
    seqs_BxL = world_lib.with_bos(jnp.concatenate([prompts_BxLx, responses_BxLy], -1), spec)
    reward_B = jnp.mean(rew.apply(state.reward, state.reward.mixture_index_M, seqs_BxL), axis=0)
    corpus_BxL = world_lib.sample_corpus(key_corpus, world, spec, group_mix_G, lm_batch_size)
    grads, info = jax.grad(loss_fn, has_aux=True)(state.policy, hparams, seqs_BxL, reward_B,
                                                  prompt_index_B, corpus_BxL)
    policy_opt = update_lib.with_learning_rate(state.policy_opt, hparams['policy_learning_rate'])
    updates, policy_opt = optimizer.update(grads, policy_opt, state.policy)
    return state._replace(policy=optax.apply_updates(state.policy, updates),
                          policy_opt=policy_opt), info

  return update


def classic_explorer(rew: epistemic.EpistemicNet, state: ClassicState, spec: world_lib.WorldSpec,
                     lm_spec: lm_lib.LMSpec, pool_size: int) -> strategies.Explorer:
  """The policy samples; the reward members judge (Thompson) and disagree (infomax)."""
  policy_fn = lambda tokens_BxL: lm_lib.lm_logits(state.policy, tokens_BxL, lm_spec)

  def sample(key, prompts_BxLx, temperature):
    return lm_lib.sample_responses(key, policy_fn, prompts_BxLx, spec, temperature)

  def sample_thompson(key, prompts_BxLx, num):
    B, C = prompts_BxLx.shape[0], pool_size
    key_index, key_pool = jax.random.split(key)
    index_Bxn = jax.vmap(lambda k: rew.sample_indices(k, num))(jax.random.split(key_index, B))
    index_E = index_Bxn.reshape((B * num,) + index_Bxn.shape[2:])
    prompts_ExLx = jnp.repeat(prompts_BxLx, num, axis=0)
    pool_ExCxLy = lm_lib.sample_responses(
        key_pool, policy_fn, jnp.repeat(prompts_ExLx, C, axis=0), spec).reshape(B * num, C, -1)

    # Row r's pool is scored by its own member index_E[r] (all E*C sequences in one batch).
    seqs_ExCxL = lm_lib.responses_with_prompts(prompts_ExLx, pool_ExCxLy, spec)
    r_ExC = rew.apply_rows(state.reward, jnp.repeat(index_E, C, axis=0),
                           seqs_ExCxL.reshape(B * num * C, -1)).reshape(B * num, C)
    best_E = jnp.argmax(r_ExC, axis=-1)
    return jnp.take_along_axis(pool_ExCxLy, best_E[:, None, None], axis=1).reshape(B, num, -1)

  def utilities(prompts_BxLx, responses_BxCxLy):
    return shown_rewards(rew, state.reward, state.reward.mixture_index_M, prompts_BxLx,
                         responses_BxCxLy, spec)

  def member_log_probs(prompts_PxLx):
    return member_boltzmann_log_probs(rew, state.reward, prompts_PxLx, spec)

  return strategies.Explorer(sample, sample_thompson, utilities, member_log_probs,
                             spec.vocab_size, spec.response_length)


def make_classic_agent(config, spec: world_lib.WorldSpec, lm_spec: lm_lib.LMSpec
                       ) -> agent_lib.Agent:
  """Reward models fitted to the choices, then REINFORCE on the policy, every round."""
  rew = make_epistemic_reward(config.agent, lm_spec)
  u, k = config.finetune, config.classic
  reward_update = make_reward_update(rew, spec, full_ranking=config.world.full_ranking,
                                     batch_size=u.batch_size,
                                     recent=k.reward_rows == 'recent')
  policy_update = make_policy_update(rew, spec, lm_spec, batch_size=k.policy_batch_size,
                                     lm_batch_size=u.lm_batch_size,
                                     lm_loss_tokens=u.lm_loss_tokens,
                                     corpus_group_mix=tuple(config.world.corpus_group_mix))
  reward_steps, policy_steps = u.steps_per_round, k.policy_steps_per_round
  pool_size = config.experiment.pool_size

  def init(key, base_params, hparams):
    reward = rew.init(key, reward_from_lm(base_params, lm_spec), hparams['prior_scale'])
    optimizer = update_lib.make_optimizer()
    return ClassicState(reward=reward, reward_opt=optimizer.init(reward.train),
                        policy=base_params, policy_opt=optimizer.init(base_params))

  def learn(key, state, buffer, world, hparams):
    key_reward, key_policy = jax.random.split(key)
    state, reward_info = jax.lax.scan(
        lambda s, i: reward_update(jax.random.fold_in(key_reward, i), s, buffer, hparams),
        state, jnp.arange(reward_steps))
    state, policy_info = jax.lax.scan(
        lambda s, i: policy_update(jax.random.fold_in(key_policy, i), s, world, hparams),
        state, jnp.arange(policy_steps))
    return state, jax.tree_util.tree_map(lambda x: x[-1], {**reward_info, **policy_info})

  def exact_log_probs(state, prompts_PxLx):
    log_pi_PxN = lm_lib.exact_log_probs(
        lambda t: lm_lib.lm_logits(state.policy, t, lm_spec), prompts_PxLx, spec)
    return log_pi_PxN, member_boltzmann_log_probs(rew, state.reward, prompts_PxLx, spec)

  def explorer(state, hparams):
    del hparams  # The strategies read their own; the policy and reward models need none.
    return classic_explorer(rew, state, spec, lm_spec, pool_size)

  return agent_lib.Agent(init, explorer, learn, exact_log_probs, rew.num_members)
