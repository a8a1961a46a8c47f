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
                   round (`lmrl.rows.shown_queries`)
  metrics.jsonl    live: one JSON object per agent/strategy/seed/evaluated round, appended after
                   every chunk (`tail -f` it)
  tensorboard/     live, when tensorboardX is installed: means over seeds per agent/strategy
                   (`lmrl.tensorboard`)
  results.csv      long format, every agent/strategy/seed/evaluated round (exported once)
  summary.json     `lmrl.summary.summarize` of the arrays
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
import shutil
import time
from typing import Callable, NamedTuple

import jax
import numpy as np

from lmrl import checkpoints as checkpoints_lib
from lmrl import checks
from lmrl import errors
from lmrl import files
from lmrl import hyperparams
from lmrl import loop as loop_lib
from lmrl import pipeline
from lmrl import plotting
from lmrl import progress as progress_lib
from lmrl import refit as refit_lib
from lmrl import registry
from lmrl import rows as rows_lib
from lmrl import summary as summary_lib
from lmrl import sweep as sweep_lib
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


class _Run(NamedTuple):
  """What every part of one call of `run` shares, built once (`_setup`)."""
  config: object
  workdir: str
  spec: object  # The world's `WorldSpec`.
  lm_spec: object  # The LM's `LMSpec`.
  world: object  # The world's tables (W worlds: a leading axis W).
  pretrain_report: dict  # KL of the pre-trained LM to the majority and to p*, its coverage.
  lanes: sweep_lib.Lanes  # Keys, traced hyper-parameters, pre-trained LM, world, sharding.
  grid: hyperparams.Grid  # The hyper-parameter grid (one point without a sweep).
  writer: bool  # This process writes the files.
  log: Callable[[str], None]

  @property
  def lanes_per_point(self) -> int:
    """S seeds, or W worlds x S seeds (`world.num_worlds`), per grid point."""
    return self.config.experiment.num_seeds * self.config.world.num_worlds


def run(config, workdir: str, *, log: Callable[[str], None] = print,
        pretrained_cache: str | None = None) -> dict:
  """Runs (or resumes) the experiment of `config` in `workdir`; returns the summary.

  Raises a `errors.UserError` with one line: `errors.ConfigError` naming the field of a bad
  config (before anything is compiled or written), `workdir.WorkdirError` for a work directory
  of another config or in use by a live run, or a full disk (earlier files intact), and
  `checkpoints.CorruptCheckpointError` when no checkpoint of a part-done sweep can be read.
  With `config.experiment.distributed`, every process of a `jax.distributed` job calls it with
  the same arguments; process 0 writes the files; a process lost mid-run makes the others raise
  `errors.LostProcessError` (one line) as soon as a collective fails, or within
  `experiment.heartbeat_seconds` when none is under way (then JAX's own abort ends them). With
  `pretrained_cache` (a directory), an LM pre-trained for the same seed, world, LM and
  pre-training config by an earlier run is reused (`pipeline.pretrained_lm`); the binaries pass
  `default_pretrained_cache()`.
  """
  checks.validate(config)
  if config.experiment.distributed and not jax.distributed.is_initialized():
    _join_distributed_job(config.experiment.heartbeat_seconds)  # Before JAX's backend starts.
  spec, lm_spec = pipeline.build_specs(config)
  agents = {kind: pipeline.make_agent(config, spec, lm_spec, kind)
            for kind in registry.agent_kinds(config)}
  checks.validate_memory(config)  # One exact evaluation fits this machine (none distributed).
  if not workdir_lib.is_writer():
    log = lambda line: None  # pylint: disable=unnecessary-lambda-assignment
  with workdir_lib.lock(workdir), workdir_lib.on_disk_full(workdir):
    workdir_lib.prepare(workdir, config)
    timing = _read_timing(workdir)
    started = time.perf_counter()
    try:
      r = _setup(config, workdir, spec, lm_spec, log, pretrained_cache)
      timing.setdefault('pretrain_seconds', time.perf_counter() - started)
      summary = _run(r, agents, timing)
    except errors.UserError:
      raise
    except (RuntimeError, ValueError) as e:  # JAX's runtime errors (a collective's, gloo's).
      lost = (errors.lost_process(e, config.experiment.heartbeat_seconds)
              if config.experiment.distributed else None)
      if lost is None:
        raise
      raise lost from None
    if r.writer:
      timing['total_seconds_this_call'] = time.perf_counter() - started
      # Programs loaded from / newly written to the persistent cache by this process (a miss
      # is a program compiled here that took long enough to be worth caching).
      timing['compilation_cache_this_call'] = dict(_cache_counts)
      files.write_json(_timing_path(workdir), timing)
      for path in plotting.plot_workdir(workdir):
        log(f'wrote {path}')
    workdir_lib.barrier('finished')
    return summary


def _join_distributed_job(heartbeat_seconds: int) -> None:
  """`jax.distributed.initialize()` from the cluster's environment, or one line naming the field."""
  try:
    jax.distributed.initialize(heartbeat_timeout_seconds=heartbeat_seconds)
  except (RuntimeError, ValueError) as e:
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise errors.ConfigError(
        'config.experiment.distributed=True, but no jax.distributed job could be joined from '
        f'this environment ({reason}); run under a cluster manager jax detects, or pass '
        '--coordinator_address, --num_processes and --process_id') from None


def _timing_path(workdir: str) -> str:
  return os.path.join(workdir, 'timing.json')


def _read_timing(workdir: str) -> dict:
  """timing.json of an earlier call on `workdir` (resumed runs add to it), or {}."""
  if not os.path.exists(_timing_path(workdir)):
    return {}
  with open(_timing_path(workdir)) as f:
    return json.load(f)


def _setup(config, workdir, spec, lm_spec, log, pretrained_cache) -> _Run:
  """The world, the pre-trained LM (trained, or loaded) and the sweep's lanes: every seed at
  every grid point of a hyper-parameter sweep (lane j * S + s: seed s at point j). With W worlds
  (`world.num_worlds`), W x S lanes per point (lane j * W * S + w * S + s), each on its world and
  that world's pre-trained LM, with its own key."""
  writer = workdir_lib.is_writer()
  if writer:
    files.drop_partial_line(os.path.join(workdir, 'metrics.jsonl'))
  world = pipeline.make_world(config, spec)
  params, report = pipeline.pretrained_lm(config, spec, lm_spec, world, workdir, log=log,
                                          cache_dir=pretrained_cache)
  log('pre-trained LM: ' + ', '.join(f'{k} {v:.4f}' for k, v in report.items()
                                     if isinstance(v, float))
      + (f' (means over {config.world.num_worlds} worlds)' if 'per_world' in report else ''))
  grid = hyperparams.grid(config)
  S, J = config.experiment.num_seeds * config.world.num_worlds, grid.size
  lanes = sweep_lib.make_lanes(
      pipeline.lane_keys(config)[np.tile(np.arange(S), J)], params, world,
      hparams_S=hyperparams.lane_values(config, S),
      sharding=sweep_lib.seed_sharding(S * J) if config.experiment.shard_seeds else None,
      world_S=pipeline.world_lanes(config, S * J))
  return _Run(config, workdir, spec, lm_spec, world, report, lanes, grid, writer, log)


def _target_coverage(r: _Run, exp, world_S: np.ndarray | None) -> np.ndarray:
  """p*'s coverage of each group: float[G], or with `world_S` (the world of each lane of a grid
  point) [S, G]."""
  if world_S is None:
    return np.asarray(exp.target_coverage(r.world))
  return np.asarray(jax.vmap(exp.target_coverage)(r.world))[world_S]


def _run(r: _Run, agents: dict, timing: dict) -> dict:
  """Every agent's sweeps (run, resumed or loaded), then results.csv and summary.json."""
  e = r.config.experiment
  chunks_left = e.rounds // e.rounds_per_chunk * sum(
      not os.path.exists(_arrays_path(r.workdir, kind, s))
      for kind in agents for s in e.strategies)
  experiments = {kind: loop_lib.make_experiment(r.config, r.spec, agent)
                 for kind, agent in agents.items()}
  any_exp = next(iter(experiments.values()))
  world_S = None if r.lanes.world_S is None else r.lanes.world_S[:r.lanes_per_point]
  target_G = _target_coverage(r, any_exp, world_S)
  progress = progress_lib.Progress(r.workdir, progress_lib.run_shape(r.config, any_exp),
                                   target_G, chunks_left=chunks_left, writer=r.writer,
                                   log=r.log, world_S=world_S)
  curves, rows, shown, refitted = {}, [], {}, {}
  for kind, exp in experiments.items():
    for name, (out, queries) in _sweep_agent(r, kind, exp, progress, timing).items():
      for j in range(r.grid.size):  # Each grid point's seeds: lanes j*S .. (j+1)*S - 1.
        variant = hyperparams.variant(name, r.grid.label(j))
        out_j = hyperparams.point_lanes(out, j, r.lanes_per_point)
        curves[(kind, variant)] = summary_lib.curves_from_metrics(
            out_j, e.prompts_per_round, list(exp.evaluated_rounds), world_S)
        rows += rows_lib.metric_rows(kind, variant, out_j, target_G, e.prompts_per_round,
                                     list(exp.evaluated_rounds),
                                     rows_lib.lane_columns(r.grid.points[j], world_S))
        if 'refit_kl' in out_j:
          refitted[(kind, variant)] = out_j
        if queries is not None:
          shown[(kind, variant)] = {**hyperparams.point_lanes(queries, j, r.lanes_per_point),
                                    'round_H': queries['round_H']}  # Shared by every lane.
  progress.close()
  summary = summary_lib.summarize(curves, pretrained_kl=r.pretrain_report['kl_to_pstar'],
                                  target_coverage_G=target_G, num_bootstrap=e.num_bootstrap,
                                  seed=r.config.seed)
  for (kind, variant), queries in shown.items():
    if variant in summary.get(kind, {}):
      summary[kind][variant]['queries_showing_a_favourite_of_group'] = (
          rows_lib.shown_favourites(queries))
  for (kind, variant), out_j in refitted.items():
    summary[kind][variant]['learner_lag'] = summary_lib.learner_lag(out_j, e.prompts_per_round)
  for line in summary_lib.format_summary(summary):
    r.log(line)
  if r.writer:
    files.write_csv(os.path.join(r.workdir, 'results.csv'), rows)
    files.write_json(os.path.join(r.workdir, 'summary.json'), summary)
  return summary
def _sweep_agent(r: _Run, kind: str, exp, progress: progress_lib.Progress,
                 timing: dict) -> dict[str, tuple[dict, dict | None]]:
  """{strategy: (metrics over every lane, shown queries or None)} of agent `kind`: a finished
  sweep's files are loaded, the others run (resuming their checkpoints) after one compilation
  that serves them all; each finished sweep is saved at once."""
  e = r.config.experiment
  done, sweeper = {}, None
  for index, strategy in enumerate(exp.strategies):
    path = _arrays_path(r.workdir, kind, strategy)
    shown_path = _arrays_path(r.workdir, kind, strategy, 'shown')
    if os.path.exists(path):
      r.log(f'{kind}/{strategy}: already done, skipped')
      done[strategy] = (files.load_arrays(path), files.load_arrays(shown_path)
                        if os.path.exists(shown_path) else None)
      continue
    if sweeper is None:
      _disk_fits(r, kind, exp, [name for name in exp.strategies[index:]
                                if not os.path.exists(_arrays_path(r.workdir, kind, name))])
      sweeper = _compile(r, kind, exp, timing)
    out, state = sweep_lib.run_strategy(
        sweeper, r.lanes, rounds=e.rounds, rounds_per_chunk=e.rounds_per_chunk, strategy=index,
        checkpoint_dir=os.path.join(r.workdir, 'checkpoints', f'{kind}_{strategy}'),
        on_chunk=progress.strategy(kind, strategy, index), log=r.log)
    timing.setdefault(kind, {})[strategy] = progress.strategy_timing(kind, strategy)
    if e.refit_rounds:
      out = {**out, **_refit(r, state.buffer)}
    buffer = jax.tree_util.tree_map(sweep_lib.to_host, state.buffer)
    queries = rows_lib.shown_queries(buffer, sweep_lib.to_host(r.lanes.world.favourites_GxPxN),
                                     r.config.world.vocab_size, e.prompts_per_round)
    if r.writer:  # The queries first: the metric arrays mark the sweep as done.
      files.save_arrays(shown_path, queries)
      files.save_arrays(path, out)
      files.write_json(_timing_path(r.workdir), timing)
    done[strategy] = (out, queries)
  return done


def _refit(r: _Run, buffer_S) -> dict[str, np.ndarray]:
  """float32[S, T+1] each: every lane's refit KL (`refit_kl`) and steps fitted (`refit_steps`)
  at `experiment.refit_rounds` (NaN elsewhere)."""
  e = r.config.experiment
  rule = (f'steps chosen by the loss on every {e.refit_holdout_every}th row held out, at most '
          if e.refit_holdout_every else '')
  r.log(f'refitting every lane\'s data at rounds {tuple(e.refit_rounds)} ({rule}{e.refit_steps} '
        'exact steps each) ...')
  start = time.perf_counter()
  by_round = refit_lib.refit_lanes(r.config, r.spec, r.lm_spec, r.lanes, buffer_S,
                                   tuple(e.refit_rounds))
  out = {name: np.full((r.lanes.keys_S.shape[0], e.rounds + 1), np.nan, np.float32)
         for name in ('refit_kl', 'refit_steps')}
  for round_, (kl_S, steps_S) in by_round.items():
    out['refit_kl'][:, round_] = sweep_lib.to_host(kl_S)
    out['refit_steps'][:, round_] = sweep_lib.to_host(steps_S)
  r.log(f'refitted in {time.perf_counter() - start:.1f}s')
  return out


# orbax's files beside a checkpoint's arrays (its metadata, the OCDBT manifest, lmrl's own
# manifest), per checkpoint: ~100 KB measured for the tiny run's state, whatever its size.
CHECKPOINT_METADATA_BYTES = 1 << 18


def _tree_bytes(tree) -> int:
  return sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves(tree))


def sweep_disk_bytes(r: _Run, exp) -> tuple[int, str]:
  """The bytes one strategy's sweep leaves on disk, and how they are counted: its last
  `checkpoints.KEEP` checkpoints (the sweep state, every lane, from `jax.eval_shape` of its
  `init`: nothing is computed; the metrics of every round; `CHECKPOINT_METADATA_BYTES`) and its
  results (the metrics
  again, and the shown queries: counted as the choice buffer, `checks.run_state_bytes`)."""
  sweep = sweep_lib.make_sweep(exp, per_lane_world=r.lanes.world_S is not None)
  lanes = r.lanes
  state = jax.eval_shape(sweep.init, lanes.keys_S, lanes.base_params, lanes.world,
                         lanes.hparams_S)
  rounds = r.config.experiment.rounds
  metrics = (rounds + 1) * 4 * sum(  # float32[S, T+1, ...]: every evaluated metric.
      x.size for x in jax.tree_util.tree_leaves(jax.eval_shape(sweep.evaluate, state,
                                                               lanes.world)))
  shown, _ = checks.run_state_bytes(r.config)
  state_bytes = _tree_bytes(state)
  checkpoint = state_bytes + metrics + CHECKPOINT_METADATA_BYTES
  needed = checkpoints_lib.KEEP * checkpoint + metrics + shown
  return needed, (f'{checkpoints_lib.KEEP} checkpoints x ({state_bytes / 1e6:.1f} MB state + '
                  f'{metrics / 1e6:.1f} MB metrics + {CHECKPOINT_METADATA_BYTES / 1e6:.1f} MB '
                  f'metadata) + results {(metrics + shown) / 1e6:.1f} MB')


def _disk_fits(r: _Run, kind: str, exp, left: list[str]) -> None:
  """Before the sweep compiles: the `left` strategies' sweeps (`sweep_disk_bytes` each) fit the
  free space of the work directory's disk, else one line (`workdir.WorkdirError`) giving both
  numbers and what to change; the files already written (the pre-trained LM, earlier sweeps)
  stay, and the same command resumes once there is room."""
  if not left:
    return
  per_sweep, counted = sweep_disk_bytes(r, exp)
  needed, free = len(left) * per_sweep, shutil.disk_usage(r.workdir).free
  if needed > free:
    raise workdir_lib.WorkdirError(
        f'the sweeps left ({kind}: {", ".join(left)}) need about {needed / 1e6:,.1f} MB on disk '
        f'({len(left)} x ({counted})), more than the {free / 1e6:,.1f} MB free under '
        f'{r.workdir}: free space, or lower experiment.num_seeds, world.num_worlds, '
        'experiment.rounds or the strategies (experiment.strategies); files written so far are '
        'kept and the same command resumes')


def _compile(r: _Run, kind: str, exp, timing: dict) -> sweep_lib.Sweep:
  """The agent's sweep, compiled once for every strategy, chunk and lane (timed)."""
  e, grid = r.config.experiment, r.grid
  points = f' x {grid.size} hyper-parameter points ({", ".join(grid.names)})' if grid.names else ''
  worlds = (f' x {r.config.world.num_worlds} worlds' if r.config.world.num_worlds > 1 else '')
  r.log(f'{kind}: compiling the sweep ({len(exp.strategies)} strategies, {e.num_seeds} '
        f'seeds{worlds}{points}, chunks of {e.rounds_per_chunk} rounds) ...')
  start, counts = time.perf_counter(), dict(_cache_counts)
  sweeper = sweep_lib.compile_chunk(
      sweep_lib.make_sweep(exp, per_lane_world=r.lanes.world_S is not None), r.lanes,
      e.rounds_per_chunk)
  seconds = time.perf_counter() - start
  timing.setdefault(kind, {})['compile_seconds'] = seconds
  timing[kind]['compile_cache'] = {k: v - counts[k] for k, v in _cache_counts.items()}
  r.log(f'{kind}: compiled in {seconds:.1f}s')
  return sweeper


def _arrays_path(workdir: str, kind: str, strategy: str, suffix: str = '') -> str:
  name = f'{kind}_{strategy}_{suffix}' if suffix else f'{kind}_{strategy}'
  return os.path.join(workdir, 'results', f'{name}.npz')


class RestoredSweep(NamedTuple):
  """A run's joint sweep of one strategy, before any choice and at its last checkpoint
  (`restore_joint_sweep`): what the diagnostics in experiments/analysis read."""
  config: object
  spec: object  # The world's `WorldSpec`.
  lm_spec: object
  world: object  # One world's tables; with several worlds, each lane's (leading axis L).
  agent: object  # The joint `Agent`.
  keys_L: jax.Array  # The lanes' keys, as `run` makes them: grid points x (worlds x) seeds.
  fresh: loop_lib.RunState  # Every lane before any choice.
  state: loop_lib.RunState  # Every lane at the last readable checkpoint.
  rankings: int  # Rankings each lane had made there.
  world_L: np.ndarray | None = None  # int[L]: each lane's world, None with one world.


def restore_joint_sweep(workdir: str, strategy: str, many_worlds: bool = False) -> RestoredSweep:
  """The joint agent's sweep of `strategy` in `workdir` (a finished or interrupted run, read with
  the config it saved), restored from its last checkpoint; a `UserError` in one line if the run
  has no checkpoint of that strategy, or several worlds and not `many_worlds` (a diagnostic that
  reads one world's tables). Lanes are laid out as `run` lays them out (`_setup`)."""
  config = workdir_lib.saved_config(workdir)
  if config.world.num_worlds > 1 and not many_worlds:
    raise errors.UserError(f'{workdir}: a run over {config.world.num_worlds} worlds; the '
                           'diagnostics read one-world runs (world.num_worlds = 1)')
  directory = os.path.join(workdir, 'checkpoints', f'joint_{strategy}')
  if not os.path.isdir(directory):
    raise errors.UserError(f'no checkpoints of the joint agent\'s {strategy!r} at {directory}')
  use_compilation_cache(DEFAULT_COMPILATION_CACHE)
  spec, lm_spec, world = pipeline.build_world(config)
  params, _ = pipeline.pretrained_lm(config, spec, lm_spec, world, log=lambda s: None)
  agent = pipeline.make_agent(config, spec, lm_spec, 'joint')
  sweeper = sweep_lib.make_sweep(loop_lib.make_experiment(config, spec, agent),
                                 per_lane_world=config.world.num_worlds > 1)
  e, grid = config.experiment, hyperparams.grid(config)
  S = e.num_seeds * config.world.num_worlds  # Lanes per grid point.
  lanes = sweep_lib.make_lanes(pipeline.lane_keys(config)[np.tile(np.arange(S), grid.size)],
                               params, world, hparams_S=hyperparams.lane_values(config, S),
                               world_S=pipeline.world_lanes(config, S * grid.size))
  fresh = jax.jit(sweeper.init)(lanes.keys_S, lanes.base_params, lanes.world, lanes.hparams_S)
  metrics_like = jax.tree_util.tree_map(
      lambda x: np.zeros((x.shape[0], e.rounds + 1) + x.shape[1:], np.float32),
      jax.eval_shape(sweeper.evaluate, fresh, lanes.world))
  restored = checkpoints_lib.restore_progress(
      directory, {'state': fresh, 'metrics': metrics_like}, log=lambda s: None)
  if restored is None:
    raise errors.UserError(f'no finished checkpoint of the joint agent\'s {strategy!r} in '
                           f'{directory}')
  at, tree = restored
  state = jax.tree_util.tree_map(jax.numpy.asarray, tree['state'])
  return RestoredSweep(config, spec, lm_spec, lanes.world, agent, lanes.keys_S, fresh, state,
                       at * e.prompts_per_round, lanes.world_S)
