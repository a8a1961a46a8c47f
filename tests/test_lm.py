"""The transformer LM: shapes, causality, exact log-probs and sampling."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lmrl import lm as lm_lib
from lmrl import world as world_lib


@pytest.fixture(scope='module')
def params(lm_spec):
  return jax.jit(lm_lib.init_lm, static_argnums=1)(jax.random.key(42), lm_spec)


@pytest.fixture(scope='module')
def peaked_params(params):
  """The random LM with its output layer scaled up, so its distributions are far from uniform."""
  head = [k for k in params['params'] if k.startswith('Dense')]
  assert len(head) == 1
  scaled = jax.tree_util.tree_map(lambda x: x, params)
  scaled['params'][head[0]] = jax.tree_util.tree_map(lambda x: 8.0 * x,
                                                     params['params'][head[0]])
  return scaled


def _random_sequences(key, spec, num):
  body = jax.random.randint(key, (num, spec.prompt_length + spec.response_length), 0,
                            spec.vocab_size)
  return world_lib.with_bos(body, spec)


def test_apply_lm_shapes_and_dtypes(spec, lm_spec, params):
  tokens = _random_sequences(jax.random.key(0), spec, 5)
  logits, hidden = lm_lib.apply_lm(params, tokens, lm_spec)
  chex.assert_shape(logits, (5, spec.sequence_length, spec.vocab_size))
  chex.assert_shape(hidden, (5, spec.sequence_length, lm_spec.width))
  assert logits.dtype == jnp.float32
  chex.assert_tree_all_finite((logits, hidden))
  assert lm_lib.count_params(params) > 0


def test_changing_later_tokens_never_changes_earlier_logits(spec, lm_spec, params):
  L = spec.sequence_length
  logits_fn = jax.jit(lambda t: lm_lib.lm_logits(params, t, lm_spec))
  base = _random_sequences(jax.random.key(1), spec, 256)
  base_logits = logits_fn(base)
  for t in range(1, L):
    # Replace every token after position t-1 by fresh random tokens.
    other = _random_sequences(jax.random.key(100 + t), spec, 256)
    mixed = jnp.concatenate([base[:, :t], other[:, t:]], axis=1)
    assert not np.array_equal(mixed, base)
    mixed_logits = logits_fn(mixed)
    np.testing.assert_allclose(mixed_logits[:, :t], base_logits[:, :t], atol=1e-6, rtol=0)
    # ...and the logits at positions that do see the change do move.
    assert np.abs(mixed_logits[:, t:] - base_logits[:, t:]).max() > 1e-3


def test_logits_have_zero_gradient_wrt_later_positions(spec, lm_spec, params):
  """d logits[:, t] / d position_embedding[s] is exactly 0 for s > t and nonzero for s <= t.

  The learned position embedding row s enters the residual stream only at position s, so it is
  a continuous input of position s: this is the gradient check of causality.
  """
  L = spec.sequence_length
  tokens = _random_sequences(jax.random.key(2), spec, 3)

  def logits_at(position_LxD, t):
    p = jax.tree_util.tree_map(lambda x: x, params)
    p['params'] = dict(p['params'], position=position_LxD)
    return lm_lib.lm_logits(p, tokens, lm_spec)[:, t]

  position_LxD = params['params']['position']
  chex.assert_shape(position_LxD, (lm_spec.sequence_length, lm_spec.width))
  jacobian = jax.jit(jax.jacobian(logits_at), static_argnums=1)
  for t in range(L):
    jac_BxVxLxD = jacobian(position_LxD, t)
    per_position_L = np.abs(np.asarray(jac_BxVxLxD)).sum(axis=(0, 1, 3))
    np.testing.assert_array_equal(per_position_L[t + 1:], 0.0)
    assert np.all(per_position_L[:t + 1] > 0), (t, per_position_L)


def test_sequence_log_prob_is_sum_of_token_log_probs(spec, lm_spec, peaked_params):
  logits_fn = jax.jit(lambda t: lm_lib.lm_logits(peaked_params, t, lm_spec))
  seqs = _random_sequences(jax.random.key(3), spec, 64)
  per_token = lm_lib.token_log_probs(logits_fn(seqs), seqs)
  chex.assert_shape(per_token, (64, spec.sequence_length - 1))
  assert np.all(per_token <= 0)
  log_p_y_given_x = lm_lib.response_log_probs(logits_fn, seqs, spec.response_length)
  log_p_x = per_token[:, :spec.prompt_length].sum(-1)
  np.testing.assert_allclose(log_p_y_given_x + log_p_x, per_token.sum(-1), rtol=1e-5, atol=1e-5)
  # Token log-probs are the log-softmax of the logits read at the previous position.
  logits = logits_fn(seqs)
  manual = jax.nn.log_softmax(logits[np.arange(64), 1], -1)[np.arange(64), seqs[:, 2]]
  np.testing.assert_allclose(per_token[:, 1], manual, rtol=1e-5, atol=1e-6)
  # shown_log_probs agrees with response_log_probs.
  shown = lm_lib.shown_log_probs(logits_fn, seqs[:, 1:1 + spec.prompt_length],
                                 seqs[:, None, 1 + spec.prompt_length:], spec)
  chex.assert_shape(shown, (64, 1))
  np.testing.assert_allclose(shown[:, 0], log_p_y_given_x, rtol=1e-5, atol=1e-6)


def test_exact_log_probs_sum_to_one(spec, lm_spec, params, peaked_params, all_prompts):
  exact = jax.jit(lambda p: lm_lib.exact_log_probs(lambda t: lm_lib.lm_logits(p, t, lm_spec),
                                                   all_prompts, spec))
  for p in (params, peaked_params):
    log_p = exact(p)
    chex.assert_shape(log_p, (spec.num_prompts, spec.num_responses))
    chex.assert_tree_all_finite(log_p)
    np.testing.assert_allclose(jnp.exp(log_p).sum(-1), 1.0, rtol=1e-5)


def test_exact_log_probs_agree_with_response_log_probs(spec, lm_spec, peaked_params,
                                                       all_prompts):
  logits_fn = jax.jit(lambda t: lm_lib.lm_logits(peaked_params, t, lm_spec))
  log_p_PxN = lm_lib.exact_log_probs(logits_fn, all_prompts, spec)
  seqs = _random_sequences(jax.random.key(4), spec, 32)
  x = world_lib.sequence_index(seqs[:, 1:1 + spec.prompt_length], spec.vocab_size)
  y = world_lib.sequence_index(seqs[:, 1 + spec.prompt_length:], spec.vocab_size)
  np.testing.assert_allclose(log_p_PxN[x, y],
                             lm_lib.response_log_probs(logits_fn, seqs, spec.response_length),
                             rtol=1e-5, atol=1e-6)


def test_sample_responses_at_near_zero_temperature_is_greedy(spec, lm_spec, peaked_params,
                                                             all_prompts):
  logits_fn = jax.jit(lambda t: lm_lib.lm_logits(peaked_params, t, lm_spec))
  sample = jax.jit(lm_lib.sample_responses, static_argnums=(1, 3))
  samples = sample(jax.random.key(5), logits_fn, all_prompts, spec, 1e-6)
  chex.assert_shape(samples, (spec.num_prompts, spec.response_length))
  # The greedy path, token by token.
  seq = world_lib.with_bos(all_prompts, spec)
  for _ in range(spec.response_length):
    padded = jnp.concatenate(
        [seq, jnp.zeros((seq.shape[0], spec.sequence_length - seq.shape[1]), jnp.int32)], 1)
    next_token = jnp.argmax(logits_fn(padded)[:, seq.shape[1] - 1], -1).astype(jnp.int32)
    seq = jnp.concatenate([seq, next_token[:, None]], 1)
  np.testing.assert_array_equal(samples, seq[:, 1 + spec.prompt_length:])
  # Different keys give the same greedy path.
  np.testing.assert_array_equal(sample(jax.random.key(6), logits_fn, all_prompts, spec, 1e-6),
                                samples)


def test_sample_responses_frequencies_match_exact_log_probs(spec, lm_spec, peaked_params,
                                                            all_prompts):
  num = 20000
  logits_fn = lambda t: lm_lib.lm_logits(peaked_params, t, lm_spec)
  p_PxN = np.exp(np.asarray(lm_lib.exact_log_probs(jax.jit(logits_fn), all_prompts, spec)),
                 dtype=np.float64)
  assert p_PxN.max() > 0.3  # A far-from-uniform distribution.
  prompts = jnp.repeat(all_prompts, num, axis=0)
  samples = jax.jit(lm_lib.sample_responses, static_argnums=(1, 3))(
      jax.random.key(7), logits_fn, prompts, spec, 1.0)
  y = np.asarray(world_lib.sequence_index(samples, spec.vocab_size)).reshape(
      spec.num_prompts, num)
  for x in range(spec.num_prompts):
    freq = np.bincount(y[x], minlength=spec.num_responses) / num
    se = np.sqrt(p_PxN[x] * (1 - p_PxN[x]) / num)
    assert np.all(np.abs(freq - p_PxN[x]) <= 5 * se + 1e-3), (x, freq, p_PxN[x])


def test_sample_responses_temperature_flattens(spec, lm_spec, peaked_params, all_prompts):
  num = 4000
  logits_fn = lambda t: lm_lib.lm_logits(peaked_params, t, lm_spec)
  prompts = jnp.repeat(all_prompts, num, axis=0)
  sample = jax.jit(lm_lib.sample_responses, static_argnums=(1, 3))

  def entropy(temperature):
    y = np.asarray(world_lib.sequence_index(
        sample(jax.random.key(8), logits_fn, prompts, spec, temperature), spec.vocab_size))
    freq = np.bincount(y, minlength=spec.num_responses) / y.size
    return -np.sum(freq * np.log(np.maximum(freq, 1e-12)))

  assert entropy(0.5) < entropy(1.0) < entropy(4.0)


def test_prompt_only_next_token_loss_ignores_the_responses(spec, lm_spec, params):
  """`num_tokens=Lx` (the transition role only) counts the prompt tokens: a corpus that differs
  only in its responses gives the same loss, while the full-sequence loss differs."""
  Lx = spec.prompt_length
  a_BxL = world_lib.with_bos(jnp.asarray([[0, 1, 2], [2, 0, 0]], jnp.int32), spec)
  b_BxL = a_BxL.at[:, 1 + Lx:].set(jnp.asarray([[2, 2], [1, 1]], jnp.int32))
  logits_fn = lambda t: lm_lib.lm_logits(params, t, lm_spec)
  prompt = lambda s: lm_lib.next_token_loss(logits_fn, s, Lx)
  whole = lambda s: lm_lib.next_token_loss(logits_fn, s)
  np.testing.assert_allclose(prompt(a_BxL), prompt(b_BxL), rtol=1e-6)
  assert abs(float(whole(a_BxL) - whole(b_BxL))) > 1e-4
  expected = -jnp.mean(lm_lib.token_log_probs(logits_fn(a_BxL), a_BxL)[:, :Lx])
  np.testing.assert_allclose(prompt(a_BxL), expected, rtol=1e-6)
