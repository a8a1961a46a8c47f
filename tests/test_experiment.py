"""The compiled experiment (`lmrl.experiment`): its strategy switch on the real explorer."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from lmrl import epistemic
from lmrl import experiment
from lmrl import hyperparams
from lmrl import lm as lm_lib
from lmrl import pipeline
from lmrl import strategies
from lmrl import world as world_lib
from tests import conftest

# Every strategy, none at its index in the default config's order.
NAMES = ('thompson', 'boltzmann', 'infomax', 'uniform', 'passive')
ROWS = 3000  # Prompts of the one round each strategy index is run for (1000 per prompt).
TRACED = dict(temperature=3.0, pool_temperature=0.5, info_temperature=0.1, prior_scale=3.0)


def _round_of_every_strategy(world, base_params):
  """The shown pairs of one round of each strategy index, and what their exact laws need.

  The tiny config (the fixture's world and pre-trained LM), K = 2, `ROWS` prompts, the joint
  ensemble of 3 members; `TRACED` given to `init` as the run's traced values (not the config's:
  the strategies must read the run state's). Returns (prompt_I int[I], pairs_IxSxK int (per index
  of `NAMES` a [ROWS, K] array of response indices), {temperature: exact log p_m(y|x) of every
  member with its logits divided by it, [M, P, N]}, the config).
  """
  config = conftest.fixture_config()
  config.agent.kind = 'joint'
  config.experiment.strategies = NAMES
  config.experiment.prompts_per_round = ROWS
  config.experiment.rounds = 1
  config.experiment.eval_every = 1
  spec, lm_spec = pipeline.build_specs(config)
  exp = experiment.make_experiment(config, spec, pipeline.make_agent(config, spec, lm_spec))
  assert exp.strategies == NAMES
  epi = epistemic.make_epistemic_lm(config.agent, lm_spec)
  hparams = hyperparams.values(config, TRACED)
  prompts_PxLx = jnp.asarray(world_lib.all_prompts(spec))

  @jax.jit
  def init(key):
    state = exp.init(key, base_params, world, hparams)
    logits_fn = epistemic.mixture_logits_fn(epi, state.agent.params)
    return state, {tau: lm_lib.exact_log_probs(lambda t, tau=tau: logits_fn(t) / tau,
                                               prompts_PxLx, spec)
                   for tau in (1.0, TRACED['temperature'], TRACED['pool_temperature'])}

  @jax.jit
  def shown(key, state, strategy):
    buffer = exp.one_round(key, state, world, 0, strategy)[0].buffer
    return (world_lib.sequence_index(buffer.prompts_HxLx, spec.vocab_size),
            world_lib.sequence_index(buffer.responses_HxKxLy, spec.vocab_size))

  state, member_log_probs = init(jax.random.key(0))
  prompt_I, pairs = None, []
  for i in range(len(NAMES)):
    prompt_I, pairs_IxK = shown(jax.random.key(1), state, np.int32(i))
    pairs.append(np.asarray(pairs_IxK))
  assert shown._cache_size() == 1  # One program, every strategy.
  return np.asarray(prompt_I), pairs, {t: np.asarray(v, np.float64)
                                       for t, v in member_log_probs.items()}, config


def _infomax_pair_law(log_p_MxN, pool_MxN, pool_size, info_temperature):
  """Ordered law [N, N] of infomax's pair (by pool position), by brute force over every pool.

  A pool is `pool_size` i.i.d. draws from the mixture `pool_MxN` (tempered members); the pair
  (i < j) of pool positions is drawn with probability softmax(I(y_i, y_j) / info_temperature),
  I the members' choice information (their utilities are log p_m).
  """
  num_members, num_responses = log_p_MxN.shape
  pool_N = pool_MxN.mean(0)
  luce_MxNxN = np.exp(log_p_MxN[:, :, None]) / (
      np.exp(log_p_MxN[:, :, None]) + np.exp(log_p_MxN[:, None, :]))  # P_m(first of (a, b)).
  choice_MxNxNx2 = np.stack([luce_MxNxN, 1 - luce_MxNxN], -1)
  mean_NxNx2 = choice_MxNxNx2.mean(0)
  info_NxN = np.mean(np.sum(choice_MxNxNx2 * np.log(choice_MxNxNx2 / mean_NxNx2), -1), 0)
  pools_ExC = np.asarray(list(itertools.product(range(num_responses), repeat=pool_size)))
  prob_E = np.prod(pool_N[pools_ExC], axis=1)
  tuples_UxK = np.asarray(list(itertools.combinations(range(pool_size), 2)))
  first_ExU, second_ExU = pools_ExC[:, tuples_UxK[:, 0]], pools_ExC[:, tuples_UxK[:, 1]]
  draw_ExU = scipy.special.softmax(info_NxN[first_ExU, second_ExU] / info_temperature, axis=1)
  law_NxN = np.zeros((num_responses, num_responses))
  np.add.at(law_NxN, (first_ExU, second_ExU), prob_E[:, None] * draw_ExU)
  return law_NxN


def _unordered(law_PxNxN):
  """Law of the unordered pair {a, b}, a <= b, flattened per prompt: [P, N (N + 1) / 2]."""
  a, b = np.triu_indices(law_PxNxN.shape[-1])
  return np.where(a == b, law_PxNxN[:, a, b], law_PxNxN[:, a, b] + law_PxNxN[:, b, a])


def test_each_strategy_index_runs_its_named_strategy_at_its_own_temperature(world,
                                                                            base_params):
  """Strategy index i of the compiled `lax.switch` (one round of `one_round` on the real joint
  explorer over the pre-trained LM) shows pairs with the exact law of strategy NAMES[i]:

    passive     K i.i.d. draws of the deployed mixture at temperature 1;
    boltzmann   K i.i.d. draws of the members tempered at `temperature` (3);
    uniform     uniform responses;
    thompson    K distinct members, one draw each (the unordered pair's law; M = 3, K = 2);
    infomax     a pool of 4 draws of the members tempered at `pool_temperature` (0.5), a pair of
                it drawn with prob. ~ exp(information / `info_temperature`) (brute force over
                every pool).

  Each index's 3000 pairs fit their law (G-test per prompt, p-value above 1e-6) and are more
  than 1e6 times likelier under it than under any other strategy's law or a swapped temperature
  (passive at 3, boltzmann at 1 or 0.5, infomax's pool at 1 or 3): a swap of passive's and
  boltzmann's temperatures, a branch order that is not NAMES', or always the first branch fails.
  The temperatures are given to `init` (beta 3 makes the members disagree), not the config's.
  """
  prompt_I, pairs, log_p, config = _round_of_every_strategy(world, base_params)
  tau, tau_pool = TRACED['temperature'], TRACED['pool_temperature']
  pool_size, info_tau = config.experiment.pool_size, TRACED['info_temperature']
  p = {t: np.exp(v) for t, v in log_p.items()}  # Tempered members, [M, P, N] (normalised:)
  p = {t: v / v.sum(-1, keepdims=True) for t, v in p.items()}
  num_members, num_prompts, num_responses = p[1.0].shape
  iid = lambda p_MxPxN: np.einsum('pa,pb->pab', p_MxPxN.mean(0), p_MxPxN.mean(0))
  distinct = (np.einsum('mpa,npb->pab', p[1.0], p[1.0])
              - np.einsum('mpa,mpb->pab', p[1.0], p[1.0])) / (num_members * (num_members - 1))
  infomax = lambda pool: np.stack([_infomax_pair_law(
      log_p[1.0][:, x], p[pool][:, x], pool_size, info_tau) for x in range(num_prompts)])
  laws = {
      'passive': iid(p[1.0]),
      'boltzmann': iid(p[tau]),
      'uniform': np.full((num_prompts, num_responses, num_responses), num_responses ** -2.0),
      'thompson': distinct,
      'infomax': infomax(tau_pool),
      'passive at temperature (swapped)': iid(p[tau]),
      'boltzmann at 1 (swapped)': iid(p[1.0]),
      'boltzmann at the pool temperature': iid(p[tau_pool]),
      'infomax pool at 1': infomax(1.0),
      'infomax pool at temperature': infomax(tau),
  }
  laws = {name: _unordered(law) for name, law in laws.items()}
  for name, law in laws.items():
    np.testing.assert_allclose(law.sum(-1), 1.0, rtol=1e-9, err_msg=name)
  a_C, b_C = np.triu_indices(num_responses)
  cell = {(a, b): c for c, (a, b) in enumerate(zip(a_C, b_C))}
  for i, name in enumerate(NAMES):
    cell_I = np.asarray([cell[tuple(sorted(pair))] for pair in pairs[i].tolist()])
    law = laws[name]
    for x in range(num_prompts):  # The G-test, cells of expected count < 5 merged.
      counts_C = np.bincount(cell_I[prompt_I == x], minlength=law.shape[1])
      expected_C = counts_C.sum() * law[x]
      small = expected_C < 5
      counts_C = np.append(counts_C[~small], counts_C[small].sum())
      expected_C = np.append(expected_C[~small], expected_C[small].sum())
      keep = counts_C > 0
      g = 2 * np.sum(counts_C[keep] * np.log(counts_C[keep] / expected_C[keep]))
      assert g < scipy.stats.chi2.isf(1e-6, len(counts_C) - 1), (i, name, x, g)
    for other, other_law in laws.items():
      if np.allclose(other_law, law):  # The same law under another name (a swap's twin).
        continue
      llr = np.sum(np.log(law[prompt_I, cell_I]) - np.log(other_law[prompt_I, cell_I]))
      print(i, name, other, llr)
      assert llr > np.log(1e6), (i, name, other, llr)
