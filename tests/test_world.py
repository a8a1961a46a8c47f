"""The didactic world: enumeration, exact distributions, favourites."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from lmrl import world as world_lib


def test_enumerate_sequences_and_sequence_index_are_inverse():
  for vocab_size, length in [(3, 2), (4, 3), (6, 1), (2, 5)]:
    seqs = world_lib.enumerate_sequences(vocab_size, length)
    chex.assert_shape(seqs, (vocab_size ** length, length))
    assert seqs.min() >= 0 and seqs.max() < vocab_size
    # index(enumerate(n)) == n ...
    np.testing.assert_array_equal(world_lib.sequence_index(seqs, vocab_size),
                                  np.arange(vocab_size ** length))
    # ... and enumerate(index(tokens)) == tokens for random token sequences.
    tokens = jax.random.randint(jax.random.key(vocab_size + length), (50, length), 0, vocab_size)
    np.testing.assert_array_equal(seqs[np.asarray(world_lib.sequence_index(tokens, vocab_size))],
                                  tokens)
    # Every sequence appears exactly once.
    assert len({tuple(s) for s in seqs}) == vocab_size ** length


def test_world_tables_have_the_documented_shapes(spec, world):
  P, N, G = spec.num_prompts, spec.num_responses, spec.num_groups
  chex.assert_shape(world.log_rho_P, (P,))
  chex.assert_shape(world.log_weights_G, (G,))
  chex.assert_shape(world.log_q_GxPxN, (G, P, N))
  chex.assert_shape(world.log_pstar_PxN, (P, N))
  chex.assert_shape(world.favourites_GxPxN, (G, P, N))
  chex.assert_tree_all_finite((world.log_rho_P, world.log_q_GxPxN, world.log_pstar_PxN))


def test_world_distributions_sum_to_one(world):
  np.testing.assert_allclose(jnp.exp(world.log_rho_P).sum(), 1.0, atol=1e-5)
  np.testing.assert_allclose(jnp.exp(world.log_weights_G).sum(), 1.0, atol=1e-6)
  np.testing.assert_allclose(jnp.exp(world.log_q_GxPxN).sum(-1), 1.0, atol=1e-5)
  np.testing.assert_allclose(jnp.exp(world.log_pstar_PxN).sum(-1), 1.0, atol=1e-5)


def test_pstar_is_the_group_mixture(spec, world):
  weights_G = np.asarray(spec.group_weights)
  expected = np.einsum('g,gpn->pn', weights_G, np.exp(world.log_q_GxPxN))
  np.testing.assert_allclose(np.exp(world.log_pstar_PxN), expected, rtol=1e-5, atol=1e-7)


def test_groups_have_different_tastes(world):
  q_GxPxN = np.exp(world.log_q_GxPxN)
  assert np.abs(q_GxPxN[0] - q_GxPxN[1]).sum(-1).min() > 0.1


def test_make_world_is_deterministic_in_its_key(spec):
  a, b, c = (world_lib.make_world(jax.random.key(s), spec) for s in (7, 7, 8))
  chex.assert_trees_all_equal(a, b)
  assert not np.allclose(a.log_q_GxPxN, c.log_q_GxPxN)


def test_make_world_is_vmappable_over_keys(spec):
  keys = jax.random.split(jax.random.key(0), 3)
  worlds = jax.vmap(world_lib.make_world, in_axes=(0, None))(keys, spec)
  chex.assert_shape(worlds.log_pstar_PxN, (3, spec.num_prompts, spec.num_responses))
  chex.assert_trees_all_close(jax.tree_util.tree_map(lambda x: x[1], worlds),
                              world_lib.make_world(keys[1], spec), rtol=1e-6)


def test_make_world_is_jittable(spec):
  jitted = jax.jit(world_lib.make_world, static_argnums=1)(jax.random.key(0), spec)
  chex.assert_trees_all_close(jitted, world_lib.make_world(jax.random.key(0), spec), rtol=1e-6)


def test_favourites_picks_fewest_top_responses_on_a_hand_case():
  log_p = jnp.log(jnp.asarray([[0.1, 0.4, 0.2, 0.3],
                               [0.7, 0.1, 0.1, 0.1]]))
  # Row 0 sorted: 0.4 (idx 1), 0.3 (idx 3), 0.2 (idx 2), 0.1 (idx 0).
  np.testing.assert_array_equal(world_lib.favourites(log_p, 0.5),
                                [[False, True, False, True], [True, False, False, False]])
  np.testing.assert_array_equal(world_lib.favourites(log_p, 0.35),
                                [[False, True, False, False], [True, False, False, False]])
  fav_085 = world_lib.favourites(log_p, 0.85)
  np.testing.assert_array_equal(fav_085[0], [False, True, True, True])
  # Row 1 has ties: the top response and any two of the three tied ones.
  assert bool(fav_085[1, 0]) and int(fav_085[1].sum()) == 3
  np.testing.assert_array_equal(world_lib.favourites(log_p, 0.95)[0], [True, True, True, True])


def test_world_favourites_are_minimal_top_sets(spec, world):
  q_GxPxN = np.exp(np.asarray(world.log_q_GxPxN))
  fav_GxPxN = np.asarray(world.favourites_GxPxN)
  for g in range(spec.num_groups):
    for p in range(spec.num_prompts):
      q, fav = q_GxPxN[g, p], fav_GxPxN[g, p]
      assert fav.any()
      # Holds at least the mass ...
      assert q[fav].sum() >= spec.favourite_mass - 1e-6
      # ... with the top responses: every favourite is at least as likely as every other ...
      if (~fav).any():
        assert q[fav].min() >= q[~fav].max()
      # ... and is the fewest such: dropping the least likely favourite falls below the mass.
      assert q[fav].sum() - q[fav].min() < spec.favourite_mass


def test_sample_corpus_follows_the_chosen_group(spec, world):
  num = 20000
  for g in range(spec.num_groups):
    mix_G = jnp.zeros((spec.num_groups,)).at[g].set(1.0)
    corpus = jax.jit(world_lib.sample_corpus, static_argnums=(2, 4))(
        jax.random.key(g), world, spec, mix_G, num)
    chex.assert_shape(corpus, (num, spec.sequence_length))
    assert (corpus[:, 0] == spec.bos).all()
    assert (corpus[:, 1:] < spec.vocab_size).all()
    x_B = world_lib.sequence_index(corpus[:, 1:1 + spec.prompt_length], spec.vocab_size)
    y_B = world_lib.sequence_index(corpus[:, 1 + spec.prompt_length:], spec.vocab_size)
    counts = np.zeros((spec.num_prompts, spec.num_responses))
    np.add.at(counts, (np.asarray(x_B), np.asarray(y_B)), 1)
    joint = np.exp(world.log_rho_P)[:, None] * np.exp(world.log_q_GxPxN[g])
    se = np.sqrt(joint * (1 - joint) / num)
    assert np.all(np.abs(counts / num - joint) <= 5 * se + 1e-3)
