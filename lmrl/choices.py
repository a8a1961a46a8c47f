"""Simulated human choices among `K` shown responses (DESIGN.md section 2).

IIA (default): an individual's utility is `log p*(y|x) + Gumbel`; they rank the shown responses
by it. The best is chosen with the Luce probability `p*(y_k) / sum_j p*(y_j)`, and the whole
ranking is Plackett-Luce (Luce applied repeatedly to what is left).

Non-IIA (option): an individual of group `g`, drawn with probability `w_g`, ranks by
`log q_g(y|x) + Gumbel`: a mixture of Luce models, which breaks IIA.

A ranking is int32[..., K]: the positions (0..K-1) of the shown responses, best first, so the
chosen response is `ranking[..., 0]`.
"""

import jax
import jax.numpy as jnp

from lmrl import world as world_lib


def luce_ranking(key: jax.Array, log_utility_BxK: jax.Array) -> jax.Array:
  """Plackett-Luce rankings of the `K` items in each row by Gumbel-max, int32[B, K]."""
  noisy_BxK = log_utility_BxK + jax.random.gumbel(key, log_utility_BxK.shape)
  return jnp.argsort(-noisy_BxK, axis=-1).astype(jnp.int32)


def luce_probabilities(log_utility_BxK: jax.Array) -> jax.Array:
  """The Luce choice probabilities `u_k / sum_j u_j`, float32[B, K]."""
  return jax.nn.softmax(log_utility_BxK, axis=-1)


def simulate_rankings(key: jax.Array, world: world_lib.World, spec: world_lib.WorldSpec,
                      prompt_index_B: jax.Array, responses_BxKxLy: jax.Array,
                      iia: bool = True) -> jax.Array:
  """Rankings of the shown responses by a random individual of the population, int32[B, K]."""
  response_index_BxK = world_lib.sequence_index(responses_BxKxLy, spec.vocab_size)
  if iia:
    log_u_BxK = world.log_pstar_PxN[prompt_index_B[:, None], response_index_BxK]
  else:
    key, key_group = jax.random.split(key)
    group_B = jax.random.categorical(key_group, world.log_weights_G,
                                     shape=prompt_index_B.shape)
    log_u_BxK = world.log_q_GxPxN[group_B[:, None], prompt_index_B[:, None],
                                  response_index_BxK]
  return luce_ranking(key, log_u_BxK)
