"""The choice buffer: rows written in order as a ring, and which rows a learning step replays."""

import jax
import jax.numpy as jnp
import numpy as np

from lmrl import buffer as buffer_lib


def _filled(num_batches: int, capacity: int = 12, batch: int = 4) -> buffer_lib.ChoiceBuffer:
  """A buffer after `num_batches` appends of `batch` rows; row values mark their batch."""
  buffer = buffer_lib.empty(capacity, 1, 2, 1, 1)
  for i in range(num_batches):
    fill = jnp.full((batch, 1), i, jnp.int32)
    buffer = buffer_lib.append(buffer, fill, jnp.full((batch, 2, 1), i, jnp.int32),
                               jnp.zeros((batch, 2), jnp.int32), jnp.ones((batch, 1)))
  return buffer


def test_latest_rows_are_the_last_batch_also_after_the_ring_wraps():
  np.testing.assert_array_equal(buffer_lib.latest_rows(_filled(0)), [False] * 12)
  np.testing.assert_array_equal(np.flatnonzero(buffer_lib.latest_rows(_filled(2))), [4, 5, 6, 7])
  np.testing.assert_array_equal(np.flatnonzero(buffer_lib.latest_rows(_filled(3))), [8, 9, 10, 11])
  wrapped = _filled(4)  # The fourth batch overwrote rows 0..3.
  np.testing.assert_array_equal(np.flatnonzero(buffer_lib.latest_rows(wrapped)), [0, 1, 2, 3])
  assert set(np.asarray(wrapped.prompts_HxLx[buffer_lib.latest_rows(wrapped), 0])) == {3}


def test_recent_replay_draws_half_its_batch_from_the_latest_round():
  """'uniform' draws the latest batch's rows at their share of the buffer (4 of 12 rows: 1/3);
  'recent' draws half the batch from them, plus their share of the other half: 1/2 + 1/6."""
  buffer = _filled(3)
  draw = jax.jit(lambda key, recent: buffer_lib.sample_rows(key, buffer, 32, recent),
                 static_argnums=1)
  keys = jax.random.split(jax.random.key(0), 400)
  latest = lambda recent: np.mean([np.isin(np.asarray(draw(k, recent)), [8, 9, 10, 11]).mean()
                                   for k in keys])
  np.testing.assert_allclose(latest(False), 1 / 3, atol=0.015)
  np.testing.assert_allclose(latest(True), 1 / 2 + 1 / 6, atol=0.015)
  rows = np.asarray(draw(keys[0], True))
  assert np.all(np.isin(rows[16:], [8, 9, 10, 11]))  # The second half: the latest round only.


def test_uniform_replay_draws_every_valid_row_alike_before_and_after_the_ring_wraps():
  """Rows 0..n-1 at 1/n each while the buffer fills; every row alike once it is full; never an
  empty row. 'recent' draws the latest batch's rows alike, wherever the ring put them."""
  draw = jax.jit(lambda key, buffer, recent: buffer_lib.sample_rows(key, buffer, 4096, recent),
                 static_argnums=2)
  for batches, valid in [(1, 4), (2, 8), (3, 12), (5, 12)]:
    rows = np.asarray(draw(jax.random.key(batches), _filled(batches), False))
    counts = np.bincount(rows, minlength=12)
    assert counts[valid:].sum() == 0, (batches, counts)
    np.testing.assert_allclose(counts[:valid] / rows.size, 1 / valid, atol=0.025)
  latest = np.asarray(draw(jax.random.key(9), _filled(5), True))[2048:]  # Rows 4..7 (batch 4).
  np.testing.assert_allclose(np.bincount(latest, minlength=12) / latest.size,
                             [0] * 4 + [0.25] * 4 + [0] * 4, atol=0.03)
