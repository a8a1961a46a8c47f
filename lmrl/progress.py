"""A run's progress: what a person and their tools see while a sweep runs.

`Progress` owns everything the runner reports after each chunk of rounds:

  printing   one line per chunk and grid point: strategy i/N, round r/T, choices, mean KL
             +/- s.e. over seeds, the worst group's coverage relative to p*'s, the chunk's
             seconds and an ETA for the whole run, and any failed seed;
  ETA        the chunks left of the running strategy at its own pace (infomax's chunks are
             ~1.6x the others'), every other chunk left at the mean pace so far;
  live files metrics.jsonl (`lmrl.rows.metric_rows`, the rows results.csv will hold, one strict
             JSON object per line: `lmrl.files.append_jsonl`) and TensorBoard event files
             (`lmrl.tensorboard`, when tensorboardX is installed), written by the writer process
             only;
  timing     each strategy's seconds of computation and this process's resident memory after
             each of its chunks (`strategy_timing`: a long run's memory must stay flat).

Usage (`lmrl.runner`): `progress = Progress(...)`, then for each strategy
`on_chunk = progress.strategy(kind, strategy, index)` passed to `sweep.run_strategy`, then
`progress.strategy_timing()` for timing.json, and `progress.close()` at the end.
"""

import os
import resource
import sys
from typing import Callable, NamedTuple

import numpy as np

from lmrl import files
from lmrl import hyperparams
from lmrl import rows as rows_lib
from lmrl import tensorboard


def duration(seconds: float) -> str:
  """'12s' or '3m05s'."""
  seconds = int(round(seconds))
  return f'{seconds // 60}m{seconds % 60:02d}s' if seconds >= 60 else f'{seconds}s'


def resident_bytes() -> int:
  """This process's resident memory now (Linux: /proc/self/statm), else its peak so far."""
  try:
    with open('/proc/self/statm') as f:
      return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
  except (OSError, ValueError, IndexError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS.
    return peak if sys.platform == 'darwin' else peak * 1024


class RunShape(NamedTuple):
  """What progress needs to know of the run (static for the whole run)."""
  strategies: tuple[str, ...]  # The experiment's strategies, in order.
  rounds: int  # T.
  rounds_per_chunk: int
  queries_per_round: int  # B.
  evaluated_rounds: tuple[int, ...]
  num_seeds: int  # Lanes per grid point: S seeds, or W worlds x S seeds (`world.num_worlds`).
  grid: hyperparams.Grid


def run_shape(config, experiment) -> RunShape:
  e = config.experiment
  return RunShape(tuple(experiment.strategies), e.rounds, e.rounds_per_chunk,
                  e.prompts_per_round, tuple(experiment.evaluated_rounds),
                  e.num_seeds * config.world.num_worlds, hyperparams.grid(config))


class Progress:
  """Progress lines, the ETA, metrics.jsonl and TensorBoard of one run (see the module doc)."""

  def __init__(self, workdir: str, shape: RunShape, target_coverage_G: np.ndarray, *,
               chunks_left: int, writer: bool, log: Callable[[str], None],
               world_S: np.ndarray | None = None):
    """`target_coverage_G`: p*'s coverage of each group, [G], or [S, G] per lane of a grid point
    with `world_S` (each lane's world: lanes in several worlds)."""
    self._shape, self._target_G = shape, np.asarray(target_coverage_G)
    self._world_S = world_S
    self._chunks_left, self._log = chunks_left, log
    self._jsonl = os.path.join(workdir, 'metrics.jsonl') if writer else None
    self._board = tensorboard.Writer(workdir) if writer and tensorboard.available() else None
    self._all_seconds: list[float] = []
    self._seconds: dict[tuple[str, str], list[float]] = {}
    self._resident: dict[tuple[str, str], list[int]] = {}

  def strategy(self, kind: str, strategy: str, index: int) -> Callable[[int, dict, float], None]:
    """The `on_chunk` callback of strategy number `index` of agent `kind`."""
    mine = self._seconds.setdefault((kind, strategy), [])
    resident = self._resident.setdefault((kind, strategy), [])
    sh = self._shape

    def on_chunk(done: int, metrics: dict[str, np.ndarray], seconds: float) -> None:
      self._all_seconds.append(seconds)
      mine.append(seconds)
      resident.append(resident_bytes())
      self._chunks_left -= 1
      mine_left = min((sh.rounds - done) // sh.rounds_per_chunk, self._chunks_left)
      eta = duration(np.mean(mine) * mine_left
                     + np.mean(self._all_seconds) * (self._chunks_left - mine_left))
      head = (f'{kind}/{strategy} (strategy {index + 1}/{len(sh.strategies)}) round '
              f'{done}/{sh.rounds}  queries {done * sh.queries_per_round}')
      for j in range(sh.grid.size):  # Each grid point's seeds (every seed without a sweep).
        point_metrics = hyperparams.point_lanes(metrics, j, sh.num_seeds)
        self._record(kind, hyperparams.variant(strategy, sh.grid.label(j)), j, point_metrics,
                     done)
        point = f' [{sh.grid.label(j)}]' if sh.grid.names else ''
        self._log(f'{head}{point}  {self._state_line(point_metrics, done)}  '
                  f'({seconds:.1f}s, ETA {eta}){self._failed(point_metrics, done)}')

    return on_chunk

  def _record(self, kind: str, name: str, j: int, metrics: dict[str, np.ndarray],
              done: int) -> None:
    """Appends the chunk's evaluated rounds (the first chunk adds round 0, the pre-trained LM)
    to metrics.jsonl and TensorBoard."""
    sh = self._shape
    first = done - sh.rounds_per_chunk
    rounds = [r for r in sh.evaluated_rounds if first < r <= done or r == first == 0]
    if self._jsonl:
      files.append_jsonl(self._jsonl, rows_lib.metric_rows(
          kind, name, metrics, self._target_G, sh.queries_per_round, rounds,
          rows_lib.lane_columns(sh.grid.points[j], self._world_S), round_major=True))
    if self._board:
      self._board.add(f'{kind}_{name}', metrics, rounds, sh.queries_per_round)

  def _state_line(self, metrics: dict[str, np.ndarray], done: int) -> str:
    lane = {k: v[:, done] for k, v in metrics.items()}
    ok = lane['failed'] == 0
    kl = lane['kl'][ok]
    se = kl.std(ddof=1) / np.sqrt(len(kl)) if len(kl) > 1 else 0.0
    target_SxG = np.broadcast_to(self._target_G, lane['coverage_G'].shape)  # Per lane: its p*'s.
    worst = (np.min((lane['coverage_G'][ok] / target_SxG[ok]).mean(0)) if ok.any()
             else float('nan'))
    return f'KL {kl.mean():.4f} +/- {se:.4f}  worst-group coverage {worst:.2f} of p*\'s'

  @staticmethod
  def _failed(metrics: dict[str, np.ndarray], done: int) -> str:
    ok = metrics['failed'][:, done] == 0
    return '' if ok.all() else f'  FAILED seeds {np.flatnonzero(~ok).tolist()}'

  def strategy_timing(self, kind: str, strategy: str) -> dict:
    """{seconds, chunks_timed, seconds_per_round, resident_mb_per_chunk} of the strategy's chunks
    run by this call (resident memory: this process's, after each chunk, in MB)."""
    mine = self._seconds.get((kind, strategy), [])
    resident = self._resident.get((kind, strategy), [])
    return {'seconds': float(np.sum(mine)), 'chunks_timed': len(mine),
            'seconds_per_round': (float(np.mean(mine) / self._shape.rounds_per_chunk)
                                  if mine else None),
            'resident_mb_per_chunk': [round(b / 1e6, 1) for b in resident]}

  def close(self) -> None:
    if self._board:
      self._board.close()
