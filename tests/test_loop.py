"""The compiled experiment (`lmrl.loop`): its strategy switch on the real explorer."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import scipy.stats

from lmrl import epistemic
from lmrl import hyperparams
from lmrl import world as world_lib
from tests import conftest

TRACED = dict(temperature=3.0, pool_temperature=0.5, info_temperature=0.1, prior_scale=3.0)


def _round_of_every_strategy(strategy_round):
  """Round 0 of each strategy index on the `strategy_round` fixture's lanes (4 seeds of 600
  prompts; K = 2, the joint ensemble of 3 members over the pre-trained LM), every lane with the
  traced values `TRACED` (not the config's: the strategies must read the run state's).

  Returns the prompts int[L, B], the shown pairs int[strategy, L, B, K] (response indices), and
  {temperature: exact log p_m(y|x) of every member with its logits divided by it, [L, M, P, N]}.
  """
  r = strategy_round
  num_lanes = conftest.ROUND_LANES
  keys_L = jax.random.split(jax.random.key(0), num_lanes)
  hparams = hyperparams.values(r.config, TRACED)
  hparams_L = {name: np.full(num_lanes, value, np.float32) for name, value in hparams.items()}
  state_L = r.init(keys_L, hparams_L)
  epi = epistemic.make_epistemic_lm(r.config.agent, r.lm_spec)
  prompts_PxLx = jnp.asarray(world_lib.all_prompts(r.spec))
  members = jax.jit(jax.vmap(lambda params: epistemic.member_exact_log_probs(
      epi, params, prompts_PxLx, r.spec)))
  log_p_LxMxPxN = np.asarray(members(state_L.agent.params), np.float64)
  log_p = {tau: _tempered(log_p_LxMxPxN, tau, r.spec)
           for tau in (1.0, TRACED['temperature'], TRACED['pool_temperature'])}
  pairs = []
  for i in range(len(r.experiment.strategies)):
    buffer_L = r.round(keys_L, state_L, np.int32(i))
    pairs.append(world_lib.sequence_index(buffer_L.responses_HxKxLy, r.spec.vocab_size))
  prompt_LxB = world_lib.sequence_index(buffer_L.prompts_HxLx, r.spec.vocab_size)
  assert r.round._cache_size() == 1  # One program, every strategy.
  return np.asarray(prompt_LxB), np.asarray(pairs), log_p


def _tempered(log_p_xN, tau, spec):
  """The law of responses sampled with every token's logits divided by `tau`, [..., N], from the
  untempered law `log_p_xN`: each token's conditional (a ratio of marginals of the joint)
  raised to 1 / tau and renormalised, as softmax(logits / tau) is."""
  V, Ly = spec.vocab_size, spec.response_length
  joint = log_p_xN.reshape(log_p_xN.shape[:-1] + (V,) * Ly)  # Base V: first token leading.
  out, lead = np.zeros_like(joint), log_p_xN.ndim - 1
  for t in range(Ly):
    upto = scipy.special.logsumexp(joint, axis=tuple(range(lead + t + 1, lead + Ly)),
                                   keepdims=True)  # log p(y_1..y_t+1).
    before = scipy.special.logsumexp(upto, axis=lead + t, keepdims=True)  # log p(y_1..y_t).
    cond = (upto - before) / tau
    out = out + cond - scipy.special.logsumexp(cond, axis=lead + t, keepdims=True)
  return out.reshape(log_p_xN.shape)


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


def _laws(log_p, pool_size, info_temperature):
  """{name: law of the unordered shown pair, [P, N (N + 1) / 2]} of every strategy, and of
  strategies with swapped temperatures, given one lane's tempered members' `log_p`."""
  tau, tau_pool = TRACED['temperature'], TRACED['pool_temperature']
  p = {t: np.exp(v) / np.exp(v).sum(-1, keepdims=True) for t, v in log_p.items()}  # [M, P, N]
  num_members, num_prompts, num_responses = p[1.0].shape
  iid = lambda p_MxPxN: np.einsum('pa,pb->pab', p_MxPxN.mean(0), p_MxPxN.mean(0))
  distinct = (np.einsum('mpa,npb->pab', p[1.0], p[1.0])
              - np.einsum('mpa,mpb->pab', p[1.0], p[1.0])) / (num_members * (num_members - 1))
  infomax = lambda pool: np.stack([_infomax_pair_law(
      log_p[1.0][:, x], p[pool][:, x], pool_size, info_temperature) for x in range(num_prompts)])
  laws = {
      'passive': iid(p[1.0]),
      'boltzmann': iid(p[tau]),
      'uniform': np.full((num_prompts, num_responses, num_responses), num_responses ** -2.0),
      'thompson': distinct,
      'infomax': infomax(tau_pool),
      'passive at the temperature (swapped)': iid(p[tau]),
      'boltzmann at 1 (swapped)': iid(p[1.0]),
      'boltzmann at the pool temperature': iid(p[tau_pool]),
      'infomax, pool at 1': infomax(1.0),
      'infomax, pool at the temperature': infomax(tau),
  }
  return {name: _unordered(law) for name, law in laws.items()}


def test_each_strategy_index_runs_its_named_strategy_at_its_own_temperature(strategy_round):
  """Strategy index i of the compiled `lax.switch` (round 0 of `one_round` on the real joint
  explorer over the pre-trained LM) shows pairs with the exact law of the experiment's
  `strategies[i]` (`conftest.ROUND_STRATEGIES`: none at its index in the default order):

    passive     K i.i.d. draws of the deployed mixture at temperature 1;
    boltzmann   K i.i.d. draws of the members tempered at `temperature` (3);
    uniform     uniform responses;
    thompson    K distinct members, one draw each (the unordered pair's law; M = 3, K = 2);
    infomax     a pool of 4 draws of the members tempered at `pool_temperature` (0.5), a pair of
                it drawn with prob. ~ exp(information / `info_temperature`) (a brute force over
                every pool).

  Each index's 2400 pairs (4 lanes of 600) fit their law (a G-test per prompt, p-value above
  1e-6) and are more than 1e6 times likelier under it than under any other strategy's law or a
  swapped temperature (passive at 3, boltzmann at 1 or 0.5, infomax's pool at 1 or 3), so a swap
  of passive's and boltzmann's temperatures, branches in another order than the names', or
  always the first branch fails (measured: every such ratio above e^300). The traced values
  come from the run state (`TRACED`, given to `init`; beta 3 makes the members disagree), not
  the config.
  """
  names = strategy_round.experiment.strategies
  assert names == conftest.ROUND_STRATEGIES
  prompt_LxB, pairs_SxLxBxK, log_p = _round_of_every_strategy(strategy_round)
  num_lanes, num_prompts = prompt_LxB.shape[0], strategy_round.spec.num_prompts
  pool_size = strategy_round.config.experiment.pool_size
  laws_L = [_laws({t: v[lane] for t, v in log_p.items()}, pool_size, TRACED['info_temperature'])
            for lane in range(num_lanes)]
  laws = {name: np.stack([laws[name] for laws in laws_L]) for name in laws_L[0]}  # [L, P, C]
  for name, law in laws.items():
    np.testing.assert_allclose(law.sum(-1), 1.0, rtol=1e-9, err_msg=name)
  num_responses = strategy_round.spec.num_responses
  cell_NxN = np.zeros((num_responses, num_responses), int)
  cell_NxN[np.triu_indices(num_responses)] = np.arange(len(np.triu_indices(num_responses)[0]))
  lane_LxB = np.broadcast_to(np.arange(num_lanes)[:, None], prompt_LxB.shape)
  for i, name in enumerate(names):
    pairs_LxBxK = np.sort(pairs_SxLxBxK[i], axis=-1)
    cell_LxB = cell_NxN[pairs_LxBxK[..., 0], pairs_LxBxK[..., 1]]
    law = laws[name]
    for x in range(num_prompts):  # A G-test per prompt over every lane, cells < 5 merged.
      counts_C = sum(np.bincount(cell_LxB[lane][prompt_LxB[lane] == x], minlength=law.shape[-1])
                     for lane in range(num_lanes))
      expected_C = sum(np.sum(prompt_LxB[lane] == x) * law[lane, x] for lane in range(num_lanes))
      small = expected_C < 5
      counts_C = np.append(counts_C[~small], counts_C[small].sum())
      expected_C = np.append(expected_C[~small], expected_C[small].sum())
      keep = counts_C > 0
      g = 2 * np.sum(counts_C[keep] * np.log(counts_C[keep] / expected_C[keep]))
      assert g < scipy.stats.chi2.isf(1e-6, len(counts_C) - 1), (i, name, x, g)
    log_law = lambda law: np.log(law[lane_LxB, prompt_LxB, cell_LxB])
    for other, other_law in laws.items():
      if np.allclose(other_law, law):  # The same law under another name (a swap's twin).
        continue
      llr = np.sum(log_law(law) - log_law(other_law))
      assert llr > np.log(1e6), (i, name, other, llr)
