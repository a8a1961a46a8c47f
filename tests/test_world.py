"""The didactic world: enumeration, exact distributions, favourites; the tabular and structured
kinds."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lmrl import pipeline
from lmrl import world as world_lib
from lmrl.configs import default


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


# ----------------------------------------------------------------------------- world kinds


def _tabular_world_before_kinds(key, spec):
  """`make_world` as it was before `WorldSpec.kind` (commit d6d3af5), verbatim in substance."""
  key_rho, key_teachers = jax.random.split(key)
  log_rho_P = jax.nn.log_softmax(
      spec.prompt_logit_scale * jax.random.normal(key_rho, (spec.num_prompts,)))
  V, Ly = spec.vocab_size, spec.response_length
  responses_NxLy = world_lib.all_responses(spec)
  teachers = []
  for g in range(spec.num_groups):
    key_g = jax.random.fold_in(key_teachers, g)
    log_q_PxN = jnp.zeros((spec.num_prompts, spec.num_responses), jnp.float32)
    for t in range(Ly):
      logits_PxAxV = jax.random.normal(
          jax.random.fold_in(key_g, t), (spec.num_prompts, V ** t, V)) / spec.teacher_temperature
      log_next_PxAxV = jax.nn.log_softmax(logits_PxAxV, axis=-1)
      prefix_N = responses_NxLy[:, :t] @ (V ** np.arange(t - 1, -1, -1))
      log_q_PxN = log_q_PxN + log_next_PxAxV[:, prefix_N, responses_NxLy[:, t]]
    teachers.append(log_q_PxN)
  log_q_GxPxN = jnp.stack(teachers)
  log_weights_G = jnp.log(jnp.asarray(spec.group_weights, jnp.float32))
  log_pstar_PxN = jax.nn.logsumexp(log_weights_G[:, None, None] + log_q_GxPxN, axis=0)
  favourites_GxPxN = jax.vmap(world_lib.favourites, in_axes=(0, None))(log_q_GxPxN,
                                                                      spec.favourite_mass)
  return world_lib.World(log_rho_P, log_weights_G, log_q_GxPxN, log_pstar_PxN, favourites_GxPxN)


def test_the_tabular_world_is_the_one_before_world_kinds(world):
  """Bit for bit against the code before world kinds, on a world of 3 groups and 2-token prompts;
  and the shared tiny world's values as that code gave them (pinned)."""
  assert pipeline.build_specs(default.get_config())[0].kind == 'tabular'
  spec = world_lib.WorldSpec(vocab_size=4, prompt_length=2, response_length=3,
                             group_weights=(0.5, 0.3, 0.2), teacher_temperature=0.5,
                             prompt_logit_scale=0.5, favourite_mass=0.5)
  jax.tree_util.tree_map(np.testing.assert_array_equal,
                         world_lib.make_world(jax.random.key(3), spec),
                         _tabular_world_before_kinds(jax.random.key(3), spec))
  np.testing.assert_allclose(world.log_q_GxPxN[:, 1, :3], [[-1.9055613, -6.8087378, -5.709473],
                                                           [-2.1773906, -5.075601, -1.4633359]],
                             rtol=1e-6)
  np.testing.assert_allclose(world.log_pstar_PxN[2, -3:], [-3.7616289, -2.0725243, -4.5605993],
                             rtol=1e-6)


STRUCTURED = world_lib.WorldSpec(  # The size: 64 prompts x 4,096 responses, a 10% minority.
    vocab_size=8, prompt_length=2, response_length=4, group_weights=(0.9, 0.1),
    teacher_temperature=0.5, prompt_logit_scale=0.5, favourite_mass=0.5, kind='structured',
    taste_scale=1.0, minority_opposition=1.0)
NUM_STRUCTURED = 4  # Worlds drawn (vmapped) for the structured world's tests.


@pytest.fixture(scope='module')
def structured_worlds():
  keys = jax.random.split(jax.random.key(0), NUM_STRUCTURED)
  worlds = jax.jit(jax.vmap(world_lib.make_world, in_axes=(0, None)), static_argnums=1)(
      keys, STRUCTURED)
  return jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64) if x.dtype == jnp.float32
                                else np.asarray(x), worlds)


def test_a_structured_world_is_proper_with_groups_that_favour_different_responses(
    structured_worlds):
  w, P, N = structured_worlds, STRUCTURED.num_prompts, STRUCTURED.num_responses
  assert P >= 64 and N >= 4096
  chex.assert_shape(w.log_q_GxPxN, (NUM_STRUCTURED, 2, P, N))
  chex.assert_tree_all_finite((w.log_rho_P, w.log_q_GxPxN, w.log_pstar_PxN))
  np.testing.assert_allclose(np.exp(w.log_rho_P).sum(-1), 1.0, atol=1e-5)
  np.testing.assert_allclose(np.exp(w.log_q_GxPxN).sum(-1), 1.0, atol=1e-4)
  np.testing.assert_allclose(np.exp(w.log_pstar_PxN).sum(-1), 1.0, atol=1e-4)
  np.testing.assert_allclose(np.exp(w.log_pstar_PxN),
                             np.einsum('g,wgpn->wpn', STRUCTURED.group_weights,
                                       np.exp(w.log_q_GxPxN)), rtol=1e-4, atol=1e-9)
  fav_WxGxPxN = w.favourites_GxPxN
  # Every prompt's favourites differ between the groups: opposed tastes share almost none.
  shared = (fav_WxGxPxN[:, 0] & fav_WxGxPxN[:, 1]).sum()
  assert shared <= 0.05 * fav_WxGxPxN[:, 1].sum()
  assert (fav_WxGxPxN[:, 0] != fav_WxGxPxN[:, 1]).any(-1).all()


def test_the_minoritys_favourites_are_rare_under_the_majoritys_teacher(structured_worlds):
  """What a majority-only corpus shows of the minority's favourites: at the default taste scale
  and full opposition, q_0(F_1 | x) averaged over rho is ~0.1-3% (measured over 8 worlds:
  0.0001-0.026), against q_1(F_1 | x) >= favourite_mass = 50%."""
  w = structured_worlds
  q_WxGxPxN, fav_WxGxPxN = np.exp(w.log_q_GxPxN), w.favourites_GxPxN
  rho_WxP = np.exp(w.log_rho_P)
  majority_on_minority_WxP = (q_WxGxPxN[:, 0] * fav_WxGxPxN[:, 1]).sum(-1)
  minority_on_minority_WxP = (q_WxGxPxN[:, 1] * fav_WxGxPxN[:, 1]).sum(-1)
  assert (minority_on_minority_WxP >= STRUCTURED.favourite_mass - 1e-5).all()
  per_world_W = (rho_WxP * majority_on_minority_WxP).sum(-1)
  assert (per_world_W < 0.05).all() and per_world_W.mean() < 0.02, per_world_W


def test_the_structured_parameters_do_what_they_say():
  # Minority opposition c: each minority's taste vector has correlation -c with the majority's.
  wide = STRUCTURED._replace(vocab_size=32, group_weights=(0.8, 0.1, 0.1))
  for c in (1.0, 0.5, 0.0, -0.5):
    theta_GxF = np.asarray(world_lib.taste_vectors_GxF(jax.random.key(0),
                                                       wide._replace(minority_opposition=c)))
    assert theta_GxF.shape == (3, 32 + 32 ** 2)
    np.testing.assert_allclose(theta_GxF.std(-1), 1.0, atol=0.05)
    for g in (1, 2):
      np.testing.assert_allclose(np.corrcoef(theta_GxF[0], theta_GxF[g])[0, 1], -c, atol=0.07)
  # Taste scale 0: every group is the base LM.
  flat = STRUCTURED._replace(vocab_size=3, prompt_length=1, response_length=2, taste_scale=0.0)
  w = jax.jit(world_lib.make_world, static_argnums=1)(jax.random.key(0), flat)
  np.testing.assert_allclose(w.log_q_GxPxN[0], w.log_q_GxPxN[1], atol=1e-6)
  assert not np.allclose(w.log_q_GxPxN[0, 0], w.log_q_GxPxN[0, 0, 0], atol=0.1)
  # Base scale 0: no per-prompt base, so two prompts ending in the same token are the same
  # teacher for every group; base scale 1 is the default world, bit for bit.
  no_base = flat._replace(prompt_length=2, taste_scale=1.0, base_scale=0.0)
  w = jax.jit(world_lib.make_world, static_argnums=1)(jax.random.key(0), no_base)
  same_last_token = world_lib.all_prompts(no_base)[:, -1] == 1  # Prompts (0, 1), (1, 1), (2, 1).
  log_q_GxQxN = np.asarray(w.log_q_GxPxN)[:, same_last_token]
  np.testing.assert_allclose(log_q_GxQxN, np.broadcast_to(log_q_GxQxN[:, :1], log_q_GxQxN.shape),
                             atol=1e-5)
  assert not np.allclose(w.log_q_GxPxN[:, 0], w.log_q_GxPxN[:, 1], atol=0.1)
  default = jax.jit(world_lib.make_world, static_argnums=1)(jax.random.key(0), flat)
  scaled = jax.jit(world_lib.make_world, static_argnums=1)(
      jax.random.key(0), flat._replace(base_scale=1.0))
  np.testing.assert_array_equal(default.log_q_GxPxN, scaled.log_q_GxPxN)


SMALL = STRUCTURED._replace(vocab_size=4, prompt_length=2, response_length=3,
                            minority_opposition=0.3)


@pytest.fixture(scope='module')
def small_keys_and_worlds():
  keys = jax.random.split(jax.random.key(0), 3)
  return keys, jax.jit(jax.vmap(world_lib.make_world, in_axes=(0, None)), static_argnums=1)(
      keys, SMALL)


def _next_token_log_probs(log_q_PxN, spec, t):
  """log q(y_t | x, y_<t) for every (prompt, prefix of length t, y_t), from the response table."""
  V, Ly = spec.vocab_size, spec.response_length
  q_PxAxVxR = np.exp(log_q_PxN).reshape(log_q_PxN.shape[0], V ** t, V, V ** (Ly - t - 1))
  joint_PxAxV = q_PxAxVxR.sum(-1)
  return np.log(joint_PxAxV / joint_PxAxV.sum(-1, keepdims=True))


def test_a_structured_taste_is_shared_by_every_prompt_and_prefix(small_keys_and_worlds):
  """Between two groups, the next-token log-odds differ by a function of (previous token, next
  token) alone: the same on every prompt and prefix that ends in that token."""
  log_q_GxPxN = np.asarray(small_keys_and_worlds[1].log_q_GxPxN[0], np.float64)
  V, prompts_PxLx = SMALL.vocab_size, world_lib.all_prompts(SMALL)
  seen = {}
  for t in range(SMALL.response_length):
    diff_PxAxV = (_next_token_log_probs(log_q_GxPxN[1], SMALL, t)
                  - _next_token_log_probs(log_q_GxPxN[0], SMALL, t))
    diff_PxAxV -= diff_PxAxV.mean(-1, keepdims=True)  # Log-odds: up to a constant per context.
    for p in range(SMALL.num_prompts):
      for a in range(V ** t):
        prev = prompts_PxLx[p, -1] if t == 0 else a % V
        seen.setdefault(prev, []).append(diff_PxAxV[p, a])
  assert sorted(seen) == list(range(V))
  for prev, diffs in seen.items():
    np.testing.assert_allclose(diffs, np.broadcast_to(diffs[0], np.shape(diffs)), atol=2e-3)
  assert not np.allclose(seen[0][0], seen[1][0], atol=0.1)  # The previous token matters.


def test_make_world_is_vmappable_and_jittable_over_keys_for_the_structured_kind(
    small_keys_and_worlds):
  keys, worlds = small_keys_and_worlds
  chex.assert_shape(worlds.log_q_GxPxN, (3, 2, SMALL.num_prompts, SMALL.num_responses))
  chex.assert_trees_all_close(jax.tree_util.tree_map(lambda x: x[1], worlds),
                              world_lib.make_world(keys[1], SMALL), rtol=1e-5, atol=1e-5)
  assert not np.allclose(worlds.log_q_GxPxN[0], worlds.log_q_GxPxN[1])


def test_an_unknown_world_kind_is_refused():
  with pytest.raises(ValueError, match='world kind must be one of'):
    world_lib.make_world(jax.random.key(0), STRUCTURED._replace(kind='graph'))


def test_table_bytes_counts_the_worlds_arrays(structured_worlds):
  one = jax.tree_util.tree_map(lambda x: x[0], structured_worlds)
  dtype_bytes = {np.float64: 4, np.bool_: 1}  # (The fixture holds float32 tables as float64.)
  counted = sum(x.size * dtype_bytes[x.dtype.type] for x in jax.tree_util.tree_leaves(one))
  assert world_lib.table_bytes(STRUCTURED) == counted
