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
