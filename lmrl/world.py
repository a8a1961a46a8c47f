"""The didactic world: prompts, a population of groups with teacher tastes, and `p*`.

Everything is small enough to enumerate. A prompt is `Lx` tokens and a response `Ly` tokens from
a vocabulary of `V` tokens (token ids `0..V-1`; the id `V` is BOS). Prompts and responses are
identified by their base-`V` index, so every distribution in the world is a dense table:

  log_rho_P        the prompt distribution `rho(x)` over the `P = V**Lx` prompts;
  log_q_GxPxN      group `g`'s taste `q_g(y|x)` over the `N = V**Ly` responses;
  log_pstar_PxN    the population's favourites `p*(y|x) = sum_g w_g q_g(y|x)`.

Each `q_g` is an autoregressive *teacher*: at every prompt and response prefix it has a vector of
next-token logits, and `q_g(y|x)` is the product of its next-token probabilities along `y`,
computed exactly for every `y`. `WorldSpec.kind` says how the logits are drawn:

* `'tabular'`: every group draws independent logits from N(0, 1) for every (prompt, prefix),
  divided by the teacher temperature (a low temperature makes tastes peaked). Nothing one group
  or prompt reveals about its taste says anything about another's.

* `'structured'`: the groups share one *base* LM and differ by a low-dimensional *taste*:

    logit_g(v | x, y_<t) = [s_b * b(x, y_<t)[v] + s * theta_g . phi(prev, v)] / T

  - `b` is the shared base: tabular N(0, 1) logits per (prompt, prefix), as a tabular teacher's,
    scaled by `s_b = base_scale` (1 by default). It is the part of every group's taste that an
    LM must learn from the corpus as a table (`P * (V**Ly - 1) / (V - 1) * V` numbers: ~300,000 at
    V = 8, Lx = 2, Ly = 4), so at `s_b = 1` and that size the pre-trained LM's error on it is
    most of the gap to `p*` (docs/worlds.md); a small `s_b` leaves a world whose tastes are
    mostly the shared, learnable features.
  - `phi(prev, v)` are token and bigram features of the next token `v` and the token before it
    (`prev`: the prefix's last token; at the first response token, the prompt's last token), so
    `theta_g . phi = (u_g[v] + B_g[prev, v]) / sqrt(2)`: `F = V + V**2` numbers per group,
    each N(0, 1), shared by every prompt and prefix. What a group's choices reveal about its
    taste on one prompt transfers to every other prompt.
  - `s = taste_scale` is the taste logit's standard deviation relative to the base's (1); 0
    gives every group the base's taste. `T = teacher_temperature` divides both, as in the
    tabular world.
  - The majority's taste is `theta_0 = z_0`; each minority's is
    `theta_g = -c z_0 + sqrt(1 - c**2) z_g` (`z` i.i.d. N(0, I), `c = minority_opposition`):
    its correlation with the majority's taste is `-c`. At `c = 1` a minority likes exactly what
    the majority dislikes, so the responses it favours are ones the majority's teacher (and an
    LM pre-trained on a majority-only corpus) nearly never produces; at `c = 0` minority tastes
    are independent of the majority's (and of each other's). With `c = 1` every minority has
    the same taste.
  - The prompt distribution, the group weights (a minority may be small: `(0.9, 0.1)`), `p*`
    and the favourites are as in the tabular world; the `World` tables have the same fields
    and shapes, so choices, metrics and the pre-training corpus do not know the kind.

  Design choices: the base stays tabular so prompts differ in what is plausible at all (the LM
  has to learn it from the corpus); only the tastes are structured, since they are what human
  choices reveal. Features are tokens and bigrams: the smallest family where a taste is about
  what follows what, not only which tokens occur. The sizes that make the response space large
  (e.g. V=8, Lx=2, Ly=4: 64 prompts x 4,096 responses) are the config's; the world has no
  other size. The parameters are plain guesses, not tuned for any exploration strategy.

All functions are pure and jittable; `make_world(key, spec)` is vmappable over keys.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

WORLD_KINDS = ('tabular', 'structured')  # `WorldSpec.kind`: how the teachers are drawn.


class WorldSpec(NamedTuple):
  """Static description of a world (shapes and constants; hashable)."""
  vocab_size: int  # V: number of ordinary tokens; the BOS token has id V.
  prompt_length: int  # Lx: tokens per prompt.
  response_length: int  # Ly: tokens per response.
  group_weights: tuple[float, ...]  # w_g, one per group; group 0 is the majority.
  teacher_temperature: float  # Divides the teachers' N(0,1) logits; lower = peakier tastes.
  prompt_logit_scale: float  # rho(x) = softmax(scale * N(0,1)); 0 gives uniform prompts.
  favourite_mass: float  # A group's favourites: its top responses holding this much of q_g.
  kind: str = 'tabular'  # How teachers are drawn: 'tabular' or 'structured' (module docstring).
  taste_scale: float = 1.0  # Structured: std of a taste's logit relative to the base's (1).
  minority_opposition: float = 1.0  # Structured: -correlation of a minority's taste with the
  #                                   majority's (1 = opposite, 0 = independent).
  base_scale: float = 1.0  # Structured: std of the shared base's tabular logits (0 = no base).

  @property
  def num_groups(self) -> int:
    return len(self.group_weights)

  @property
  def bos(self) -> int:
    return self.vocab_size

  @property
  def num_prompts(self) -> int:
    return self.vocab_size ** self.prompt_length

  @property
  def num_responses(self) -> int:
    return self.vocab_size ** self.response_length

  @property
  def sequence_length(self) -> int:
    """Length of `[BOS, x, y]`."""
    return 1 + self.prompt_length + self.response_length


def spec_from_config(world_config) -> WorldSpec:
  """Builds a `WorldSpec` from the `config.world` section of an experiment config."""
  return WorldSpec(
      vocab_size=int(world_config.vocab_size),
      prompt_length=int(world_config.prompt_length),
      response_length=int(world_config.response_length),
      group_weights=tuple(float(w) for w in world_config.group_weights),
      teacher_temperature=float(world_config.teacher_temperature),
      prompt_logit_scale=float(world_config.prompt_logit_scale),
      favourite_mass=float(world_config.favourite_mass),
      kind=str(world_config.kind),
      taste_scale=float(world_config.taste_scale),
      minority_opposition=float(world_config.minority_opposition),
      base_scale=float(world_config.base_scale),
  )


class World(NamedTuple):
  """The world's exact tables (a pytree; one world per seed under vmap)."""
  log_rho_P: jax.Array
  log_weights_G: jax.Array
  log_q_GxPxN: jax.Array
  log_pstar_PxN: jax.Array
  favourites_GxPxN: jax.Array  # bool: response is among group g's favourites for prompt x.


# ----------------------------------------------------------------------------- enumeration


def enumerate_sequences(vocab_size: int, length: int) -> np.ndarray:
  """All `vocab_size**length` token sequences, int32[N, length], row n = base-V digits of n."""
  n = np.arange(vocab_size ** length)
  powers = vocab_size ** np.arange(length - 1, -1, -1)
  return ((n[:, None] // powers[None, :]) % vocab_size).astype(np.int32)


def sequence_index(tokens_BxL: jax.Array, vocab_size: int) -> jax.Array:
  """Base-V index of each token sequence (inverse of `enumerate_sequences`), int32[B]."""
  length = tokens_BxL.shape[-1]
  powers = jnp.asarray(vocab_size ** np.arange(length - 1, -1, -1), jnp.int32)
  return jnp.sum(tokens_BxL * powers, axis=-1)


def all_responses(spec: WorldSpec) -> np.ndarray:
  """Every response, int32[N, Ly]."""
  return enumerate_sequences(spec.vocab_size, spec.response_length)


def all_prompts(spec: WorldSpec) -> np.ndarray:
  """Every prompt, int32[P, Lx]."""
  return enumerate_sequences(spec.vocab_size, spec.prompt_length)


# ----------------------------------------------------------------------------- the world


def _prefix_index_N(responses_NxLy: np.ndarray, t: int, vocab_size: int) -> np.ndarray:
  """Base-V index of each response's prefix y_<t, in NumPy: static, so the world stays jittable."""
  return responses_NxLy[:, :t] @ (vocab_size ** np.arange(t - 1, -1, -1))


def _teacher_log_probs_PxN(key: jax.Array, spec: WorldSpec) -> jax.Array:
  """Exact `log q(y|x)` of one random tabular autoregressive teacher, float32[P, N]."""
  V, Ly = spec.vocab_size, spec.response_length
  responses_NxLy = all_responses(spec)
  log_q_PxN = jnp.zeros((spec.num_prompts, spec.num_responses), jnp.float32)
  for t in range(Ly):
    # One logit vector per (prompt, prefix y_<t); prefixes of length t are indexed in base V.
    logits_PxAxV = jax.random.normal(
        jax.random.fold_in(key, t), (spec.num_prompts, V ** t, V)) / spec.teacher_temperature
    log_next_PxAxV = jax.nn.log_softmax(logits_PxAxV, axis=-1)
    prefix_N = _prefix_index_N(responses_NxLy, t, V)
    log_q_PxN = log_q_PxN + log_next_PxAxV[:, prefix_N, responses_NxLy[:, t]]
  return log_q_PxN


def favourites(log_q_PxN: jax.Array, mass: float) -> jax.Array:
  """bool[P, N]: the fewest top responses of each row whose probability sums to >= `mass`."""
  order_PxN = jnp.argsort(-log_q_PxN, axis=-1)
  sorted_p_PxN = jnp.take_along_axis(jnp.exp(log_q_PxN), order_PxN, axis=-1)
  mass_before_PxN = jnp.cumsum(sorted_p_PxN, axis=-1) - sorted_p_PxN
  keep_sorted_PxN = mass_before_PxN < mass
  ranks_PxN = jnp.argsort(order_PxN, axis=-1)
  return jnp.take_along_axis(keep_sorted_PxN, ranks_PxN, axis=-1)


def taste_vectors_GxF(key: jax.Array, spec: WorldSpec) -> jax.Array:
  """The structured world's taste vectors, float32[G, V + V**2], each entry N(0, 1).

  Group 0's is `z_0`; group g >= 1's is `-c z_0 + sqrt(1 - c**2) z_g` (`c`: minority_opposition).
  """
  V, c = spec.vocab_size, spec.minority_opposition
  z_GxF = jax.random.normal(key, (spec.num_groups, V + V * V))
  return jnp.concatenate([z_GxF[:1], -c * z_GxF[:1] + np.sqrt(1.0 - c * c) * z_GxF[1:]])


def taste_logits_GxVxV(theta_GxF: jax.Array, spec: WorldSpec) -> jax.Array:
  """`s * theta_g . phi(prev, v)` for every (group, prev, v): token + bigram, float32[G, V, V]."""
  V = spec.vocab_size
  token_GxV, bigram_GxVxV = theta_GxF[:, :V], theta_GxF[:, V:].reshape(-1, V, V)
  return spec.taste_scale * (token_GxV[:, None, :] + bigram_GxVxV) / np.sqrt(2.0)


def _structured_log_q_GxPxN(key: jax.Array, spec: WorldSpec) -> jax.Array:
  """Exact `log q_g(y|x)` of every group's structured teacher, float32[G, P, N]."""
  V, Ly = spec.vocab_size, spec.response_length
  key_base, key_taste = jax.random.split(key)
  taste_GxVxV = taste_logits_GxVxV(taste_vectors_GxF(key_taste, spec), spec)
  responses_NxLy = all_responses(spec)
  last_prompt_token_P = all_prompts(spec)[:, -1]
  log_q_GxPxN = jnp.zeros((spec.num_groups, spec.num_prompts, spec.num_responses), jnp.float32)
  for t in range(Ly):
    # The shared base: one N(0, 1) logit vector per (prompt, prefix y_<t).
    base_PxAxV = spec.base_scale * jax.random.normal(jax.random.fold_in(key_base, t),
                                                     (spec.num_prompts, V ** t, V))
    # The token before y_t: the prompt's last token at t = 0, else the prefix's last (its base-V
    # index mod V).
    if t == 0:
      prev_PxA = last_prompt_token_P[:, None]
    else:
      prev_PxA = np.broadcast_to(np.arange(V ** t) % V, (spec.num_prompts, V ** t))
    logits_GxPxAxV = (base_PxAxV[None] + taste_GxVxV[:, prev_PxA]) / spec.teacher_temperature
    log_next_GxPxAxV = jax.nn.log_softmax(logits_GxPxAxV, axis=-1)
    log_q_GxPxN = log_q_GxPxN + log_next_GxPxAxV[
        :, :, _prefix_index_N(responses_NxLy, t, V), responses_NxLy[:, t]]
  return log_q_GxPxN


def make_world(key: jax.Array, spec: WorldSpec) -> World:
  """Draws the population's teachers and prompt distribution from `key`."""
  key_rho, key_teachers = jax.random.split(key)
  log_rho_P = jax.nn.log_softmax(
      spec.prompt_logit_scale * jax.random.normal(key_rho, (spec.num_prompts,)))
  if spec.kind == 'tabular':
    log_q_GxPxN = jnp.stack([
        _teacher_log_probs_PxN(jax.random.fold_in(key_teachers, g), spec)
        for g in range(spec.num_groups)
    ])
  elif spec.kind == 'structured':
    log_q_GxPxN = _structured_log_q_GxPxN(key_teachers, spec)
  else:
    raise ValueError(f'a world kind must be one of {WORLD_KINDS}, got {spec.kind!r}')
  log_weights_G = jnp.log(jnp.asarray(spec.group_weights, jnp.float32))
  log_pstar_PxN = jax.nn.logsumexp(log_weights_G[:, None, None] + log_q_GxPxN, axis=0)
  favourites_GxPxN = jax.vmap(favourites, in_axes=(0, None))(log_q_GxPxN, spec.favourite_mass)
  return World(log_rho_P, log_weights_G, log_q_GxPxN, log_pstar_PxN, favourites_GxPxN)


def table_bytes(spec: WorldSpec) -> int:
  """Bytes of one world's tables: float32 `log_q` (G x P x N) and `log_pstar` (P x N), bool
  favourites (G x P x N), `rho` and the weights."""
  G, P, N = spec.num_groups, spec.num_prompts, spec.num_responses
  return 4 * G * P * N + 4 * P * N + G * P * N + 4 * (P + G)


# ----------------------------------------------------------------------------- sampling


def sample_prompts(key: jax.Array, world: World, num: int) -> jax.Array:
  """`num` prompt indices drawn from rho, int32[num]."""
  return jax.random.categorical(key, world.log_rho_P, shape=(num,)).astype(jnp.int32)


def prompt_tokens(prompt_index_B: jax.Array, spec: WorldSpec) -> jax.Array:
  """Tokens of prompts given by index, int32[B, Lx]."""
  return jnp.asarray(all_prompts(spec))[prompt_index_B]


def with_bos(tokens_BxL: jax.Array, spec: WorldSpec) -> jax.Array:
  """Prepends the BOS token: int32[B, 1 + L]."""
  bos_Bx1 = jnp.full(tokens_BxL.shape[:-1] + (1,), spec.bos, jnp.int32)
  return jnp.concatenate([bos_Bx1, tokens_BxL.astype(jnp.int32)], axis=-1)


def sample_corpus(key: jax.Array, world: World, spec: WorldSpec, group_mix_G: jax.Array,
                  num: int) -> jax.Array:
  """Pre-training sequences `[BOS, x, y]`, int32[num, 1 + Lx + Ly].

  `x ~ rho`, a group `g ~ group_mix_G` (e.g. `[1, 0]`: majority only), then `y ~ q_g(.|x)`.
  """
  key_x, key_g, key_y = jax.random.split(key, 3)
  x_B = sample_prompts(key_x, world, num)
  g_B = jax.random.categorical(key_g, jnp.log(group_mix_G), shape=(num,))
  y_B = jax.random.categorical(key_y, world.log_q_GxPxN[g_B, x_B])
  responses = jnp.asarray(all_responses(spec))
  return with_bos(jnp.concatenate([prompt_tokens(x_B, spec), responses[y_B]], axis=-1), spec)
