"""A fixed-capacity buffer of human choices: shapes never change as data arrives.

Rows are written in order (a ring: once full, the oldest rows are overwritten); `valid_H` marks
the rows that hold data, and `last_start` where the latest batch (a round's queries) begins.
Each row carries one bootstrap weight per ensemble member, drawn when the row is written.

Which rows a learning step fits (`REPLAY`: the joint update's `config.finetune.rows`; the
classic reward model's `config.classic.reward_rows`, one of `SAMPLED_REPLAY`):

  'uniform'  `sample_rows`: a batch drawn uniformly from every row. Over a run of T rounds a row
             written in round r is drawn ~(steps x batch / rows per round) ln(T / r) times: the
             first rounds are fitted most, the last ones barely;
  'recent'   `sample_rows(..., recent=True)`: half of the batch from the latest batch's rows, half
             uniformly from every row (no extra compute);
  'all'      every row, exactly (`lmrl.update`: the full-buffer gradient through the members'
             exact log-probability tables), where the world can be enumerated.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class ChoiceBuffer(NamedTuple):
  prompts_HxLx: jax.Array  # int32 prompt tokens.
  responses_HxKxLy: jax.Array  # int32 shown responses.
  ranking_HxK: jax.Array  # int32 positions of the shown responses, best first.
  bootstrap_HxM: jax.Array  # float32 per-member example weights.
  valid_H: jax.Array  # bool: row holds data.
  next_row: jax.Array  # int32[]: where the next batch is written.
  last_start: jax.Array  # int32[]: where the latest batch was written (its rows: up to next_row).


def empty(capacity: int, prompt_length: int, num_shown: int, response_length: int,
          num_members: int) -> ChoiceBuffer:
  return ChoiceBuffer(
      prompts_HxLx=jnp.zeros((capacity, prompt_length), jnp.int32),
      responses_HxKxLy=jnp.zeros((capacity, num_shown, response_length), jnp.int32),
      ranking_HxK=jnp.tile(jnp.arange(num_shown, dtype=jnp.int32), (capacity, 1)),
      bootstrap_HxM=jnp.zeros((capacity, num_members), jnp.float32),
      valid_H=jnp.zeros((capacity,), bool),
      next_row=jnp.zeros((), jnp.int32),
      last_start=jnp.zeros((), jnp.int32))


BOOTSTRAP_KINDS = ('exponential', 'poisson', 'none')
REPLAY = ('uniform', 'recent', 'all')  # Which rows a step fits (module doc).
SAMPLED_REPLAY = ('uniform', 'recent')  # The replays that draw a batch (the classic reward fit's).


def bootstrap_weights(key: jax.Array, shape: tuple[int, ...], kind: str) -> jax.Array:
  """Per-example member weights with mean 1: 'exponential', 'poisson' or 'none' (all ones)."""
  if kind == 'exponential':
    return jax.random.exponential(key, shape)
  if kind == 'poisson':
    return jax.random.poisson(key, 1.0, shape).astype(jnp.float32)
  if kind == 'none':
    return jnp.ones(shape, jnp.float32)
  raise ValueError(f"bootstrap must be 'exponential', 'poisson' or 'none', got {kind!r}")


def append(buffer: ChoiceBuffer, prompts_BxLx, responses_BxKxLy, ranking_BxK, bootstrap_BxM
           ) -> ChoiceBuffer:
  """Writes a batch of `B` choices (B must divide the capacity)."""
  B = prompts_BxLx.shape[0]
  capacity = buffer.valid_H.shape[0]
  start = buffer.next_row
  put = lambda dst, src: jax.lax.dynamic_update_slice_in_dim(dst, src.astype(dst.dtype), start, 0)
  return ChoiceBuffer(
      prompts_HxLx=put(buffer.prompts_HxLx, prompts_BxLx),
      responses_HxKxLy=put(buffer.responses_HxKxLy, responses_BxKxLy),
      ranking_HxK=put(buffer.ranking_HxK, ranking_BxK),
      bootstrap_HxM=put(buffer.bootstrap_HxM, bootstrap_BxM),
      valid_H=put(buffer.valid_H, jnp.ones((B,), bool)),
      next_row=(start + B) % capacity,
      last_start=start)


def latest_rows(buffer: ChoiceBuffer) -> jax.Array:
  """bool[H]: the rows of the latest batch written (none before the first)."""
  row_H = jnp.arange(buffer.valid_H.shape[0])
  start, end = buffer.last_start, buffer.next_row
  inside_H = jnp.where(start < end, (row_H >= start) & (row_H < end),  # Else it wrapped round.
                       (row_H >= start) | (row_H < end))
  return inside_H & buffer.valid_H


def sample_rows(key: jax.Array, buffer: ChoiceBuffer, num: int, recent: bool = False
                ) -> jax.Array:
  """`num` row indices drawn uniformly (with replacement) from the valid rows, int32[num].

  With `recent`, the last `num // 2` are drawn from the latest batch's rows instead (replay that
  favours new data; `REPLAY`'s 'recent'). Rows are written in order from row 0, so the valid ones
  are rows 0..n-1 (all of them once the ring is full) and the latest batch's a run of rows from
  `last_start` (round the ring): a draw is one integer, and its cost does not grow with the
  buffer's capacity (a categorical over every row cost `num x capacity`: long runs were slower
  per round than short ones).
  """
  capacity = buffer.valid_H.shape[0]
  num_valid = jnp.sum(buffer.valid_H, dtype=jnp.int32)
  if not recent:
    return jax.random.randint(key, (num,), 0, num_valid, dtype=jnp.int32)
  key_all, key_latest = jax.random.split(key)
  num_latest = (buffer.next_row - buffer.last_start) % capacity
  num_latest = jnp.where(num_latest == 0, num_valid, num_latest)  # One batch filled the ring.
  latest = (buffer.last_start + jax.random.randint(key_latest, (num // 2,), 0, num_latest,
                                                   dtype=jnp.int32)) % capacity
  return jnp.concatenate([
      jax.random.randint(key_all, (num - num // 2,), 0, num_valid, dtype=jnp.int32), latest])
