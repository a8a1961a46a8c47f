"""The headline experiment as one library call: `lmrl.run(config, workdir) -> summary`.

Validates the config and builds every component (one line on a bad value, before anything
compiles or is written), pre-trains the LM (or loads it from the work directory), then for each
agent kind compiles one sweep (every strategy, every seed, one chunk of rounds: one compilation)
and runs its strategies one after another, resuming any that a killed run left part-done.
Progress goes to `log`, one line at a time: the compilation (with its seconds), each chunk
("strategy i/N, round r/T", its seconds and an ETA for the whole run).

Files in the work directory:

  config.json      the resolved config (a directory holding another config is refused)
  pretrain.json    the pre-trained LM's KL to the majority and to p*, and its group coverage
  pretrained/      its parameters (orbax)
  checkpoints/<agent>_<strategy>/   the sweep state after each chunk (orbax, the last two kept)
  results/<agent>_<strategy>.npz    a finished sweep's metric arrays (float[S, T+1, ...]; with a
                   hyper-parameter sweep, `lmrl.hyperparams`, J x S lanes, point-major)
  results/<agent>_<strategy>_shown.npz   what it showed and how it was ranked, every seed and
                   round (`lmrl.results.shown_queries`)
  metrics.jsonl    live: one JSON object per agent/strategy/seed/evaluated round, appended after
                   every chunk (`tail -f` it)
  tensorboard/     live, when tensorboardX is installed: means over seeds per agent/strategy
                   (`lmrl.tensorboard`)
  results.csv      long format, every agent/strategy/seed/evaluated round (exported once)
  summary.json     `lmrl.results.summarize` of the arrays
  timing.json      seconds: pre-training, compilation, per strategy and per round (computation
                   only: compilation and checkpoint writes excluded)
  *.png            metric vs. human choices, mean +/- s.e. over seeds

A hyper-parameter sweep (`config.sweep`, `lmrl.hyperparams`) runs every grid point's seeds as
lanes of the same compiled sweep, sharing the pre-trained LM; results, live metrics and plots
name a point's runs `<strategy>[<name>=<value>,...]` and carry the swept values as columns.

Resuming: killed at any moment, the same call with the same `workdir` skips finished sweeps
(their `.npz`), resumes a part-done one from its last checkpoint, and ends with byte-identical
`results.csv` and `summary.json`. Every file is written whole under a temporary name and renamed.
The work directory is locked while a run uses it, and faults around it (a second run, a full
disk, an unreadable checkpoint) stop with one line and lose nothing: see `lmrl.workdir`.
"""

import json
import os
import time
import zipfile
from typing import Callable

import jax
import numpy as np

from lmrl import checks
from lmrl import experiment as experiment_lib
from lmrl import hyperparams
from lmrl import pipeline
from lmrl import plotting
from lmrl import results
from lmrl import sweep as sweep_lib
from lmrl import tensorboard
from lmrl import workdir as workdir_lib

# The binaries' default: $JAX_COMPILATION_CACHE_DIR if set, else a directory in the user's cache.
DEFAULT_COMPILATION_CACHE = os.environ.get('JAX_COMPILATION_CACHE_DIR') or os.path.join(
    os.path.expanduser('~'), '.cache', 'lmrl', 'jax')


def default_pretrained_cache() -> str:
  """The binaries' pre-trained-LM cache: $LMRL_PRETRAINED_CACHE if set ('' turns it off), else
  a directory in the user's cache."""
  return os.environ.get('LMRL_PRETRAINED_CACHE',
                        os.path.join(os.path.expanduser('~'), '.cache', 'lmrl', 'pretrained'))


_CACHE_EVENTS = {'/jax/compilation_cache/cache_hits': 'hits',
                 '/jax/compilation_cache/cache_misses': 'misses'}
_cache_counts = {'hits': 0, 'misses': 0}  # Of this process (jax.monitoring).


def _count_cache_event(event: str, **kwargs) -> None:
  del kwargs
  if event in _CACHE_EVENTS:
    _cache_counts[_CACHE_EVENTS[event]] += 1


jax.monitoring.register_event_listener(_count_cache_event)


def use_compilation_cache(directory: str | None) -> None:
  """Turns on JAX's persistent compilation cache in `directory` (None or '' leaves it off).

  A second process on the same shapes (a resumed run, another seed count's rerun of the same
  program, the test suite's subprocesses) then loads compiled programs instead of compiling.
  """
  if directory:
    os.makedirs(directory, exist_ok=True)
    jax.config.update('jax_compilation_cache_dir', directory)


def _save_arrays(path: str, arrays: dict[str, np.ndarray]) -> None:
  with results.atomic_path(path) as tmp, open(tmp, 'wb') as f:
    np.savez(f, **arrays)


def _load_arrays(path: str) -> dict[str, np.ndarray]:
  try:
    with np.load(path, allow_pickle=False) as data:
      return {name: data[name] for name in data.files}
  except (OSError, ValueError, zipfile.BadZipFile) as error:
    raise workdir_lib.WorkdirError(
        f'{path} cannot be read ({type(error).__name__}: {str(error)[:120]}); delete it to run '
        'that sweep again') from None


def append_jsonl(path: str, kind: str, strategy: str, metrics: dict[str, np.ndarray],
                 rounds: list[int], queries_per_round: int,
                 columns: dict[str, float] | None = None) -> None:
  """Appends one JSON object per seed and round of `rounds` to `path`, flushed to disk.

  `columns` (a hyper-parameter grid point's values) are added to every object.

  Written after each chunk (safe to `tail -f`); every line is complete or absent (a line cut by
  a kill is dropped when the next run starts, see `_drop_partial_line`). `results.csv` stays the
  authoritative record: after a kill a resumed chunk may appear twice here.
  """
  lines = []
  for r in rounds:
    for s in range(metrics['kl'].shape[0]):
      row = {'agent': kind, 'strategy': strategy, **(columns or {}), 'seed': s, 'round': r,
             'choices': r * queries_per_round}
      for name, value in metrics.items():
        value = np.asarray(value[s, r])
        if value.ndim:
          row.update({f'{name.removesuffix("_G")}_g{g}': float(v) for g, v in enumerate(value)})
        else:
          row[name] = float(value)
      lines.append(json.dumps(row, allow_nan=True).replace('NaN', 'null') + '\n')
  with open(path, 'a') as f:
    f.write(''.join(lines))
    f.flush()
    os.fsync(f.fileno())


def _drop_partial_line(path: str) -> None:
  """Truncates `path` after its last newline (what a kill mid-write may leave)."""
  if not os.path.exists(path):
    return
  with open(path, 'rb+') as f:
    data = f.read()
    if data and not data.endswith(b'\n'):
      f.truncate(data.rfind(b'\n') + 1)


def _duration(seconds: float) -> str:
  seconds = int(round(seconds))
  return f'{seconds // 60}m{seconds % 60:02d}s' if seconds >= 60 else f'{seconds}s'


def run(config, workdir: str, *, log: Callable[[str], None] = print,
        pretrained_cache: str | None = None) -> dict:
  """Runs (or resumes) the experiment of `config` in `workdir`; returns the summary.

  Raises a `checks.UserError` with one line: `checks.ConfigError` naming the field of a bad
  config (before anything is compiled or written), `workdir.WorkdirError` for a work directory
  of another config or in use by a live run, or a full disk (earlier files intact), and
  `checkpoints.CorruptCheckpointError` when no checkpoint of a part-done sweep can be read.
  With `config.experiment.distributed`, every process of a `jax.distributed` job calls it with
  the same arguments; process 0 writes the files. With `pretrained_cache` (a directory), an LM
  pre-trained for the same seed, world, LM and pre-training config by an earlier run is reused
  (`pipeline.pretrained_lm`); the binaries pass `default_pretrained_cache()`.
  """
  checks.validate(config)
  spec, lm_spec = pipeline.build_specs(config)
  kinds = checks.agent_kinds(config)
  agents = {kind: pipeline.make_agent(config, spec, lm_spec, kind) for kind in kinds}
  if config.experiment.distributed and not jax.distributed.is_initialized():
    jax.distributed.initialize()
  writer = workdir_lib.is_writer()
  if not writer:
    log = lambda line: None  # pylint: disable=unnecessary-lambda-assignment
  with workdir_lib.lock(workdir), workdir_lib.on_disk_full(workdir):
    workdir_lib.prepare(workdir, config)
    return _run(config, workdir, spec, lm_spec, kinds, agents, writer, log, pretrained_cache)


def _run(config, workdir, spec, lm_spec, kinds, agents, writer, log, pretrained_cache) -> dict:
  e = config.experiment
  if writer:
    _drop_partial_line(os.path.join(workdir, 'metrics.jsonl'))
  timing_path = os.path.join(workdir, 'timing.json')
  timing = {}
  if os.path.exists(timing_path):
    with open(timing_path) as f:
      timing = json.load(f)
  started = time.perf_counter()
  world = pipeline.make_world(config, spec)
  params, report = pipeline.pretrained_lm(config, spec, lm_spec, world, workdir, log=log,
                                          cache_dir=pretrained_cache)
  timing.setdefault('pretrain_seconds', time.perf_counter() - started)
  log('pre-trained LM: ' + ', '.join(f'{k} {v:.4f}' for k, v in report.items()))

  names = [(kind, strategy) for kind in kinds for strategy in e.strategies]
  num_chunks = e.rounds // e.rounds_per_chunk
  chunks_left = [sum(not os.path.exists(_arrays_path(workdir, k, s)) for k, s in names)
                 * num_chunks]
  chunk_seconds = []
  # Lanes: every seed at every grid point of a hyper-parameter sweep (one point without one).
  grid = hyperparams.grid(config)
  S, J = e.num_seeds, grid.size
  keys_L = sweep_lib.seed_keys(config.seed, S)[np.tile(np.arange(S), J)]
  hparams_L = hyperparams.lane_values(config, S)
  sharding = sweep_lib.seed_sharding(S * J) if e.shard_seeds else None
  curves, shown = {}, {}
  rows = []
  board = tensorboard.Writer(workdir) if writer and tensorboard.available() else None
  for kind in kinds:
    exp = experiment_lib.make_experiment(config, spec, agents[kind])
    sweeper = None
    for i, strategy in enumerate(exp.strategies):
      path = _arrays_path(workdir, kind, strategy)
      shown_path = _arrays_path(workdir, kind, strategy, 'shown')
      if os.path.exists(path):
        log(f'{kind}/{strategy}: already done, skipped')
        out = _load_arrays(path)
        if os.path.exists(shown_path):
          shown[(kind, strategy)] = _load_arrays(shown_path)
      else:
        if sweeper is None:
          points = f' x {J} hyper-parameter points ({", ".join(grid.names)})' if grid.names else ''
          log(f'{kind}: compiling the sweep ({len(exp.strategies)} strategies, {S} '
              f'seeds{points}, chunks of {e.rounds_per_chunk} rounds) ...')
          compile_start, counts = time.perf_counter(), dict(_cache_counts)
          sweeper = sweep_lib.compile_chunk(
              sweep_lib.make_sweep(exp), keys_L, params, world,
              rounds_per_chunk=e.rounds_per_chunk, hparams_S=hparams_L, sharding=sharding)
          seconds = time.perf_counter() - compile_start
          timing.setdefault(kind, {})['compile_seconds'] = seconds
          timing[kind]['compile_cache'] = {k: v - counts[k] for k, v in _cache_counts.items()}
          log(f'{kind}: compiled in {seconds:.1f}s')
        out, shown[(kind, strategy)] = _sweep_one(
            config, kind, strategy, i, exp, sweeper, keys_L, hparams_L, grid, params, world,
            sharding, workdir, log, chunk_seconds, chunks_left, timing, writer, board)
        if writer:  # The queries first: the metric arrays mark the sweep as done.
          _save_arrays(shown_path, shown[(kind, strategy)])
          _save_arrays(path, out)
          results.write_json(timing_path, timing)
      lanes_shown = shown.pop((kind, strategy), None)
      for j in range(J):  # Each grid point's seeds: lanes j*S .. (j+1)*S - 1.
        name = hyperparams.variant(strategy, grid.label(j))
        out_j = hyperparams.point_lanes(out, j, S)
        curves[(kind, name)] = results.curves_from_metrics(
            out_j, e.prompts_per_round, list(exp.evaluated_rounds))
        rows += results.metric_rows(kind, name, out_j, np.asarray(exp.target_coverage(world)),
                                    e.prompts_per_round, list(exp.evaluated_rounds),
                                    grid.points[j])
        if lanes_shown is not None:
          shown[(kind, name)] = {**hyperparams.point_lanes(lanes_shown, j, S),
                                 'round_H': lanes_shown['round_H']}  # Shared by every lane.
  target_G = np.asarray(exp.target_coverage(world))
  summary = results.summarize(curves, pretrained_kl=report['kl_to_pstar'],
                              target_coverage_G=target_G, num_bootstrap=e.num_bootstrap,
                              seed=config.seed)
  for (kind, strategy), queries in shown.items():
    if strategy in summary.get(kind, {}):
      summary[kind][strategy]['queries_showing_a_favourite_of_group'] = (
          results.shown_favourites(queries))
  for line in results.format_summary(summary):
    log(line)
  if writer:
    results.write_rows(os.path.join(workdir, 'results.csv'), rows)
    results.write_json(os.path.join(workdir, 'summary.json'), summary)
    timing['total_seconds_this_call'] = time.perf_counter() - started
    # Programs loaded from / newly written to the persistent cache by this process (a miss is a
    # program compiled here that took long enough to be worth caching).
    timing['compilation_cache_this_call'] = dict(_cache_counts)
    results.write_json(timing_path, timing)
    if board:
      board.close()
    for path in plotting.plot_workdir(workdir):
      log(f'wrote {path}')
  workdir_lib.barrier('finished')
  return summary


def _arrays_path(workdir: str, kind: str, strategy: str, suffix: str = '') -> str:
  name = f'{kind}_{strategy}_{suffix}' if suffix else f'{kind}_{strategy}'
  return os.path.join(workdir, 'results', f'{name}.npz')


def _sweep_one(config, kind, strategy, index, exp, sweeper, keys_L, hparams_L, grid, params,
               world, sharding, workdir, log, chunk_seconds, chunks_left, timing, writer, board
               ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
  """(metrics, shown queries) of one strategy's sweep over every lane (seeds x grid points;
  resuming its checkpoint); logs a line per chunk."""
  e = config.experiment
  S = e.num_seeds
  target_G = np.asarray(exp.target_coverage(world))
  mine = []

  def progress(done, metrics, seconds):
    # The chunk's evaluated rounds; the first chunk adds round 0 (the pre-trained LM).
    first = done - e.rounds_per_chunk
    rounds = [r for r in exp.evaluated_rounds if first < r <= done or r == first == 0]
    chunk_seconds.append(seconds)
    mine.append(seconds)
    chunks_left[0] -= 1
    # This strategy's chunks at its own pace (infomax's are ~1.6x the others'), the rest at
    # the mean pace so far.
    mine_left = min((e.rounds - done) // e.rounds_per_chunk, chunks_left[0])
    eta = _duration(np.mean(mine) * mine_left
                    + np.mean(chunk_seconds) * (chunks_left[0] - mine_left))
    head = (f'{kind}/{strategy} (strategy {index + 1}/{len(exp.strategies)}) round '
            f'{done}/{e.rounds}  choices {done * e.prompts_per_round}')
    tail = f'  ({seconds:.1f}s, ETA {eta})'
    for j in range(grid.size):  # Each grid point's seeds (every seed without a sweep).
      name = hyperparams.variant(strategy, grid.label(j))
      point_metrics = hyperparams.point_lanes(metrics, j, S)
      if writer:
        append_jsonl(os.path.join(workdir, 'metrics.jsonl'), kind, name, point_metrics, rounds,
                     e.prompts_per_round, grid.points[j])
      if board:
        board.add(f'{kind}_{name}', point_metrics, rounds, e.prompts_per_round)
      lane = {k: v[:, done] for k, v in point_metrics.items()}
      ok = lane['failed'] == 0
      kl = lane['kl'][ok]
      se = kl.std(ddof=1) / np.sqrt(len(kl)) if len(kl) > 1 else 0.0
      worst = np.min(lane['coverage_G'][ok].mean(0) / target_G) if ok.any() else float('nan')
      failed = '' if ok.all() else f'  FAILED seeds {np.flatnonzero(~ok).tolist()}'
      point = f' [{grid.label(j)}]' if grid.names else ''
      log(f'{head}{point}  KL {kl.mean():.4f} +/- {se:.4f}  worst-group coverage {worst:.2f} '
          f'of p*\'s{tail}{failed}')

  shown = {}

  def done(state):
    buffer = jax.tree_util.tree_map(sweep_lib.to_host, state.buffer)
    shown.update(results.shown_queries(buffer, np.asarray(world.favourites_GxPxN),
                                       config.world.vocab_size, e.prompts_per_round))

  out = sweep_lib.run_strategy(
      sweeper, keys_L, params, world, rounds=e.rounds, rounds_per_chunk=e.rounds_per_chunk,
      strategy=index, hparams_S=hparams_L, sharding=sharding, on_chunk=progress, on_done=done,
      log=log,
      checkpoint_dir=os.path.join(workdir, 'checkpoints', f'{kind}_{strategy}'))
  timing.setdefault(kind, {})[strategy] = {
      'seconds': float(np.sum(mine)), 'chunks_timed': len(mine),
      'seconds_per_round': float(np.mean(mine) / e.rounds_per_chunk) if mine else None}
  return out, shown
