"""Pre-training: next-token loss on the (majority-biased) corpus, one compiled `lax.scan`.

`make_pretrain(...)` returns a pure `pretrain(key, world) -> (params, losses_S)`; it is jittable
and vmappable over keys (and worlds).
"""

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from lmrl import lm as lm_lib
from lmrl import metrics
from lmrl import world as world_lib

PRETRAIN_STREAM = 0x5052  # fold_in constant that separates pre-training randomness from runs.
WARMUP_DIVISOR = 20  # Linear warm-up over steps // WARMUP_DIVISOR steps, then cosine decay...
FINAL_LR_FRACTION = 1 / 10  # ...to this fraction of the peak learning rate.


def make_pretrain(spec: world_lib.WorldSpec, lm_spec: lm_lib.LMSpec, *, steps: int,
                  batch_size: int, learning_rate: float, corpus_group_mix: tuple[float, ...]
                  ) -> Callable:
  """Returns `pretrain(key, world) -> (params, loss per step float32[steps])`."""
  optimizer = optax.adam(optax.warmup_cosine_decay_schedule(
      0.0, learning_rate, max(1, steps // WARMUP_DIVISOR), steps,
      learning_rate * FINAL_LR_FRACTION))
  group_mix_G = jnp.asarray(corpus_group_mix, jnp.float32)

  def pretrain(key: jax.Array, world: world_lib.World):
    key_init, key_data = jax.random.split(key)
    params = lm_lib.init_lm(key_init, lm_spec)

    def loss_fn(params, sequences_BxL):
      return lm_lib.next_token_loss(lambda t: lm_lib.lm_logits(params, t, lm_spec),
                                    sequences_BxL)

    def step(carry, i):
      params, opt_state = carry
      batch = world_lib.sample_corpus(jax.random.fold_in(key_data, i), world, spec,
                                      group_mix_G, batch_size)
      loss, grads = jax.value_and_grad(loss_fn)(params, batch)
      updates, opt_state = optimizer.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)),
                                       jnp.arange(steps))
    return params, losses

  return pretrain


# ----------------------------------------------------------------------------- from a config


def pretrain_from_config(config, world: world_lib.World, spec: world_lib.WorldSpec,
                         lm_spec: lm_lib.LMSpec):
  """Pre-trains with `config.pretrain` from the key `fold_in(key(seed), PRETRAIN_STREAM)`.

  With `world.num_worlds` > 1, `world` holds W worlds (leading axis) and each gets its own LM,
  pre-trained from the same key on its own corpus, in one vmapped computation: parameters and
  losses gain a leading axis W.
  """
  pretrain = make_pretrain(
      spec, lm_spec, steps=config.pretrain.steps, batch_size=config.pretrain.batch_size,
      learning_rate=config.pretrain.learning_rate,
      corpus_group_mix=tuple(config.world.corpus_group_mix))
  if config.world.num_worlds > 1:
    pretrain = jax.vmap(pretrain, in_axes=(None, 0))
  return jax.jit(pretrain)(jax.random.fold_in(jax.random.key(config.seed), PRETRAIN_STREAM),
                           world)


def report_worlds(params_W, worlds_W: world_lib.World, spec: world_lib.WorldSpec,
                  lm_spec: lm_lib.LMSpec, eval_prompt_index_P: jax.Array) -> dict:
  """`report` of W worlds' LMs (leading axis W on both): each field's mean over the worlds, and
  `per_world`, the W reports."""
  per_world = [report(jax.tree_util.tree_map(lambda x, w=w: x[w], params_W),
                      jax.tree_util.tree_map(lambda x, w=w: x[w], worlds_W), spec, lm_spec,
                      eval_prompt_index_P)
               for w in range(worlds_W.log_rho_P.shape[0])]
  means = {k: float(sum(r[k] for r in per_world) / len(per_world)) for k in per_world[0]}
  return {**means, 'per_world': per_world}


def report(params, world: world_lib.World, spec: world_lib.WorldSpec, lm_spec: lm_lib.LMSpec,
           eval_prompt_index_P: jax.Array) -> dict[str, float]:
  """Exact KL of the LM to the majority's taste and to p*, and its group coverage vs. p*'s."""
  prompts_PxLx = world_lib.prompt_tokens(eval_prompt_index_P, spec)
  log_p_PxN = lm_lib.exact_log_probs(lambda t: lm_lib.lm_logits(params, t, lm_spec),
                                     prompts_PxLx, spec)
  out = {
      'kl_to_majority': float(metrics.kl_divergence(
          world.log_q_GxPxN[0, eval_prompt_index_P], log_p_PxN)),
      'kl_to_pstar': float(metrics.kl_divergence(world.log_pstar_PxN[eval_prompt_index_P],
                                                 log_p_PxN)),
  }
  cov = metrics.coverage(log_p_PxN, world.favourites_GxPxN[:, eval_prompt_index_P])
  target = metrics.target_coverage(world, eval_prompt_index_P)
  for g in range(spec.num_groups):
    out[f'coverage_g{g}'] = float(cov[g])
    out[f'target_coverage_g{g}'] = float(target[g])
  return out
