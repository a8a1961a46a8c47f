"""A small decoder-only transformer LM over `[BOS, x, y]` (Flax Linen), and what it computes.

The model maps tokens int32[B, L] (ids `0..V`, `V` = BOS) to next-token logits float32[B, L, V]
(BOS is never predicted) and the last block's hidden features float32[B, L, D] (the epinet's
input). `logits[:, t]` predicts `tokens[:, t + 1]`.

The functions that score and sample take a `logits_fn(tokens_BxL) -> logits`, so the same code
serves a plain LM and an epistemic LM. Scoring functions also accept a `logits_fn` that returns
every epistemic member at once, float32[M, B, L, V]: their results then carry the leading `M`.
"""

from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from lmrl import world as world_lib

LogitsFn = Callable[[jax.Array], jax.Array]  # tokens int32[B, L] -> logits float32[..., B, L, V]


class LMSpec(NamedTuple):
  """Static architecture of the transformer."""
  vocab_size: int  # V output tokens; the input vocabulary has one more (BOS).
  sequence_length: int  # Maximum L, the length of [BOS, x, y].
  width: int  # D, the residual stream width.
  depth: int  # Number of transformer blocks.
  num_heads: int  # Attention heads per block; must divide width.
  mlp_ratio: int = 4  # Hidden width of each MLP is mlp_ratio * D.


def lm_spec_from_config(lm_config, spec: world_lib.WorldSpec) -> LMSpec:
  """Builds an `LMSpec` from the `config.lm` section and the world's shapes."""
  return LMSpec(spec.vocab_size, spec.sequence_length, int(lm_config.width),
                int(lm_config.depth), int(lm_config.num_heads), int(lm_config.mlp_ratio))


class Block(nn.Module):
  """A pre-LayerNorm causal self-attention + MLP block."""
  num_heads: int
  mlp_ratio: int

  @nn.compact
  def __call__(self, h_BxLxD: jax.Array) -> jax.Array:
    D = h_BxLxD.shape[-1]
    mask_Bx1xLxL = nn.make_causal_mask(jnp.ones(h_BxLxD.shape[:-1], jnp.int32))
    # Named as the deprecated `nn.SelfAttention` it replaces, so parameters (and their random
    # initialisation, which folds in the module's name) are unchanged.
    a_BxLxD = nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads, qkv_features=D, deterministic=True, name='SelfAttention_0')(
            nn.LayerNorm()(h_BxLxD), mask=mask_Bx1xLxL)
    h_BxLxD = h_BxLxD + a_BxLxD
    m_BxLxF = nn.gelu(nn.Dense(self.mlp_ratio * D)(nn.LayerNorm()(h_BxLxD)))
    return h_BxLxD + nn.Dense(D)(m_BxLxF)


class Transformer(nn.Module):
  """Decoder-only transformer: tokens -> (logits_BxLxV, hidden_BxLxD)."""
  spec: LMSpec

  @nn.compact
  def __call__(self, tokens_BxL: jax.Array) -> tuple[jax.Array, jax.Array]:
    s = self.spec
    L = tokens_BxL.shape[-1]
    h_BxLxD = nn.Embed(s.vocab_size + 1, s.width)(tokens_BxL)
    h_BxLxD = h_BxLxD + self.param('position', nn.initializers.normal(0.02),
                                   (s.sequence_length, s.width))[:L]
    for _ in range(s.depth):
      h_BxLxD = Block(s.num_heads, s.mlp_ratio)(h_BxLxD)
    h_BxLxD = nn.LayerNorm()(h_BxLxD)
    logits_BxLxV = nn.Dense(s.vocab_size)(h_BxLxD).astype(jnp.float32)
    return logits_BxLxV, h_BxLxD


def init_lm(key: jax.Array, spec: LMSpec):
  """Fresh LM parameters."""
  return Transformer(spec).init(key, jnp.zeros((1, spec.sequence_length), jnp.int32))


def apply_lm(params, tokens_BxL: jax.Array, spec: LMSpec) -> tuple[jax.Array, jax.Array]:
  """(logits float32[B, L, V], hidden float32[B, L, D])."""
  return Transformer(spec).apply(params, tokens_BxL)


def lm_logits(params, tokens_BxL: jax.Array, spec: LMSpec) -> jax.Array:
  return apply_lm(params, tokens_BxL, spec)[0]


# ----------------------------------------------------------------------------- log-probs


def token_log_probs(logits_BxLxV: jax.Array, tokens_BxL: jax.Array) -> jax.Array:
  """float32[..., B, L-1]: log-prob of each token after the first, given those before it.

  `logits` may carry leading (member) axes before B; `tokens` is shared by them.
  """
  log_p_BxLxV = jax.nn.log_softmax(logits_BxLxV[..., :-1, :].astype(jnp.float32), axis=-1)
  next_BxLx1 = jnp.broadcast_to(tokens_BxL[:, 1:, None], log_p_BxLxV.shape[:-1] + (1,))
  return jnp.take_along_axis(log_p_BxLxV, next_BxLx1, axis=-1)[..., 0]


def response_log_probs(logits_fn: LogitsFn, sequences_BxL: jax.Array,
                       response_length: int) -> jax.Array:
  """`log p(y|x)` of `[BOS, x, y]` sequences, summed over y's tokens in float32, float32[..., B]."""
  per_token_BxT = token_log_probs(logits_fn(sequences_BxL), sequences_BxL)
  return jnp.sum(per_token_BxT[..., -response_length:], axis=-1)


def next_token_loss(logits_fn: LogitsFn, sequences_BxL: jax.Array,
                    num_tokens: int | None = None) -> jax.Array:
  """Mean negative log-likelihood per predicted token of `[BOS, x, y]` sequences, float32[...].

  With `num_tokens`, only the first `num_tokens` predicted tokens count (`Lx`: the prompt only).
  """
  per_token_BxT = token_log_probs(logits_fn(sequences_BxL), sequences_BxL)
  return -jnp.mean(per_token_BxT[..., :num_tokens], axis=(-2, -1))


def responses_with_prompts(prompts_BxLx: jax.Array, responses_BxKxLy: jax.Array,
                           spec: world_lib.WorldSpec) -> jax.Array:
  """`[BOS, x_b, y_bk]` for every shown response, int32[B, K, 1 + Lx + Ly]."""
  K = responses_BxKxLy.shape[1]
  prompts_BxKxLx = jnp.broadcast_to(prompts_BxLx[:, None], (prompts_BxLx.shape[0], K,
                                                             prompts_BxLx.shape[-1]))
  return world_lib.with_bos(jnp.concatenate([prompts_BxKxLx, responses_BxKxLy], -1), spec)


def shown_log_probs(logits_fn: LogitsFn, prompts_BxLx: jax.Array, responses_BxKxLy: jax.Array,
                    spec: world_lib.WorldSpec) -> jax.Array:
  """`log p(y_bk | x_b)` for `K` responses per prompt, float32[..., B, K]."""
  B, K, _ = responses_BxKxLy.shape
  seqs_BxKxL = responses_with_prompts(prompts_BxLx, responses_BxKxLy, spec)
  log_p = response_log_probs(logits_fn, seqs_BxKxL.reshape(B * K, -1), spec.response_length)
  return log_p.reshape(log_p.shape[:-1] + (B, K))


def exact_log_probs(logits_fn: LogitsFn, prompts_PxLx: jax.Array,
                    spec: world_lib.WorldSpec) -> jax.Array:
  """The LM's exact response distribution `log p(y|x)` for every response, float32[..., P, N].

  By causality one pass over each prompt's `V**(Ly-1)` response prefixes gives every response's
  log-prob: the prefix tokens' log-probs, plus the full next-token distribution at the last
  position for the final token. That is `V` times fewer sequences than scoring all `N`.
  """
  P, Lx = prompts_PxLx.shape
  V, Ly = spec.vocab_size, spec.response_length
  prefixes_AxLy1 = jnp.asarray(world_lib.enumerate_sequences(V, Ly - 1))
  A = prefixes_AxLy1.shape[0]
  seqs_PxAxL = world_lib.with_bos(jnp.concatenate([
      jnp.broadcast_to(prompts_PxLx[:, None], (P, A, Lx)),
      jnp.broadcast_to(prefixes_AxLy1[None], (P, A, Ly - 1))], -1), spec)
  seqs_ExL = seqs_PxAxL.reshape(P * A, -1)
  logits_ExLxV = logits_fn(seqs_ExL)
  prefix_E = jnp.sum(token_log_probs(logits_ExLxV, seqs_ExL)[..., Lx:], axis=-1)
  last_ExV = jax.nn.log_softmax(logits_ExLxV[..., -1, :].astype(jnp.float32), axis=-1)
  # Response index = prefix index * V + last token: the base-V order of `all_responses`.
  log_p_ExV = prefix_E[..., None] + last_ExV
  return log_p_ExV.reshape(log_p_ExV.shape[:-2] + (P, A * V))


# ----------------------------------------------------------------------------- sampling


def sample_responses(key: jax.Array, logits_fn: LogitsFn, prompts_BxLx: jax.Array,
                     spec: world_lib.WorldSpec, temperature: jax.Array | float = 1.0
                     ) -> jax.Array:
  """Autoregressive samples `y ~ p(.|x)` at a per-token temperature, int32[B, Ly].

  `key` is one key for the batch, or one key per row (a key array of shape [B]: row b's tokens
  are drawn from its own key, as if it were sampled alone). A temperature of exactly 0 (a Python
  number, not a traced one) decodes greedily: each token the most probable one. The sequence is
  tiny, so each step reruns the model on the whole (padded) sequence; causality makes the padding
  irrelevant to the logits that are read.
  """
  greedy = isinstance(temperature, (int, float)) and temperature == 0
  B, Lx = prompts_BxLx.shape
  seq_BxL = world_lib.with_bos(
      jnp.concatenate([prompts_BxLx, jnp.zeros((B, spec.response_length), jnp.int32)], -1), spec)

  def step(seq_BxL, t):
    position = Lx + t  # logits at `position` predict token `position + 1`.
    logits_BxV = jax.lax.dynamic_index_in_dim(logits_fn(seq_BxL), position, 1, keepdims=False)
    if greedy:
      token_B = jnp.argmax(logits_BxV, axis=-1)
    elif key.ndim:  # One key per row.
      token_B = jax.vmap(lambda k, l: jax.random.categorical(jax.random.fold_in(k, t), l[None])[0])(
          key, logits_BxV / temperature)
    else:
      token_B = jax.random.categorical(jax.random.fold_in(key, t), logits_BxV / temperature)
    return jax.lax.dynamic_update_index_in_dim(seq_BxL, token_B.astype(jnp.int32),
                                               position + 1, 1), None

  seq_BxL, _ = jax.lax.scan(step, seq_BxL, jnp.arange(spec.response_length))
  return seq_BxL[:, 1 + Lx:]


def count_params(params) -> int:
  return int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(params)))
