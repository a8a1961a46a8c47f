"""A run's progress (`lmrl.progress`): the ETA, the printed lines and metrics.jsonl per grid point,
and each strategy's timing, fed synthetic chunks (NumPy only: nothing runs or compiles)."""

import json

import numpy as np
import pytest

from lmrl import hyperparams
from lmrl import progress as progress_lib

TARGET_G = np.array([0.6, 0.4])
NO_SWEEP = hyperparams.Grid((), ({},))
TWO_RATES = hyperparams.Grid(('learning_rate',), ({'learning_rate': 0.1},
                                                 {'learning_rate': 0.2}))


def _shape(strategies=('passive',), grid=NO_SWEEP, evaluated_rounds=(0, 1, 2, 3, 4)):
  """T = 4 rounds in chunks of 2, B = 3 queries a round, S = 2 seeds a grid point."""
  return progress_lib.RunShape(strategies, rounds=4, rounds_per_chunk=2, queries_per_round=3,
                               evaluated_rounds=evaluated_rounds, num_seeds=2, grid=grid)


def _metrics(num_lanes: int, failed_lane: int | None = None) -> dict[str, np.ndarray]:
  """[lanes, T + 1] metrics: lane l's KL at round r is 1 + l + r / 10; `failed_lane` failed from
  round 1 on (its KL inf)."""
  kl = 1.0 + np.arange(num_lanes)[:, None] + np.arange(5)[None, :] / 10
  failed = np.zeros((num_lanes, 5))
  coverage = np.broadcast_to(np.array([0.3, 0.1]), (num_lanes, 5, 2)).copy()
  if failed_lane is not None:
    kl[failed_lane, 1:], failed[failed_lane, 1:] = np.inf, 1.0
  return {'kl': kl, 'coverage_G': coverage, 'failed': failed}


@pytest.fixture(autouse=True)
def _no_tensorboard(monkeypatch):
  """test_tensorboard.py tests the event files; here no writer is made."""
  monkeypatch.setattr(progress_lib.tensorboard, 'available', lambda: False)


def test_the_eta_counts_the_running_strategy_at_its_pace_and_the_rest_at_the_mean(tmp_path):
  lines = []
  progress = progress_lib.Progress(str(tmp_path), _shape(('passive', 'infomax', 'boltzmann')),
                                   TARGET_G, chunks_left=6, writer=False, log=lines.append)
  metrics = _metrics(2)
  for strategy, index, seconds in [('passive', 0, 1.0), ('infomax', 1, 4.0),
                                   ('boltzmann', 2, 1.0)]:
    on_chunk = progress.strategy('joint', strategy, index)
    on_chunk(2, metrics, seconds)
    on_chunk(4, metrics, seconds)
  etas = [line.split('ETA ')[1].split(')')[0] for line in lines]
  # passive: its other chunk at 1s + 4 chunks at the mean 1s; then 4 at the mean.
  # infomax: its other chunk at 4s + 2 at the mean (1+1+4)/3 = 2s; then 2 at 10/4 = 2.5s.
  # boltzmann: its other chunk at its own 1s, nothing else left; then nothing.
  assert etas == ['5s', '4s', '8s', '5s', '1s', '0s']
  assert lines[2].startswith('joint/infomax (strategy 2/3) round 2/4  queries 6  KL ')
  timing = progress.strategy_timing('joint', 'infomax')
  resident = timing.pop('resident_mb_per_chunk')  # This process's memory after each chunk.
  assert timing == {'seconds': 8.0, 'chunks_timed': 2, 'seconds_per_round': 2.0}
  assert len(resident) == 2 and all(10 < mb < 1e6 for mb in resident), resident
  assert progress.strategy_timing('joint', 'random') == {
      'seconds': 0.0, 'chunks_timed': 0, 'seconds_per_round': None, 'resident_mb_per_chunk': []}
  assert not (tmp_path / 'metrics.jsonl').exists()  # Not the writer process: nothing written.
  assert [progress_lib.duration(s) for s in (59.4, 59.6, 125)] == ['59s', '1m00s', '2m05s']


def test_each_grid_point_gets_its_line_and_its_metrics_jsonl_rows(tmp_path):
  lines = []
  shape = _shape(grid=TWO_RATES, evaluated_rounds=(0, 2, 4))
  progress = progress_lib.Progress(str(tmp_path), shape, TARGET_G, chunks_left=2, writer=True,
                                   log=lines.append)
  on_chunk = progress.strategy('joint', 'passive', 0)
  metrics = _metrics(4, failed_lane=3)  # Lanes j * S + s: point 1's seed 1 failed.
  on_chunk(2, metrics, 1.0)
  assert len(lines) == 2
  assert lines[0].startswith('joint/passive (strategy 1/1) round 2/4  queries 6 '
                             '[learning_rate=0.1]  KL 1.7000 +/- 0.5000  worst-group coverage '
                             "0.25 of p*'s  (1.0s, ETA 1s)")
  assert 'FAILED' not in lines[0]
  # Point 1: the failed seed is left out of the mean and named.
  assert lines[1].startswith('joint/passive (strategy 1/1) round 2/4  queries 6 '
                             '[learning_rate=0.2]  KL 3.2000 +/- 0.0000')
  assert lines[1].endswith('  FAILED seeds [1]')
  with open(tmp_path / 'metrics.jsonl') as f:
    first = [json.loads(line) for line in f]
  # Evaluated rounds 0 (the first chunk adds the pre-trained LM) and 2, round by round, each
  # point's seeds numbered from 0.
  assert [(r['strategy'], r['learning_rate'], r['round'], r['seed'], r['queries'])
          for r in first] == [
              (f'passive[learning_rate={lr}]', lr, r, s, 3 * r)
              for lr in (0.1, 0.2) for r in (0, 2) for s in (0, 1)]
  assert [r['kl'] for r in first[:4]] == [1.0, 2.0, 1.2, 2.2]
  assert first[-1]['kl'] is None and first[-1]['failed'] == 1
  assert first[0]['target_coverage_g1'] == 0.4
  on_chunk(4, metrics, 1.0)
  with open(tmp_path / 'metrics.jsonl') as f:
    added = [json.loads(line) for line in f][len(first):]
  assert [(r['learning_rate'], r['round']) for r in added] == [(0.1, 4)] * 2 + [(0.2, 4)] * 2
  assert len(lines) == 4 and all('ETA 0s' in line for line in lines[2:])
  progress.close()
