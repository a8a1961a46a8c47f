"""Exploration strategies: which `K` responses to show a human for each prompt.

A strategy is a pure function `(key, explorer, prompts_BxLx, params: StrategyParams) ->
responses_BxKxLy`, looked up by name in `STRATEGIES`. It sees the agent only through an `Explorer`, a bundle of functions that any
agent (the joint LM-as-reward agent or the classic reward-model pipeline) provides:

  sample(key, prompts_BxLx, temperature) -> responses_BxLy          the deployed policy
  sample_thompson(key, prompts_BxLx, num) -> responses_BxKxLy       one response per sampled
                                                                     epistemic index
  utilities(prompts_BxLx, responses_BxCxLy) -> log_u_MxBxC          each member's Luce utility

Adding a strategy is one function and one line in `STRATEGIES`.

Infomax scores a K-tuple by the mutual information between the human's choice `c` and the
epistemic index `m` (uniform over the M members), under each member's Luce model
`P_m(c = k) = softmax_k(u_m(y_k))`:

  I(c; m) = H(mean_m P_m) - mean_m H(P_m).

This is the expected information gain about which member is right (BALD). We use it rather than
the variance of choice probabilities because it is in bits of the quantity we want to learn, is
invariant to relabelling the shown responses, and counts a confident disagreement (members sure
of *different* answers) above a shared coin flip, which the variance does not do for K > 2.
"""

import itertools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Explorer(NamedTuple):
  sample: Callable  # (key, prompts_BxLx, temperature) -> responses int32[B, Ly]
  sample_thompson: Callable  # (key, prompts_BxLx, num) -> responses int32[B, num, Ly]
  utilities: Callable  # (prompts_BxLx, responses_BxCxLy) -> log-utilities float32[M, B, C]
  vocab_size: int
  response_length: int


class StrategyParams(NamedTuple):
  """What a strategy may use besides the explorer: static shapes and names, and the run's traced
  hyper-parameters (`lmrl.hyperparams`; read here: `temperature` (boltzmann),
  `pool_temperature` and `info_temperature` (infomax: 0 = best tuple, > 0 = sample tuples))."""
  num_shown: int  # K.
  pool_size: int  # Infomax candidates per prompt (static).
  info_units: str  # Infomax: `info_temperature` in nats, or 'best' (static; see below).
  hparams: dict  # {name: float32[]}: the traced hyper-parameters.


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


STRATEGIES: dict[str, Callable] = {
    'passive': passive,
    'uniform': uniform,
    'boltzmann': boltzmann,
    'thompson': thompson,
    'infomax': infomax,
}


def get_strategy(name: str) -> Callable:
  if name not in STRATEGIES:
    raise ValueError(f'unknown strategy {name!r}; known: {", ".join(STRATEGIES)}')
  return STRATEGIES[name]
