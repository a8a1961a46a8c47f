"""The analysis scripts' arithmetic (`experiments/analysis/`, run as files, not a package)."""

import csv
import importlib.util
import json
import math
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script(name):
  spec = importlib.util.spec_from_file_location(
      name, os.path.join(ROOT, 'experiments', 'analysis', f'{name}.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_pretrained_holes_on_a_constructed_prompt():
  """Four responses: p_0 nearly excludes 2 and 3 (1e-6 each, under 1% of a uniform 0.25), where
  p* puts 0.09 and 0.01. The hole holds 0.10 of p*; half of it is on response 2 alone (the peak);
  a pool that gives response 2 probability 0.02 reaches it with 0.02, a uniform draw with 0.25."""
  holes = _script('pretrained_holes')
  p0 = np.array([[0.6, 0.4 - 2e-6, 1e-6, 1e-6]])
  pstar = np.array([[0.45, 0.45, 0.09, 0.01]])
  pool = np.array([[0.5, 0.47, 0.02, 0.01]])
  h = holes.world_holes(np.log(p0), np.log(pool), np.log(pstar))
  kl_N = pstar[0] * np.log(pstar[0] / p0[0])
  np.testing.assert_allclose(h['kl'], kl_N.sum())
  np.testing.assert_allclose(h['hole_kl_share'], kl_N[2:].sum() / kl_N.sum())
  np.testing.assert_allclose(h['hole_pstar_mass'], 0.10)
  np.testing.assert_allclose(
      h['depth'], (0.09 * math.log(0.09 / 1e-6) + 0.01 * math.log(0.01 / 1e-6)) / 0.10)
  assert h['peak_size'] == 1
  np.testing.assert_allclose([h['pool_reach'], h['uniform_reach'], h['p0_reach']],
                             [0.02, 0.25, 1e-6])


def test_peak_shown_counts_queries_on_evaluation_prompts_that_hold_a_peak_response():
  """Evaluation prompts 5 and 2 (positions 0, 1); each's peak is response 3. Lane 0 asks prompt 5
  with response 3 at its 2nd query, prompt 2 without it, and prompt 7 (not evaluated) with it;
  lane 1 shows the peak once, at its 3rd query, in its one valid query on an evaluation prompt."""
  holes = _script('pretrained_holes')
  peak_PxN = np.zeros((2, 4), bool)
  peak_PxN[:, 3] = True
  prompt_SxH = np.array([[7, 5, 2], [5, 2, 2]])
  response_SxHxK = np.array([[[3, 0], [1, 3], [0, 1]], [[3, 1], [0, 1], [2, 3]]])
  valid_SxH = np.array([[True, True, True], [False, False, True]])
  share, first = holes.peak_shown(peak_PxN, [5, 2], prompt_SxH, response_SxHxK, valid_SxH)
  np.testing.assert_allclose(share, (1 / 2 + 1 / 1) / 2)
  assert first == 2
  share, first = holes.peak_shown(peak_PxN, [5, 2], prompt_SxH, response_SxHxK % 3, valid_SxH)
  assert (share, first) == (0.0, None)


def test_epig_diagnostic_columns_match_a_brute_force_joint_table():
  """3 members, 6 responses, a pool of 4 (6 pairs, one not showable), first choices: the
  predicted KL is I(m; Y) and every tuple's I(Y; C) is read off the joint table P(m, y, c) =
  P_m(c) p_m(y) / M; with the exact score the pick is the best tuple; with 4 draws per member it
  is never better, and the estimate has an error."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  from lmrl import strategies  # pylint: disable=import-outside-toplevel
  diag = _script('epig_diagnostic')
  p_MxN = np.random.default_rng(0).dirichlet(np.full(6, 0.7), size=3)
  pool_C = np.array([0, 2, 3, 5])
  tuples_UxK = strategies.tuples(4, 2)
  showable_U = np.array([True] * 5 + [False])

  def mutual_information(joint_AxB):
    a, b = joint_AxB.sum(1, keepdims=True), joint_AxB.sum(0, keepdims=True)
    return float(np.sum(joint_AxB * np.log(joint_AxB / (a * b))))

  info_U = []
  for u in tuples_UxK:
    shown_MxK = p_MxN[:, pool_C[u]]
    choice_MxK = shown_MxK / shown_MxK.sum(1, keepdims=True)
    joint_MxNxK = p_MxN[:, :, None] * choice_MxK[:, None, :] / 3
    info_U.append(mutual_information(joint_MxNxK.sum(0)))
  info_U = np.array(info_U)
  best = info_U[showable_U].max()
  log_p = jnp.log(jnp.asarray(p_MxN, jnp.float32))
  args = (jnp.asarray(tuples_UxK), jnp.asarray(showable_U), False)
  exact = np.asarray(diag.query_statistics(jax.random.key(0), log_p[:, pool_C], log_p, *args, 0))
  predicted = mutual_information(p_MxN.T / 3)
  np.testing.assert_allclose(exact, [predicted, best / predicted, info_U[showable_U].mean() / best,
                                     1.0, np.mean(info_U[showable_U] >= 0.9 * best), 0.0],
                             rtol=1e-4, atol=1e-6)
  sampled = np.asarray(diag.query_statistics(jax.random.key(0), log_p[:, pool_C], log_p, *args,
                                             4))
  np.testing.assert_allclose(sampled[[0, 1, 2, 4]], exact[[0, 1, 2, 4]], rtol=1e-6)
  assert sampled[3] <= 1.0 + 1e-6 and sampled[5] > 0.0


def test_paired_difference_pairs_the_shared_lanes(tmp_path):
  """Two strategies on 2 worlds x 2 seeds (B also has a lane A lacks, left out): B is A - 0.1 at
  the last count everywhere, so the final difference is -0.1 in every resample; the mean log KL
  difference is the trapezoid of log(B/A) over the budget."""
  paired = _script('paired_difference')
  def write(name, strategy, kl_of):
    path = tmp_path / name
    with open(path, 'w', newline='') as f:
      w = csv.writer(f)
      w.writerow(['strategy', 'world', 'seed', 'queries', 'kl'])
      for world, seed, q, kl in kl_of:
        w.writerow([strategy, world, seed, q, kl])
    return str(path)
  lanes = [(0, 0), (0, 1), (1, 0), (1, 1)]
  a = [(w, s, q, 1.0 + 0.1 * w + 0.01 * s - q / 200) for w, s in lanes for q in (0, 100)]
  b = [(w, s, q, kl - (0.1 if q == 100 else 0.0)) for w, s, q, kl in a] + [(2, 0, 0, 5.0),
                                                                          (2, 0, 100, 5.0)]
  d = paired.paired_difference(paired.read_kl(write('a.csv', 'x', a), 'x'),
                               paired.read_kl(write('b.csv', 'y', b), 'y'), num_bootstrap=50)
  assert d['lanes'] == lanes and d['queries'] == [0, 100]
  np.testing.assert_allclose(d['final_kl']['mean'], -0.1)
  np.testing.assert_allclose(d['final_kl']['ci90'], (-0.1, -0.1))
  assert d['final_kl']['worlds_a_lower'] == 0.0
  ends = np.array([1.0 + 0.1 * w + 0.01 * s - 0.5 for w, s in lanes])
  np.testing.assert_allclose(d['auc_log_kl']['mean'], np.mean(np.log((ends - 0.1) / ends) / 2))
  with pytest.raises(SystemExit, match="no rows of strategy 'z'"):
    paired.read_kl(str(tmp_path / 'a.csv'), 'z')


@pytest.mark.slow
def test_learner_direction_starts_at_the_runs_final_kl_and_moves_only_with_steps(tiny_run):
  """From the tiny run's last checkpoint, the continued fit's first KL is each lane's final KL in
  results.csv; with a learning rate of 0 it stays there; with the run's own it moves."""
  direction = _script('learner_direction')
  rankings, kl_LxB, config = direction.from_checkpoint(tiny_run, 'infomax', 4, 2, {})
  e = config.experiment
  assert rankings == e.rounds * e.prompts_per_round
  assert kl_LxB.shape == (e.num_seeds, 3)
  with open(os.path.join(tiny_run, 'results.csv')) as f:
    final = {int(row['seed']): float(row['kl']) for row in csv.DictReader(f)
             if row['strategy'] == 'infomax' and int(row['round']) == e.rounds}
  np.testing.assert_allclose(kl_LxB[:, 0], [final[s] for s in range(e.num_seeds)], rtol=1e-5)
  _, frozen_LxB, _ = direction.from_checkpoint(tiny_run, 'infomax', 4, 2, {'learning_rate': '0'})
  np.testing.assert_allclose(frozen_LxB, kl_LxB[:, :1].repeat(3, axis=1), rtol=1e-6)
  assert np.all(np.abs(kl_LxB[:, 1:] - kl_LxB[:, :1]) > 1e-6)
  with pytest.raises(SystemExit, match='not traced hyper-parameters'):
    direction.from_checkpoint(tiny_run, 'infomax', 4, 2, {'lambda_ll2': '1'})


def test_restoring_a_sweep_without_checkpoints_or_with_many_worlds_is_refused_in_one_line(
    tmp_path):
  """`runner.restore_joint_sweep` (what the diagnostics read) names what is missing before
  building anything: no checkpoint of the strategy, or a run over several worlds."""
  from lmrl import errors, runner  # pylint: disable=import-outside-toplevel
  from lmrl.configs import tiny  # pylint: disable=import-outside-toplevel
  config = tiny.get_config()
  (tmp_path / 'config.json').write_text(json.dumps(config.to_dict()))
  with pytest.raises(errors.UserError, match="no checkpoints of the joint agent's 'infomax'"):
    runner.restore_joint_sweep(str(tmp_path), 'infomax')
  config.world.num_worlds = 2
  (tmp_path / 'config.json').write_text(json.dumps(config.to_dict()))
  with pytest.raises(errors.UserError, match='a run over 2 worlds') as error:
    runner.restore_joint_sweep(str(tmp_path), 'infomax')
  assert '\n' not in str(error.value)


def test_shown_favourites_counts_each_block_of_rounds_and_the_whole_run():
  """Two lanes, four rounds of two queries, two groups; lane 1's third round and both lanes'
  fourth not shown yet (an interrupted run: the blocks end at the last round shown)."""
  favourites = _script('shown_favourites')
  shows_SxHxG = np.zeros((2, 8, 2), bool)
  shows_SxHxG[0, 0, 0] = shows_SxHxG[1, 1, 0] = True  # Round 1: 2 of 4 hold group 0's.
  shows_SxHxG[0, 2, 1] = True  # Round 2: 1 of 4 holds group 1's.
  shows_SxHxG[0, 4, 0] = shows_SxHxG[0, 5, 0] = shows_SxHxG[1, 4, 0] = True  # Lane 1's unshown.
  shows_SxHxG[:, 6:, :] = True  # Round 4, shown to nobody yet.
  valid_SxH = np.ones((2, 8), bool)
  valid_SxH[1, 4:] = valid_SxH[0, 6:] = False
  shown = {'shows_favourite_SxHxG': shows_SxHxG, 'valid_SxH': valid_SxH,
           'round_H': np.array([1, 1, 2, 2, 3, 3, 4, 4])}
  blocks = favourites.favourite_shares(shown, 2)
  assert [(lo, hi, count) for lo, hi, _, count in blocks] == [(1, 2, 8), (3, 3, 2), (1, 3, 10)]
  np.testing.assert_allclose([share for _, _, share, _ in blocks],
                             [[2 / 8, 1 / 8], [1.0, 0.0], [4 / 10, 1 / 10]])
  assert [(lo, hi) for lo, hi, _, _ in favourites.favourite_shares(shown, 3)] == [(1, 3), (1, 3)]
  with pytest.raises(SystemExit, match='no queries'):
    favourites.favourite_shares({**shown, 'valid_SxH': np.zeros((2, 8), bool)}, 2)


def test_shown_favourites_refuses_bad_input_in_one_line(tmp_path):
  """Before reading anything: a block size that is not a positive integer, a directory that is
  not a run, a sweep's grid points (their lanes would pool), a strategy the run did not have."""
  from lmrl.configs import tiny  # pylint: disable=import-outside-toplevel
  favourites = _script('shown_favourites')
  config = tiny.get_config()
  (tmp_path / 'config.json').write_text(json.dumps(config.to_dict()))
  for args, message in (([str(tmp_path), 'infomax', 'x'], 'must be an integer >= 1'),
                        ([str(tmp_path), 'infomax', '0'], 'must be an integer >= 1'),
                        ([str(tmp_path / 'nothing'), 'infomax'], 'not a run directory'),
                        ([str(tmp_path), 'infomax'], 'neither results/joint_infomax_shown.npz')):
    with pytest.raises(SystemExit, match=message) as error:
      favourites.main(['shown_favourites.py'] + args)
    assert str(error.value).startswith('error: ') and '\n' not in str(error.value)
  config.sweep.learning_rate = (1e-3, 1e-2)
  (tmp_path / 'config.json').write_text(json.dumps(config.to_dict()))
  with pytest.raises(SystemExit, match='hyper-parameter sweep'):
    favourites.main(['shown_favourites.py', str(tmp_path), 'infomax'])


@pytest.mark.slow
def test_shown_favourites_from_a_checkpoint_are_the_finished_runs(tiny_run):
  """The interrupted-run path (the last checkpoint's buffer) gives the finished run's arrays."""
  favourites = _script('shown_favourites')
  assert os.path.exists(os.path.join(tiny_run, 'results', 'joint_infomax_shown.npz'))
  finished = favourites.shown_arrays(tiny_run, 'infomax')
  restored = favourites.shown_arrays(tiny_run, 'infomax', from_checkpoint=True)
  for name in finished:
    np.testing.assert_array_equal(restored[name], finished[name])
  assert finished['shows_favourite_SxHxG'].any()
