"""The classic RLHF baseline: reward models fitted to choices, then REINFORCE on the policy.

Everything runs on the tiny config (lmrl/configs/tiny.py): V=3, Lx=1, Ly=2 (3 prompts,
9 responses each), a width-16 one-block LM pre-trained for 100 steps on the majority's corpus.
"""

from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from lmrl.configs import tiny
from lmrl import buffer as buffer_lib
from lmrl import checks
from lmrl import choices
from lmrl import classic
from lmrl import epistemic
from lmrl import errors
from lmrl import hyperparams
from lmrl import lm as lm_lib
from lmrl import loop
from lmrl import metrics
from lmrl import pipeline
from lmrl import sweep
from lmrl import update
from lmrl import world as world_lib
from tests import conftest

NUM_CHOICES = 2048  # Pairwise choices among uniform responses for the fitting tests.
FIT_ROUNDS = 150  # learn() calls of the fitting test: 300 reward + 300 policy steps.
STEPPED_ROUNDS = 2  # learn() calls of the fast tests' moved state.
POLICY_STEPS = 400  # REINFORCE steps of the policy-stage test.


def tiny_config(**overrides):
  """The tiny config with `agent.kind = 'classic'`; `section__field=value` overrides fields."""
  config = tiny.get_config()
  config.agent.kind = 'classic'
  for name, value in overrides.items():
    section, field = name.split('__')
    config[section][field] = value
  return config


@pytest.fixture(scope='module')
def setup():
  """(config, spec, lm_spec, world, pre-trained params) of the tiny config."""
  config = tiny_config()
  spec, lm_spec, world = pipeline.build_world(config)
  params, _ = pipeline.pretrained_lm(config, spec, lm_spec, world, log=lambda _: None)
  return config, spec, lm_spec, world, params


def uniform_choice_buffer(key, world, spec, n, num_members):
  """`n` Luce choices on p* between two uniformly random responses to prompts drawn from rho."""
  key_x, key_y, key_c, key_b = jax.random.split(key, 4)
  x_n = world_lib.sample_prompts(key_x, world, n)
  y_nxKxLy = jax.random.randint(key_y, (n, 2, spec.response_length), 0, spec.vocab_size)
  ranking_nxK = choices.simulate_rankings(key_c, world, spec, x_n, y_nxKxLy)
  buffer = buffer_lib.empty(n, spec.prompt_length, 2, spec.response_length, num_members)
  return buffer_lib.append(buffer, world_lib.prompt_tokens(x_n, spec), y_nxKxLy, ranking_nxK,
                           buffer_lib.bootstrap_weights(key_b, (n, num_members), 'exponential'))


def prompts_of(spec):
  return world_lib.prompt_tokens(jnp.arange(spec.num_prompts), spec)


def reward_target(log_members_MxPxN, entropy_weight=1.0):
  """`log softmax_y(r_bar / alpha)`: what the policy stage maximises towards, float32[P, N]."""
  # mean_m log softmax(r_m) = r_bar - (a per-prompt constant): the same softmax as r_bar's.
  return jax.nn.log_softmax(jnp.mean(log_members_MxPxN, axis=0) / entropy_weight, axis=-1)


# ----------------------------------------------------------------------------- pieces


def test_leave_one_out_baseline_matches_a_loop():
  values = np.asarray([1.0, 2.0, 4.0, -3.0, 5.0], np.float32)
  groups = np.asarray([0, 1, 0, 2, 0])
  expected = []
  for b in range(5):
    same = [values[j] for j in range(5) if j != b and groups[j] == groups[b]]
    others = [values[j] for j in range(5) if j != b]
    expected.append(np.mean(same) if same else np.mean(others))
  np.testing.assert_allclose(classic.leave_one_out_baseline(values, groups), expected, rtol=1e-6)


def test_reward_model_starts_from_the_pretrained_trunk(setup, stepped):
  fitted = stepped
  config, spec, lm_spec, _, params = setup
  state0 = fitted.state0
  M = config.agent.num_members
  for m in range(M):
    chex.assert_trees_all_equal(
        jax.tree_util.tree_map(lambda x: x[m], state0.reward.train['params']['trunk']),
        params['params'])
  chex.assert_trees_all_equal(state0.policy, params)
  seqs_BxL = world_lib.with_bos(jnp.asarray([[0, 1, 2], [2, 2, 0], [1, 0, 1]], jnp.int32), spec)

  @jax.jit
  def rewards(reward_params):
    member0 = jax.tree_util.tree_map(lambda x: x[0], reward_params.train)
    no_prior = reward_params._replace(prior_scale=jnp.zeros(()))
    return (classic.reward_network(lm_spec).apply(member0, seqs_BxL),
            lm_lib.apply_lm(params, seqs_BxL, lm_spec)[1][:, -1],
            fitted.rew.apply(no_prior, jnp.asarray([1]), seqs_BxL)[0],
            classic.member_boltzmann_log_probs(fitted.rew, reward_params, prompts_of(spec), spec))

  (r_B, features_BxD), lm_features_BxD, r_no_prior_B, log_members_MxPxN = rewards(state0.reward)
  # The head starts at zero (so does every reward with beta = 0); the features are the LM's.
  np.testing.assert_array_equal(r_B, 0.0)
  np.testing.assert_array_equal(r_no_prior_B, 0.0)
  np.testing.assert_allclose(features_BxD, lm_features_BxD, atol=1e-6)
  # With beta = 1 the frozen priors make the members' Boltzmann distributions differ.
  chex.assert_shape(log_members_MxPxN, (M, spec.num_prompts, spec.num_responses))
  np.testing.assert_allclose(jnp.exp(log_members_MxPxN).sum(-1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(log_members_MxPxN, fitted.exact0[1], atol=1e-5)
  assert metrics.epistemic_spread(log_members_MxPxN) > 1e-3


def test_unknown_epistemic_kind_and_bad_classic_fields_fail(setup):
  _, _, lm_spec, _, _ = setup
  with pytest.raises(ValueError, match='epistemic'):
    classic.make_epistemic_reward(tiny_config(agent__epistemic='dropout').agent, lm_spec)
  checks.validate(tiny_config())
  for field, value in [('policy_steps_per_round', 0), ('policy_batch_size', 0),
                       ('policy_learning_rate', 0.0), ('entropy_weight', -1.0)]:
    with pytest.raises(errors.ConfigError, match=f'config.classic.{field}'):
      checks.validate(tiny_config(**{f'classic__{field}': value}))


def best_of_pool_law(pi_PxN: np.ndarray, score_PxN: np.ndarray, pool_size: int) -> np.ndarray:
  """Law of the best (by `score`) of `pool_size` i.i.d. draws from `pi`, per prompt, [P, N].

  The best score's level set S(y) = {y': score(y') = score(y)} (scores within 1e-5 count as
  equal) wins with probability F(y)^C - F^-(y)^C, F (F^-) the mass of responses scored at most
  (below) score(y); within it the first of the pool's draws is taken, i.e. y w.p. pi(y)/pi(S(y)).
  """
  law_PxN = np.zeros_like(pi_PxN)
  for x in range(pi_PxN.shape[0]):
    for y in range(pi_PxN.shape[1]):
      tied_N = np.abs(score_PxN[x] - score_PxN[x, y]) <= 1e-5
      below = pi_PxN[x][(score_PxN[x] < score_PxN[x, y]) & ~tied_N].sum()
      level = pi_PxN[x][tied_N].sum()
      law_PxN[x, y] = ((below + level) ** pool_size - below ** pool_size) * pi_PxN[x, y] / level
  return law_PxN


def test_explorer_shapes_and_thompson_picks_its_members_best(setup, stepped):
  fitted = stepped
  config, spec, _, _, _ = setup
  agent, state = fitted.agent, fitted.state0
  B, K, M, C = 600, 2, agent.num_members, config.experiment.pool_size
  prompt_B = np.arange(B) % spec.num_prompts
  prompts_BxLx = world_lib.prompt_tokens(jnp.asarray(prompt_B), spec)

  @jax.jit
  def explore(key, state):
    explorer = agent.explorer(state, fitted.hparams)
    thompson_BxKxLy = explorer.sample_thompson(key, prompts_BxLx, K)
    r_MxBxK = explorer.utilities(prompts_BxLx, thompson_BxKxLy)
    log_members_MxPxN = classic.member_boltzmann_log_probs(fitted.rew, state.reward,
                                                           prompts_of(spec), spec)
    return explorer.sample(key, prompts_BxLx, 1.0), thompson_BxKxLy, r_MxBxK, log_members_MxPxN

  sample_BxLy, thompson_BxKxLy, r_MxBxK, log_members_MxPxN = explore(jax.random.key(1), state)
  chex.assert_shape(sample_BxLy, (B, spec.response_length))
  chex.assert_shape(thompson_BxKxLy, (B, K, spec.response_length))
  chex.assert_shape(r_MxBxK, (M, B, K))
  assert sample_BxLy.min() >= 0 and sample_BxLy.max() < spec.vocab_size
  # Utilities are the members' rewards: the same up to a per-prompt constant as their
  # Boltzmann log-probs.
  index_BxK = np.asarray(world_lib.sequence_index(thompson_BxKxLy, spec.vocab_size))
  log_members_MxBxK = np.asarray(log_members_MxPxN)[:, prompt_B[:, None], index_BxK]
  np.testing.assert_allclose(np.diff(r_MxBxK, axis=-1), np.diff(log_members_MxBxK, axis=-1),
                             atol=1e-4)

  # Each Thompson response is the best, under its own sampled member's reward r_m, of a pool of
  # C policy samples: given the prompt it has the law p_T = mean_m best_of_pool_law(pi, r_m, C).
  # A Thompson that ignored the members would draw each response from a law q of its own,
  # whatever its members: q = pi (the policy's sample), the best of C under the members' mean
  # reward (here pi's law again: the centred priors cancel in the mean, and the trained heads
  # start at zero), or under one fixed member. The test needs, against each such q, the
  # log-likelihood ratio LLR = sum_i log p_T(y_i | x_i) / q(y_i | x_i) of the B*K = 1200
  # responses to be at least log(1e6) = 13.8. Were the responses drawn from q (i.i.d. given the prompts: the pools
  # are), E_q[exp(LLR)] = prod_i E_q[p_T / q] = 1, so by Markov's inequality
  # P_q(LLR >= log 1e6) <= 1e-6: a Thompson ignoring the members passes with probability below
  # 1e-6. Drawn from p_T, LLR is about 1200 * KL(p_T || q): measured 158 against pi (and the
  # mean reward), 690-2570 against one member (state0: the members are their random priors).
  pi_PxN = np.exp(np.asarray(fitted.exact0[0], np.float64))
  pi_PxN /= pi_PxN.sum(-1, keepdims=True)
  r_MxPxN = np.asarray(log_members_MxPxN, np.float64)  # r_m up to a per-prompt constant.
  member_laws_MxPxN = np.stack([best_of_pool_law(pi_PxN, r_PxN, C) for r_PxN in r_MxPxN])
  np.testing.assert_allclose(member_laws_MxPxN.sum(-1), 1.0, rtol=1e-9)
  thompson_PxN = member_laws_MxPxN.mean(0)
  ignoring = {'policy': pi_PxN, 'mean reward': best_of_pool_law(pi_PxN, r_MxPxN.mean(0), C),
              **{f'member {m}': member_laws_MxPxN[m] for m in range(M)}}
  x_I, y_I = np.repeat(prompt_B, K), index_BxK.ravel()
  for name, q_PxN in ignoring.items():
    llr = np.sum(np.log(thompson_PxN[x_I, y_I]) - np.log(q_PxN[x_I, y_I]))
    assert llr >= np.log(1e6), (name, llr)
  # And the responses fit p_T itself (a G-test per prompt, at p-value 1e-6).
  for x in range(spec.num_prompts):
    counts_N = np.bincount(y_I[x_I == x], minlength=spec.num_responses)
    expected_N = counts_N.sum() * thompson_PxN[x]
    g = 2 * np.sum(counts_N[counts_N > 0] * np.log(counts_N / expected_N)[counts_N > 0])
    assert g < scipy.stats.chi2.isf(1e-6, spec.num_responses - 1), (x, g, counts_N, expected_N)


# ----------------------------------------------------------------------------- behaviour


def test_policy_stage_alone_moves_pi_to_exp_reward_over_alpha(setup):
  """Given the known reward r = log p*(y|x), REINFORCE on E[r] + alpha H drives pi to p*^(1/alpha).

  400 steps of 64 whole responses, Adam lr 3e-3, no next-token loss (at lr 1e-2 alpha = 0.5
  oscillates around KL 0.3-0.5).
  """
  config, spec, lm_spec, world, params = setup
  Lx = spec.prompt_length

  def pstar_reward(reward_params, index, seqs_BxL):
    del reward_params, index
    x_B = world_lib.sequence_index(seqs_BxL[:, 1:1 + Lx], spec.vocab_size)
    y_B = world_lib.sequence_index(seqs_BxL[:, 1 + Lx:], spec.vocab_size)
    return world.log_pstar_PxN[x_B, y_B]

  rew = epistemic.EpistemicNet(
      None, lambda params, index_I, seqs_BxL: pstar_reward(params, index_I, seqs_BxL)[None],
      None, None, None, None, num_members=1, train_copies=1, uses_bootstrap=False,
      members_are_indices=True)
  policy_update = classic.make_policy_update(rew, spec, lm_spec, batch_size=64, lm_batch_size=4,
                                             corpus_group_mix=(1.0, 0.0))

  @jax.jit
  def fit(key, entropy_weight):
    state = classic.ClassicState(
        reward=epistemic.EpistemicParams(None, None, None, jnp.zeros(()), jnp.arange(1)),
        reward_opt=None, policy=params, policy_opt=update.make_optimizer().init(params))
    hparams = conftest.hparams(policy_learning_rate=3e-3, lambda_lm=0.0,
                               entropy_weight=entropy_weight)
    state, info = jax.lax.scan(
        lambda s, i: policy_update(jax.random.fold_in(key, i), s, world, hparams),
        state, jnp.arange(POLICY_STEPS))
    exact = lambda policy: lm_lib.exact_log_probs(
        lambda t: lm_lib.lm_logits(policy, t, lm_spec), prompts_of(spec), spec)
    return exact(params), exact(state.policy), info

  for alpha in (1.0, 0.5):
    log_pi0_PxN, log_pi_PxN, info = fit(jax.random.key(0), jnp.float32(alpha))
    chex.assert_tree_all_finite(info)
    target_PxN = reward_target(world.log_pstar_PxN[None], alpha)
    before = metrics.kl_divergence(target_PxN, log_pi0_PxN)
    after = metrics.kl_divergence(target_PxN, log_pi_PxN)
    # Measured: KL(p* || pi) 0.37 -> ~1e-4 for alpha = 1; KL(p*^2 (normalised) || pi)
    # 1.5 -> ~0.005 for alpha = 0.5.
    assert before > 0.2 and after < 0.03, (alpha, before, after)
  assert fit._cache_size() == 1  # alpha is traced.


class Fitted(NamedTuple):
  agent: Any
  rew: epistemic.EpistemicNet
  state0: classic.ClassicState  # After init.
  state: classic.ClassicState  # After FIT_ROUNDS learn() calls.
  info: dict
  exact0: tuple  # agent.exact_log_probs(state0, every prompt).
  exact: tuple  # agent.exact_log_probs(state, every prompt).
  hparams: dict  # The traced hyper-parameters it ran with (the config's).


def _fit(setup, rounds: int) -> Fitted:
  """The classic agent before and after `rounds` learn() calls on many uniform choices.

  lr 1e-2 for both stages, reward batch 64, policy batch 64, lambda_l2 1e-4, lambda_lm 0.1.
  """
  _, spec, lm_spec, world, params = setup
  config = tiny_config(finetune__learning_rate=1e-2, finetune__batch_size=64,
                       finetune__lambda_l2=1e-4, finetune__lambda_lm=0.1,
                       classic__policy_learning_rate=1e-2, classic__policy_batch_size=64)
  agent = classic.make_classic_agent(config, spec, lm_spec)
  buffer = uniform_choice_buffer(jax.random.key(5), world, spec, NUM_CHOICES, agent.num_members)

  hparams = hyperparams.as_arrays(hyperparams.values(config))

  @jax.jit
  def run(key):
    state0 = agent.init(key, params, hparams)
    state, info = jax.lax.scan(
        lambda s, r: agent.learn(jax.random.fold_in(key, r), s, buffer, world, hparams), state0,
        jnp.arange(rounds))
    return (state0, state, info, agent.exact_log_probs(state0, prompts_of(spec)),
            agent.exact_log_probs(state, prompts_of(spec)))

  return Fitted(agent, classic.make_epistemic_reward(config.agent, lm_spec),
                *run(jax.random.key(0)), hparams)


@pytest.fixture(scope='module')
def fitted(setup) -> Fitted:
  """After FIT_ROUNDS learn() calls: the behavioural check's (slow tier)."""
  return _fit(setup, FIT_ROUNDS)


@pytest.fixture(scope='module')
def stepped(setup) -> Fitted:
  """After STEPPED_ROUNDS learn() calls: the start state and a state that has moved, for the
  fast checks of what starts where and what moves (the same compiled program shape)."""
  return _fit(setup, STEPPED_ROUNDS)


@pytest.mark.slow  # ~30 s: 150 learn() calls. Fast: the policy stage alone (below), the
#                   classic round compiled in tests/test_epig.py, what starts where and moves.
def test_classic_pipeline_moves_kl_to_pstar_down(setup, fitted):
  """The done-criterion of the baseline: reward fit + REINFORCE lowers KL(p* || pi) clearly."""
  _, spec, _, world, _ = setup
  info, (log_pi0_PxN, _), (log_pi_PxN, log_members_MxPxN) = (
      fitted.info, fitted.exact0, fitted.exact)
  chex.assert_tree_all_finite(info)
  chex.assert_shape(log_pi_PxN, (spec.num_prompts, spec.num_responses))
  np.testing.assert_allclose(jnp.exp(log_pi_PxN).sum(-1), 1.0, rtol=1e-5)
  kl_before = metrics.kl_divergence(world.log_pstar_PxN, log_pi0_PxN)
  kl_after = metrics.kl_divergence(world.log_pstar_PxN, log_pi_PxN)
  kl_reward = metrics.kl_divergence(world.log_pstar_PxN, reward_target(log_members_MxPxN))
  kl_policy_to_reward = metrics.kl_divergence(reward_target(log_members_MxPxN), log_pi_PxN)
  # Measured: 0.37 -> 0.18 (the reward target exp(r_bar) itself is at 0.20; pi tracks it to
  # KL ~0.01, the rest of the gap to p* being the reward model's error and lambda_lm). On other
  # CPUs the same code and seeds give 0.080 (at 158b3f8 too) and 0.30 (at 546768c, 2-core CPU,
  # with or without the suite's optimisation level 0: the reward target at 0.17, pi at KL 0.086
  # from it): REINFORCE's sampled steps amplify the float rounding of the CPU's own XLA code, so
  # the bound allows that spread; a policy that ignored the reward would stay at
  # KL(exp(r_bar) || pi_0), which it must close most of (below).
  assert kl_after < 0.85 * kl_before, (kl_before, kl_after)
  assert kl_reward < 0.7 * kl_before, (kl_before, kl_reward)
  kl_start_to_reward = metrics.kl_divergence(reward_target(log_members_MxPxN), log_pi0_PxN)
  assert kl_policy_to_reward < 0.1, (kl_policy_to_reward, kl_start_to_reward)
  assert kl_policy_to_reward < 0.5 * kl_start_to_reward, (kl_policy_to_reward, kl_start_to_reward)


def test_frozen_parts_do_not_move_while_reward_and_policy_do(stepped):
  fitted = stepped
  state0, state = fitted.state0, fitted.state
  chex.assert_trees_all_equal(state.reward.prior, state0.reward.prior)
  chex.assert_trees_all_equal(state.reward.anchor, state0.reward.anchor)
  chex.assert_trees_all_equal(state.reward.prior_scale, state0.reward.prior_scale)
  chex.assert_trees_all_equal(state.reward.mixture_index_M, state0.reward.mixture_index_M)
  chex.assert_trees_all_equal(state0.reward.anchor, state0.reward.train)
  moved = lambda a, b: max(jax.tree_util.tree_leaves(jax.tree_util.tree_map(
      lambda x, y: float(jnp.max(jnp.abs(x - y))), a, b)))
  assert moved(state.reward.train, state0.reward.train) > 1e-3
  assert moved(state.policy, state0.policy) > 1e-3


# ----------------------------------------------------------------------------- end to end


@pytest.mark.slow
@pytest.mark.parametrize('strategy', ['passive', 'infomax'])
def test_experiment_with_the_classic_agent(setup, strategy):
  """A sweep of the tiny experiment (2 seeds, 4 rounds in 2 chunks) gives finite metrics."""
  config, spec, lm_spec, world, params = setup
  agent = pipeline.make_agent(config, spec, lm_spec)
  e = config.experiment
  sweeper = sweep.make_sweep(loop.make_experiment(config, spec, agent, (strategy,)))
  lanes = sweep.make_lanes(sweep.seed_keys(config.seed, e.num_seeds), params, world)
  out, _ = sweep.run_strategy(sweeper, lanes, rounds=e.rounds,
                              rounds_per_chunk=e.rounds_per_chunk)
  S, R = e.num_seeds, e.rounds + 1
  for name in ('kl', 'tv', 'choice_loss', 'spread'):
    chex.assert_shape(out[name], (S, R))
  chex.assert_shape(out['coverage_G'], (S, R, spec.num_groups))
  # Round 0 has shown nothing, so its disagreement on shown responses is undefined (NaN).
  assert np.all(np.isnan(out['disagreement_shown'][:, 0]))
  chex.assert_tree_all_finite({**out, 'disagreement_shown': out['disagreement_shown'][:, 1:]})
  assert np.all(out['spread'] > 0)
  assert not np.allclose(out['kl'][0, 1:], out['kl'][1, 1:])  # Seeds differ.


@pytest.mark.slow
def test_epinet_reward_learns_and_keeps_its_prior(setup):
  _, spec, lm_spec, world, params = setup
  config = tiny_config(agent__epistemic='epinet')
  agent = classic.make_classic_agent(config, spec, lm_spec)
  buffer = uniform_choice_buffer(jax.random.key(5), world, spec, 64, agent.num_members)

  hparams = hyperparams.as_arrays(hyperparams.values(config))

  @jax.jit
  def run(key):
    state0 = agent.init(key, params, hparams)
    state, info = agent.learn(key, state0, buffer, world, hparams)
    return state0, state, info, agent.exact_log_probs(state, prompts_of(spec))

  state0, state, info, (log_pi_PxN, log_members_MxPxN) = run(jax.random.key(0))
  chex.assert_tree_all_finite((info, log_pi_PxN, log_members_MxPxN))
  chex.assert_shape(log_members_MxPxN, (config.agent.num_members, spec.num_prompts,
                                        spec.num_responses))
  chex.assert_trees_all_equal(state.reward.prior, state0.reward.prior)
  assert metrics.epistemic_spread(log_members_MxPxN) > 1e-4
