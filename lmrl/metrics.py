"""Exact metrics by enumeration over every response of a fixed set of evaluation prompts.

Distributions are log-prob tables float32[P, N] (prompts x responses). Per-prompt values are
averaged uniformly over the evaluation prompts.
"""

import jax
import jax.numpy as jnp

from lmrl import world as world_lib


def kl_divergence(log_p_PxN: jax.Array, log_q_PxN: jax.Array) -> jax.Array:
  """Mean over prompts of `KL(p || q) = sum_y p(y) (log p(y) - log q(y))`, float32[]."""
  p_PxN = jnp.exp(log_p_PxN)
  terms_PxN = jnp.where(p_PxN > 0, p_PxN * (log_p_PxN - log_q_PxN), 0.0)
  return jnp.mean(jnp.sum(terms_PxN, axis=-1))


def total_variation(log_p_PxN: jax.Array, log_q_PxN: jax.Array) -> jax.Array:
  """Mean over prompts of `TV(p, q) = 1/2 sum_y |p(y) - q(y)|`, float32[]."""
  return jnp.mean(0.5 * jnp.sum(jnp.abs(jnp.exp(log_p_PxN) - jnp.exp(log_q_PxN)), axis=-1))


def coverage(log_p_PxN: jax.Array, favourites_GxPxN: jax.Array) -> jax.Array:
  """Mass `p` gives each group's favourite responses (mean over prompts), float32[G]."""
  return jnp.mean(jnp.sum(jnp.exp(log_p_PxN)[None] * favourites_GxPxN, axis=-1), axis=-1)


def mixture_log_probs(log_p_MxPxN: jax.Array) -> jax.Array:
  """`log mean_m p_m`: the deployed mixture of `M` members, float32[P, N]."""
  return jax.nn.logsumexp(log_p_MxPxN, axis=0) - jnp.log(log_p_MxPxN.shape[0])


def epistemic_spread(log_p_MxPxN: jax.Array) -> jax.Array:
  """`mean_m KL(p_bar || p_m)`: how much members disagree (0 iff all equal), float32[]."""
  log_mix_PxN = mixture_log_probs(log_p_MxPxN)
  return jnp.mean(jax.vmap(kl_divergence, in_axes=(None, 0))(log_mix_PxN, log_p_MxPxN))


def predicted_kl(log_p_MxPxN: jax.Array, log_p_PxN: jax.Array) -> jax.Array:
  """The posterior's own prediction of `KL(p* || p)`: `mean_m KL(p_m || p)`, float32[].

  The expectation of the `kl` metric (prompts weighed alike) if `p*` were one of the M members,
  each equally likely. When the deployed `p` is the members' mixture `p_bar` (the joint agent's
  default), it is `I(m; Y)` with `Y ~ p_m(.|x)`, the quantity `lmrl.epig` asks to reduce. Beside
  the realised `kl` it says whether the agent knows what it does not know.
  """
  return jnp.mean(jax.vmap(kl_divergence, in_axes=(0, None))(log_p_MxPxN, log_p_PxN))


def uncertainty_error_correlation(log_p_MxPxN: jax.Array, log_p_PxN: jax.Array,
                                  log_pstar_PxN: jax.Array) -> jax.Array:
  """Do members disagree where the deployed LM is wrong? float32[] in [-1, 1].

  The `p*`-weighted Pearson correlation, over every (prompt, response), between the members'
  standard deviation of `log p_m(y|x)` and the deployed LM's (`log_p_PxN`) error
  `|log p - log p*|`. Positive: uncertainty points at the mistakes, which is what directed
  exploration relies on.
  """
  u_PxN = jnp.std(log_p_MxPxN, axis=0)
  e_PxN = jnp.abs(log_p_PxN - log_pstar_PxN)
  w_PxN = jnp.exp(log_pstar_PxN) / log_pstar_PxN.shape[0]
  mean = lambda x: jnp.sum(w_PxN * x)
  cov = mean((u_PxN - mean(u_PxN)) * (e_PxN - mean(e_PxN)))
  return cov / jnp.sqrt(mean(jnp.square(u_PxN - mean(u_PxN))) *
                        mean(jnp.square(e_PxN - mean(e_PxN))) + 1e-12)


def disagreement_shown_unshown(log_p_MxPxN: jax.Array, shown_PxN: jax.Array
                               ) -> tuple[jax.Array, jax.Array]:
  """The members' disagreement on responses shown so far and on those never shown.

  The mean, over the (prompt, response) pairs of each set (uniformly), of the members' standard
  deviation of `log p_m(y|x)` (the uncertainty of `uncertainty_error_correlation`); NaN for an
  empty set. Uncertainty that is resolved where the agent looked falls on shown pairs and stays
  on unshown ones. float32[], float32[].
  """
  u_PxN = jnp.std(log_p_MxPxN, axis=0)
  shown_PxN = shown_PxN.astype(bool)
  mean_where = lambda mask: jnp.sum(jnp.where(mask, u_PxN, 0.0)) / jnp.where(
      jnp.any(mask), jnp.sum(mask), jnp.nan)
  return mean_where(shown_PxN), mean_where(~shown_PxN)


def choice_log_loss(log_p_PxN: jax.Array, prompt_index_Q: jax.Array,
                    response_index_QxK: jax.Array, chosen_Q: jax.Array) -> jax.Array:
  """Mean `-log P(chosen)` of held-out choices under Luce with utility `log p`, float32[]."""
  log_u_QxK = log_p_PxN[prompt_index_Q[:, None], response_index_QxK]
  log_choice_QxK = jax.nn.log_softmax(log_u_QxK, axis=-1)
  return -jnp.mean(jnp.take_along_axis(log_choice_QxK, chosen_Q[:, None], axis=-1))


def distribution_metrics(log_p_PxN: jax.Array, world: world_lib.World,
                         eval_prompt_index_P: jax.Array) -> dict[str, jax.Array]:
  """KL(p*||p), TV and per-group coverage of `p` (given on the evaluation prompts)."""
  log_pstar_PxN = world.log_pstar_PxN[eval_prompt_index_P]
  return {
      'kl': kl_divergence(log_pstar_PxN, log_p_PxN),
      'tv': total_variation(log_pstar_PxN, log_p_PxN),
      'coverage_G': coverage(log_p_PxN, world.favourites_GxPxN[:, eval_prompt_index_P]),
  }


def target_coverage(world: world_lib.World, eval_prompt_index_P: jax.Array) -> jax.Array:
  """The mass `p*` gives each group's favourites: what an inclusive LM covers, float32[G]."""
  return coverage(world.log_pstar_PxN[eval_prompt_index_P],
                  world.favourites_GxPxN[:, eval_prompt_index_P])
