"""The long-format rows: one builder for results.csv and metrics.jsonl (same keys, `queries` the x
column), strict JSON lines for a failed seed's inf and NaN, and reading rows back. NumPy only."""

import json
import math

import numpy as np

from lmrl import buffer as buffer_lib
from lmrl import files
from lmrl import rows as rows_lib

NAN, INF = float('nan'), float('inf')


def _metrics() -> dict[str, np.ndarray]:
  """Two seeds, rounds 0..2 (round 1 not evaluated: NaN); seed 1 failed at round 2 (its KL inf,
  its choice loss NaN)."""
  return {'kl': np.array([[2.0, NAN, 1.0], [2.0, NAN, INF]]),
          'choice_loss': np.array([[0.7, NAN, 0.6], [0.7, NAN, NAN]]),
          'coverage_G': np.array([[[0.5, 0.1], [NAN, NAN], [0.4, 0.2]],
                                  [[0.5, 0.1], [NAN, NAN], [0.3, 0.3]]]),
          'failed': np.array([[0.0, NAN, 0.0], [0.0, NAN, 1.0]])}


def _strict(line: str):
  def refuse(name):
    raise ValueError(f'not strict JSON: {name}')
  return json.loads(line, parse_constant=refuse)


def test_rows_have_every_column_in_order_seed_by_seed_or_round_by_round():
  metrics, target_G = _metrics(), np.array([0.6, 0.2])
  rows = rows_lib.metric_rows('joint', 'passive[learning_rate=0.01]', metrics, target_G, 8,
                              [0, 2], {'learning_rate': 0.01})
  assert list(rows[0]) == ['agent', 'strategy', 'learning_rate', 'world', 'seed', 'round',
                           'queries',
                           'kl', 'choice_loss', 'coverage_g0', 'coverage_g1', 'failed',
                           'target_coverage_g0', 'target_coverage_g1']
  assert [(r['seed'], r['round'], r['queries']) for r in rows] == [
      (0, 0, 0), (0, 2, 16), (1, 0, 0), (1, 2, 16)]
  assert rows[3]['failed'] == 1 and rows[1]['failed'] == 0 and rows[3]['kl'] == INF
  assert rows[3]['coverage_g1'] == 0.3 and rows[3]['target_coverage_g0'] == 0.6
  live = rows_lib.metric_rows('joint', 'passive[learning_rate=0.01]', metrics, target_G, 8,
                              [0, 2], {'learning_rate': 0.01}, round_major=True)
  assert [(r['round'], r['seed']) for r in live] == [(0, 0), (0, 1), (2, 0), (2, 1)]
  assert sorted(map(str, live)) == sorted(map(str, rows))  # The same rows, another order.


def test_json_lines_of_a_failed_seed_parse_strictly_with_the_reason(tmp_path):
  """metrics.jsonl as the runner writes it: every line strict JSON, a non-finite value as null
  and named in `nonfinite`; otherwise the keys and values of the results.csv rows."""
  path = str(tmp_path / 'metrics.jsonl')
  rows = rows_lib.metric_rows('joint', 'infomax', _metrics(), np.array([0.6, 0.2]), 8, [0, 2],
                              round_major=True)
  files.append_jsonl(path, rows)
  with open(path) as f:
    text = f.read()
  assert 'NaN' not in text and 'Infinity' not in text
  live = [_strict(line) for line in text.splitlines()]
  assert len(live) == len(rows) == 4
  for obj, row in zip(live, rows):
    nonfinite = obj.get('nonfinite', {})
    assert [k for k in obj if k != 'nonfinite'] == list(row)  # The CSV's, `queries` included.
    for key, value in row.items():
      if isinstance(value, float) and not math.isfinite(value):
        assert obj[key] is None and nonfinite[key] == str(value)
      else:
        assert obj[key] == value and key not in nonfinite
  assert live[3]['seed'] == 1 and live[3]['failed'] == 1
  assert live[3]['nonfinite'] == {'kl': 'inf', 'choice_loss': 'nan'}


def test_read_rows_gives_back_curves_without_the_failed_seeds(tmp_path):
  path = str(tmp_path / 'results.csv')
  metrics, target_G = _metrics(), np.array([0.6, 0.2])
  files.write_csv(path, rows_lib.metric_rows('joint', 'passive', metrics, target_G, 8, [0, 2])
                  + rows_lib.metric_rows('joint', 'infomax', metrics, target_G, 8, [0, 2]))
  rows = rows_lib.read_rows(path)
  assert rows[0]['agent'] == 'joint' and rows[0]['queries'] == 0.0 and rows[3]['kl'] == INF
  assert rows_lib.failed_seeds(rows) == {('joint', 'passive'): [1], ('joint', 'infomax'): [1]}
  curves = rows_lib.curves(rows, 'kl')
  assert list(curves) == [('joint', 'infomax'), ('joint', 'passive')]
  queries, kl = curves[('joint', 'passive')]
  np.testing.assert_array_equal(queries, [0.0, 16.0])
  np.testing.assert_array_equal(kl, [[2.0, 1.0]])  # Seed 1 (failed) left out.
  _, kl = rows_lib.curves(rows, 'kl', exclude_failed=False)[('joint', 'passive')]
  np.testing.assert_array_equal(kl, [[2.0, 1.0], [2.0, INF]])


def test_shown_queries_index_the_world_and_flag_favourites():
  # V = 2, one prompt token, two response tokens: prompts 0..1, responses 0..3. Two rounds of two
  # rows (B = 2) for one seed; K = 2 responses shown per row.
  buffer = buffer_lib.ChoiceBuffer(
      prompts_HxLx=np.array([[[0], [1], [1], [0]]]),
      responses_HxKxLy=np.array([[[[0, 0], [1, 1]], [[0, 1], [1, 0]], [[1, 1], [0, 1]],
                                  [[1, 0], [0, 1]]]]),
      ranking_HxK=np.array([[[1, 0], [0, 1], [0, 1], [1, 0]]]),
      bootstrap_HxM=np.ones((1, 4, 1)), valid_H=np.array([[True, True, True, False]]),
      next_row=np.array([3]), last_start=np.array([2]))
  favourites_GxPxN = np.zeros((2, 2, 4), bool)
  favourites_GxPxN[0, 0, 3] = True  # Group 0 likes response 3 ([1, 1]) for prompt 0.
  favourites_GxPxN[1, 1, 2] = True  # Group 1 likes response 2 ([1, 0]) for prompt 1.
  shown = rows_lib.shown_queries(buffer, favourites_GxPxN, vocab_size=2, queries_per_round=2)
  np.testing.assert_array_equal(shown['prompt_index_SxH'], [[0, 1, 1, 0]])
  np.testing.assert_array_equal(shown['response_index_SxHxK'],
                                [[[0, 3], [1, 2], [3, 1], [2, 1]]])
  np.testing.assert_array_equal(shown['round_H'], [1, 1, 2, 2])
  np.testing.assert_array_equal(shown['shows_favourite_SxHxG'],
                                [[[True, False], [False, True], [False, False], [False, False]]])
  # Lanes in several worlds: each lane's own world's favourites ([S, G, P, N]).
  per_lane = rows_lib.shown_queries(buffer, favourites_GxPxN[None], vocab_size=2,
                                    queries_per_round=2)
  np.testing.assert_array_equal(per_lane['shows_favourite_SxHxG'], shown['shows_favourite_SxHxG'])
  # Over the three valid rows: group 0's favourite in one, group 1's in one.
  np.testing.assert_allclose(rows_lib.shown_favourites(shown), [1 / 3, 1 / 3])


def test_lanes_in_worlds_carry_their_world_and_its_target_coverage():
  metrics = _metrics()
  rows = rows_lib.metric_rows('joint', 'passive', metrics, np.array([[0.6, 0.2], [0.5, 0.3]]), 8,
                              [0], {'world': np.array([0, 1])})
  assert [(r['world'], r['seed'], r['target_coverage_g1']) for r in rows] == [
      (0, 0, 0.2), (1, 1, 0.3)]
  assert rows_lib.metric_rows('joint', 'passive', metrics, np.array([0.6, 0.2]), 8,
                              [0])[1]['world'] == 0
