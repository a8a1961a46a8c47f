"""The joint agent's explorer (`lmrl.agent.epistemic_explorer`): which member samples what."""

import collections
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from lmrl import agent as agent_lib
from lmrl import world as world_lib

KEYS = 100  # Calls of sample_thompson (independent keys) per case.


def _marking_explorer(epi, params, spec, num_members):
  """The real explorer over `epi` with M = `num_members`, whose block of member m always
  samples response m: each shown response names the member that sampled it.

  Only `apply_blocks` (what the mixture's and Thompson's sampling evaluate) is replaced: its
  logits put +1e4 on response m's token at each position that predicts one.
  """
  responses_MxLy = jnp.asarray(world_lib.all_responses(spec)[:num_members])

  def apply_blocks(params, tokens_MxRxL):
    del params
    M, R, L = tokens_MxRxL.shape
    logits_MxRxLxV = jnp.zeros((M, R, L, spec.vocab_size))
    for t in range(spec.response_length):  # Position Lx + t predicts response token t.
      marks_MxV = 1e4 * jax.nn.one_hot(responses_MxLy[:, t], spec.vocab_size)
      logits_MxRxLxV = logits_MxRxLxV.at[:, :, spec.prompt_length + t].set(marks_MxV[:, None])
    return logits_MxRxLxV

  marked = epi._replace(apply_blocks=apply_blocks, num_members=num_members)
  return agent_lib.epistemic_explorer(marked, params, spec)


def test_double_thompson_shows_k_distinct_members_per_row(spec, joint_agent, all_prompts):
  """M = 4 members, K = 3 shown, B = 12 rows, 100 calls: each row's K responses come from K
  different members; for every response slot each member samples B / M rows; and a row's
  ordered K-tuple of members is uniform over the 24 ordered draws without replacement. (Within
  one call the rows' tuples are windows of one permutation, so the rows are not independent.)"""
  num_members, num_shown, rows = 4, 3, 12
  epi, state, _, _ = joint_agent('ensemble')
  assert epi.members_are_indices
  explorer = _marking_explorer(epi, state.params, spec, num_members)
  prompts_BxLx = all_prompts[jnp.arange(rows) % all_prompts.shape[0]]
  members_KEYSxBxK = jax.jit(jax.vmap(lambda k: world_lib.sequence_index(
      explorer.sample_thompson(k, prompts_BxLx, num_shown), spec.vocab_size)))(
          jax.random.split(jax.random.key(0), KEYS))
  members_KEYSxBxK = np.asarray(members_KEYSxBxK)
  assert members_KEYSxBxK.shape == (KEYS, rows, num_shown)
  assert members_KEYSxBxK.min() >= 0 and members_KEYSxBxK.max() < num_members
  for row in members_KEYSxBxK.reshape(-1, num_shown):
    assert len(set(row.tolist())) == num_shown, row  # Distinct members in every row.
  if rows % num_members == 0:
    for call in members_KEYSxBxK:  # Balanced: B / M rows per member, in every slot.
      for k in range(num_shown):
        assert np.bincount(call[:, k], minlength=num_members).tolist() == (
            [rows // num_members] * num_members), call
  counts = collections.Counter(map(tuple, members_KEYSxBxK.reshape(-1, num_shown).tolist()))
  draws = list(itertools.permutations(range(num_members), num_shown))
  assert set(counts) == set(draws)
  n, p = KEYS * rows, 1 / len(draws)
  for draw in draws:
    assert abs(counts[draw] - n * p) <= 5 * np.sqrt(n * p * (1 - p)), (draw, counts)


def test_each_members_draws_follow_its_own_table_and_temperature_0_is_greedy(
    spec, joint_agent, all_prompts):
  """`sample_members` (epig without tables): row (b, m) holds member m's draws, distributed as
  m's exact table (frequencies within 5 standard errors, 4,000 draws per member and prompt), and
  `utilities` scores them as that table does; at temperature 0 every member's response is its
  greedy one (each token the most probable given the ones before)."""
  epi, state, _, _ = joint_agent('ensemble')
  explorer = agent_lib.epistemic_explorer(epi, state.params, spec)
  prompts_BxLx = all_prompts[:2]
  num = 4000
  draws_BxMxSxLy = jax.jit(explorer.sample_members, static_argnums=(2, 3))(
      jax.random.key(0), prompts_BxLx, num, 1.0)
  M = epi.num_members
  assert draws_BxMxSxLy.shape == (2, M, num, spec.response_length)
  log_p_MxBxN = np.asarray(explorer.member_log_probs(prompts_BxLx))
  index_BxMxS = np.asarray(world_lib.sequence_index(draws_BxMxSxLy, spec.vocab_size))
  for b, m in itertools.product(range(2), range(M)):
    p_N = np.exp(log_p_MxBxN[m, b])
    counts_N = np.bincount(index_BxMxS[b, m], minlength=p_N.size)
    np.testing.assert_array_less(np.abs(counts_N - num * p_N),
                                 5 * np.sqrt(num * p_N * (1 - p_N)) + 1, err_msg=f'{b} {m}')
  some_BxSxLy = draws_BxMxSxLy[:, 0, :8]
  np.testing.assert_allclose(
      explorer.utilities(prompts_BxLx, some_BxSxLy),
      np.take_along_axis(log_p_MxBxN, index_BxMxS[None, :, 0, :8], axis=-1), atol=1e-4)
  greedy_BxMxLy = np.asarray(explorer.sample_members(jax.random.key(1), prompts_BxLx, 1, 0.0))
  V, Ly = spec.vocab_size, spec.response_length
  for b, m in itertools.product(range(2), range(M)):
    table_N = log_p_MxBxN[m, b].reshape((V,) * Ly)
    tokens = []
    for t in range(Ly):  # The next token's log-probability given the greedy prefix.
      rest = table_N[tuple(tokens)]
      marginal_V = jax.nn.logsumexp(rest.reshape(V, -1), axis=-1)
      tokens.append(int(np.argmax(marginal_V)))
    assert greedy_BxMxLy[b, m, 0].tolist() == tokens, (b, m, greedy_BxMxLy[b, m, 0], tokens)


def _quadratic_step(minimum):
  """A step on a scalar state that adds 1 and reports the held-out loss (x - minimum)^2 of the
  state it starts from, as the joint update reports the loss of the parameters it starts from."""
  def step(x, i):
    del i
    return x + 1.0, {'held_out_loss': (x - minimum) ** 2, 'loss': x}
  return step


def test_learning_stops_where_the_held_out_loss_rises_and_keeps_the_lowest_state():
  """From 0 with the loss's minimum at 3: the loss rises at the state 4, so the step to 4 is
  undone, the state kept is 3 (3 steps), and the remaining steps are skipped; a loss that keeps
  falling takes every step; under vmap each lane stops on its own."""
  learn = jax.jit(lambda x0, minimum: agent_lib.learn_until_held_out_rises(
      _quadratic_step(minimum), x0, 8))
  state, info = learn(jnp.float32(0.0), jnp.float32(3.0))
  assert float(state) == 3.0 and int(info['steps_taken']) == 3
  state, info = learn(jnp.float32(0.0), jnp.float32(100.0))
  assert float(state) == 8.0 and int(info['steps_taken']) == 8
  state, info = learn(jnp.float32(0.0), jnp.float32(0.0))  # Rises at the first check: 0 steps.
  assert float(state) == 0.0 and int(info['steps_taken']) == 0
  states, infos = jax.vmap(learn)(jnp.zeros(3), jnp.array([1.0, 5.0, 100.0]))
  np.testing.assert_array_equal(states, [1.0, 5.0, 8.0])
  np.testing.assert_array_equal(infos['steps_taken'], [1, 5, 8])


def test_a_stop_puts_the_whole_state_back_and_the_last_step_is_not_checked():
  """A state of several leaves (a float, an int count, a nested pair) comes back whole from the
  state of the lowest loss; a rise caused by the last step is not seen (it would need one more
  pass), so a minimum at 7 of 8 steps keeps the state 8."""
  def step(state, i):
    del i
    x = state['x']
    return ({'x': x + 1.0, 'count': state['count'] + 1, 'pair': (x * 2.0, -x)},
            {'held_out_loss': (x - 2.0) ** 2})
  start = {'x': jnp.float32(0.0), 'count': jnp.int32(0), 'pair': (jnp.float32(0.0),
                                                                   jnp.float32(0.0))}
  state, info = jax.jit(lambda s: agent_lib.learn_until_held_out_rises(step, s, 8))(start)
  assert float(state['x']) == 2.0 and int(state['count']) == 2 and int(info['steps_taken']) == 2
  assert [float(v) for v in state['pair']] == [2.0, -1.0]  # The state made by the second step.
  late = lambda x, i: (x + 1.0, {'held_out_loss': (x - 7.0) ** 2})
  state, info = agent_lib.learn_until_held_out_rises(late, jnp.float32(0.0), 8)
  assert float(state) == 8.0 and int(info['steps_taken']) == 8
