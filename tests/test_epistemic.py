"""Epistemic LMs (ensemble with randomized priors, epinet): structure and uncertainty behaviour."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lmrl import agent as agent_lib
from lmrl import epistemic
from lmrl import lm as lm_lib
from lmrl import metrics
from lmrl import update
from lmrl import world as world_lib
from tests import conftest

KINDS = ['ensemble', 'epinet']


def _members(epi, params, prompts, spec):
  return jax.jit(lambda p: epistemic.member_exact_log_probs(epi, p, prompts, spec))(params)


@pytest.mark.parametrize('kind', KINDS)
def test_make_epistemic_lm_from_the_default_agent_config(kind, agent_config, lm_spec):
  config = agent_config(kind, num_members=5)
  epi = epistemic.make_epistemic_lm(config, lm_spec)
  assert epi.num_members == 5
  assert epi.uses_bootstrap == (kind == 'ensemble' and config.bootstrap != 'none')
  with config.unlocked():
    config.epistemic = 'dropout'
  with pytest.raises(ValueError, match='epistemic'):
    epistemic.make_epistemic_lm(config, lm_spec)


@pytest.mark.parametrize('kind', KINDS)
def test_members_differ_at_init_and_mixture_sums_to_one(kind, spec, joint_agent, all_prompts):
  epi, state, _, _ = joint_agent(kind)
  log_p_MxPxN = _members(epi, state.params, all_prompts, spec)
  M = conftest.SMALL_MEMBERS
  chex.assert_shape(log_p_MxPxN, (M, spec.num_prompts, spec.num_responses))
  chex.assert_tree_all_finite(log_p_MxPxN)
  np.testing.assert_allclose(jnp.exp(log_p_MxPxN).sum(-1), 1.0, rtol=1e-5)
  # Every pair of members has a visibly different response distribution.
  for a in range(M):
    for b in range(a + 1, M):
      assert metrics.total_variation(log_p_MxPxN[a], log_p_MxPxN[b]) > 0.02, (a, b)
  assert metrics.epistemic_spread(log_p_MxPxN) > 1e-3
  log_p_bar = metrics.mixture_log_probs(log_p_MxPxN)
  np.testing.assert_allclose(jnp.exp(log_p_bar).sum(-1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(jnp.exp(log_p_bar), jnp.exp(log_p_MxPxN).mean(0), rtol=1e-5)


@pytest.mark.parametrize('kind,center_prior', [('ensemble', True), ('ensemble', False),
                                               ('epinet', None)])
def test_apply_blocks_runs_mixture_member_m_on_block_m(kind, center_prior, spec, lm_spec,
                                                       joint_agent, agent_config):
  epi, state, _, _ = joint_agent(kind)
  if center_prior is not None:
    config = agent_config(kind, conftest.SMALL_MEMBERS)
    with config.unlocked():
      config.center_prior = center_prior
    epi = epistemic.make_epistemic_lm(config, lm_spec)
  M, R, L = epi.num_members, 5, 1 + spec.prompt_length + spec.response_length
  tokens_MxRxL = jax.random.randint(jax.random.key(3), (M, R, L), 0, spec.vocab_size)
  blocks = jax.jit(epi.apply_blocks)(state.params, tokens_MxRxL)
  for m in range(M):
    every_member = epi.apply(state.params, state.params.mixture_index_M, tokens_MxRxL[m])
    np.testing.assert_allclose(blocks[m], every_member[m], atol=1e-5)


def test_explorer_samples_follow_the_mixture_with_every_member_equally_often(
    spec, joint_agent, all_prompts):
  """Grouped (stratified) sampling: the mixture's and Thompson's samples have the mixture's law."""
  epi, state, _, _ = joint_agent('ensemble')
  M, num = epi.num_members, 3000
  member_P = agent_lib.balanced_members(jax.random.key(0), 10, M)
  assert member_P.shape == (M * 4,) and np.all(np.bincount(member_P) == 4)
  explorer = agent_lib.epistemic_explorer(epi, state.params, spec)
  prompts = jnp.repeat(all_prompts, num, axis=0)  # num is not a multiple of M: padded rows.
  mixture_B = jax.jit(explorer.sample)(jax.random.key(1), prompts, 1.0)
  thompson_BxKxLy = jax.jit(explorer.sample_thompson, static_argnums=2)(
      jax.random.key(2), prompts, 2)
  p_PxN = np.exp(np.asarray(metrics.mixture_log_probs(
      _members(epi, state.params, all_prompts, spec))), dtype=np.float64)
  for samples in (mixture_B, thompson_BxKxLy[:, 0], thompson_BxKxLy[:, 1]):
    y = np.asarray(world_lib.sequence_index(samples, spec.vocab_size)).reshape(-1, num)
    for x in range(spec.num_prompts):
      freq = np.bincount(y[x], minlength=spec.num_responses) / num
      se = np.sqrt(p_PxN[x] * (1 - p_PxN[x]) / num)
      assert np.all(np.abs(freq - p_PxN[x]) <= 5 * se + 1e-3), (x, freq, p_PxN[x])


@pytest.mark.parametrize('kind', KINDS)
def test_zero_prior_scale_ensemble_members_equal_the_base_lm(kind, spec, lm_spec, joint_agent,
                                                              base_params, exact_fn,
                                                              all_prompts):
  """With beta = 0 and the initial parameters, every member is the pre-trained LM.

  The ensemble's members start at the base parameters; the epinet's trainable MLP is random but
  its output layer starts at zero, so its offset is exactly 0 and every mixture index gives the
  base LM's logits exactly: the members are bitwise equal (and equal the base LM up to the
  rounding of another compiled program). With beta = 1 they differ
  (`test_members_differ_at_init_and_mixture_sums_to_one`).
  """
  epi, state, _, _ = joint_agent(kind)
  params = state.params._replace(prior_scale=jnp.asarray(0.0, jnp.float32))
  log_p_MxPxN = _members(epi, params, all_prompts, spec)
  for m in range(epi.num_members):
    np.testing.assert_allclose(log_p_MxPxN[m], exact_fn(base_params), atol=1e-5)
  if kind == 'epinet':  # Bitwise: every member's offset is exactly 0 (base logits + 0.0).
    for m in range(1, epi.num_members):
      np.testing.assert_array_equal(log_p_MxPxN[m], log_p_MxPxN[0])


# The ensemble (the default) in the fast tier; the epinet's (~8 s) in the slow.
@pytest.mark.parametrize('kind', ['ensemble', pytest.param('epinet', marks=pytest.mark.slow)])
def test_prior_and_anchor_do_not_move_during_updates(kind, world, joint_agent,
                                                     make_choice_buffer):
  epi, state, step, hparams = joint_agent(kind)
  buffer = make_choice_buffer(jax.random.key(0), world, conftest.SMALL_BUFFER, 2,
                              epi.num_members)
  new_state = state
  for i in range(4):
    new_state, info = step(jax.random.key(i), new_state, buffer, world, hparams)
    chex.assert_tree_all_finite(info)
  chex.assert_trees_all_equal(new_state.params.prior, state.params.prior)
  chex.assert_trees_all_equal(new_state.params.anchor, state.params.anchor)
  chex.assert_trees_all_equal(new_state.params.prior_scale, state.params.prior_scale)
  chex.assert_trees_all_equal(new_state.params.mixture_index_M, state.params.mixture_index_M)
  # ... while the trained part did move, and the anchor still equals the initial train params.
  moved = jax.tree_util.tree_map(lambda a, b: float(jnp.max(jnp.abs(a - b))),
                                 new_state.params.train, state.params.train)
  assert max(jax.tree_util.tree_leaves(moved)) > 1e-3
  chex.assert_trees_all_equal(state.params.anchor, state.params.train)
  assert step._cache_size() == 1


@pytest.mark.slow  # ~90 s of compilation; the sweep tests vmap seeds in every fast run.
@pytest.mark.parametrize('kind', KINDS)
def test_init_and_update_are_vmappable_over_seeds(kind, spec, world, agent_config, lm_spec,
                                                  base_params, make_choice_buffer, all_prompts):
  epi = epistemic.make_epistemic_lm(agent_config(kind, 2), lm_spec)
  step = update.make_joint_update(epi, spec, full_ranking=False, rows=update.FitRows(batch_size=4),
                                  lm_term=update.NextTokenTerm(2, conftest.MAJORITY_ONLY))
  buffer = make_choice_buffer(jax.random.key(0), world, 16, 2, epi.num_members)

  def run(key):
    key_init, key_step = jax.random.split(key)
    state = update.init_agent_state(key_init, epi, base_params, prior_scale=1.0)
    for i in range(2):
      state, _ = step(jax.random.fold_in(key_step, i), state, buffer, world,
                      conftest.hparams(learning_rate=1e-3))
    return epistemic.member_exact_log_probs(epi, state.params, all_prompts, spec)

  keys_S = jax.random.split(jax.random.key(4), 3)
  log_p_SxMxPxN = jax.jit(jax.vmap(run))(keys_S)
  chex.assert_shape(log_p_SxMxPxN, (3, 2, spec.num_prompts, spec.num_responses))
  chex.assert_tree_all_finite(log_p_SxMxPxN)
  # Seeds differ, and seed 1 of the vmapped run is the run of seed 1 alone.
  assert not np.allclose(log_p_SxMxPxN[0], log_p_SxMxPxN[1], atol=1e-3)
  np.testing.assert_allclose(np.exp(log_p_SxMxPxN[1]), np.exp(jax.jit(run)(keys_S[1])),
                             atol=2e-3)


# ----------------------------------------------------------------------------- uncertainty


def _disagreement(log_p_MxN, reference):
  """Variance over members of log p_m(y|x) - mean_{y' in reference} log p_m(y'|x), float[N].

  Choices only reveal utility differences among the shown responses: the total mass a member
  gives the shown set is not identified by them (only the corpus term weakly anchors it), so
  disagreement is measured relative to each member's mean log-prob of the shown set.
  """
  log_p_MxN = np.asarray(log_p_MxN, np.float64)
  centred_MxN = log_p_MxN - log_p_MxN[:, reference].mean(axis=1, keepdims=True)
  return np.var(centred_MxN, axis=0)


@pytest.mark.slow
@pytest.mark.parametrize('kind', KINDS)
def test_vmapped_fits_over_seeds_are_independent_lanes(kind, spec, choice_fits):
  fits = choice_fits(kind)
  L = len(fits.lanes)
  chex.assert_shape(fits.fitted, (L, conftest.FIT_MEMBERS, spec.num_prompts,
                                  spec.num_responses))
  chex.assert_tree_all_finite((fits.initial, fits.fitted))
  # Same data, different agent seeds: different initial members and different fits.
  a, b = fits.lanes['large_0'], fits.lanes['large_1']
  assert not np.allclose(fits.initial[a], fits.initial[b], atol=1e-3)
  assert not np.allclose(fits.fitted[a], fits.fitted[b], atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize('kind', KINDS)
def test_disagreement_is_lower_where_data_is_and_shrinks_with_data(kind, choice_fits):
  """Members agree more on shown responses than on never-shown ones, and more with more data.

  Four members, the default regularisers (lambda_lm 0.1, lambda_l2 1e-4, beta 1), 300 joint
  steps of 32 pairwise choices at lr 1e-2 from a buffer of 16 or 1024 choices, all for prompt 0
  and among responses 0..4 only. Disagreement is the variance over members of log p_m(y | x=0)
  (centred on each member's mean over the shown responses, see `_disagreement`), averaged over
  a set of responses and over three agent seeds.

  Measured, centred, per seed (ensemble; epinet): with 1024 choices shown 0.05 0.07 0.09 vs
  never shown 0.51 0.82 4.57; shown 0.13 0.09 0.08 vs never 0.35 0.97 0.24. Shown with 16
  choices: 0.45 3.55 0.54; 0.42 0.10 0.20. Uncentred, the ensemble's third seed has shown 2.0
  vs never 1.5: one member moved the whole shown set down by ~4 nats, which choices cannot see.
  """
  fits = choice_fits(kind)
  shown = np.asarray(conftest.UNCERTAINTY_POOL)
  never = np.setdiff1d(np.arange(fits.fitted.shape[-1]), shown)

  def mean_disagreement(size, responses):
    return np.mean([
        _disagreement(fits.fitted[fits.lanes[f'{size}_{s}'], :, 0], shown)[responses]
        for s in range(conftest.UNCERTAINTY_SEEDS)])

  shown_large, never_large = mean_disagreement('large', shown), mean_disagreement('large', never)
  shown_small = mean_disagreement('small', shown)
  print(f'{kind}: disagreement shown/never-shown (1024 choices) {shown_large:.3f}/'
        f'{never_large:.3f}; shown with 16 choices {shown_small:.3f}')
  assert shown_large < never_large, (shown_large, never_large)
  assert shown_large < shown_small, (shown_large, shown_small)


def test_centred_priors_disagree_but_average_to_the_base_lm(spec, lm_spec, base_params,
                                                            agent_config, all_prompts):
  """`center_prior`: members still differ, and their mean logits are the pre-trained LM's."""
  config = agent_config('ensemble', 4)
  with config.unlocked():
    config.center_prior = True
  epi = epistemic.make_epistemic_lm(config, lm_spec)
  params = epi.init(jax.random.key(3), base_params, 1.0)
  tokens_BxL = world_lib.with_bos(jnp.asarray([[0, 1, 2], [2, 2, 1]], jnp.int32), spec)
  logits_MxBxLxV = jax.jit(epi.apply)(params, params.mixture_index_M, tokens_BxL)
  base_BxLxV = lm_lib.lm_logits(base_params, tokens_BxL, lm_spec)
  np.testing.assert_allclose(logits_MxBxLxV.mean(0), base_BxLxV, atol=1e-5)
  assert float(jnp.abs(logits_MxBxLxV[0] - logits_MxBxLxV[1]).max()) > 0.1
  log_p_MxPxN = _members(epi, params, all_prompts, spec)
  assert metrics.epistemic_spread(log_p_MxPxN) > 1e-3


def test_mean_logits_deployment_is_the_base_lm_whatever_beta_and_is_what_is_sampled(
    spec, lm_spec, base_params, agent_config, all_prompts, exact_fn):
  """`agent.deploy='mean_logits'` with centred priors deploys the pre-trained LM exactly before
  any choice, even at a prior scale where the members' probability mixture is far from it, and
  the explorer's `sample` (passive, boltzmann, infomax's pool) draws from that LM."""
  config = agent_config('ensemble', 4)
  with config.unlocked():
    config.center_prior = True
  epi = epistemic.make_epistemic_lm(config, lm_spec)
  params = epi.init(jax.random.key(3), base_params, 3.0)
  exact = jax.jit(agent_lib.deployed_exact_log_probs, static_argnums=(0, 3, 4))
  log_p_PxN, log_p_MxPxN = exact(epi, params, all_prompts, spec, 'mean_logits')
  log_mix_PxN, log_p_again_MxPxN = exact(epi, params, all_prompts, spec, 'mixture')
  log_base_PxN = exact_fn(base_params)
  np.testing.assert_allclose(log_p_PxN, log_base_PxN, atol=1e-4)
  np.testing.assert_allclose(log_p_MxPxN, log_p_again_MxPxN, atol=1e-5)
  np.testing.assert_allclose(log_mix_PxN, metrics.mixture_log_probs(log_p_MxPxN), atol=1e-5)
  assert metrics.epistemic_spread(log_p_MxPxN) > 0.05
  # The probability mixture of members that disagree this much is flatter than any of them.
  assert float(metrics.kl_divergence(log_base_PxN, log_mix_PxN)) > 0.05
  with pytest.raises(ValueError, match='agent.deploy'):
    agent_lib.deployed_exact_log_probs(epi, params, all_prompts, spec, 'median')

  num = 2000
  explorer = agent_lib.epistemic_explorer(epi, params, spec, 'mean_logits')
  samples_B = jax.jit(explorer.sample)(jax.random.key(1), jnp.repeat(all_prompts, num, 0), 1.0)
  y = np.asarray(world_lib.sequence_index(samples_B, spec.vocab_size)).reshape(-1, num)
  p_PxN = np.exp(np.asarray(log_p_PxN, np.float64))
  for x in range(spec.num_prompts):
    freq = np.bincount(y[x], minlength=spec.num_responses) / num
    se = np.sqrt(p_PxN[x] * (1 - p_PxN[x]) / num)
    assert np.all(np.abs(freq - p_PxN[x]) <= 5 * se + 1e-3), (x, freq, p_PxN[x])
