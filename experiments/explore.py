r"""How many human choices does each exploration strategy need? (the headline experiment)

  python experiments/explore.py --config=experiments/configs/default.py --workdir=runs/default

Pre-trains the LM (or loads it from the work directory), then sweeps every strategy of
`config.experiment.strategies` over `num_seeds` seeds (vmapped; one compilation per strategy),
printing progress after every chunk of rounds, for the agent `config.agent.kind` ('joint',
'classic', or 'both': the two side by side on the same seeds). Writes into `--workdir`:

  config.json      the resolved config
  pretrain.json    the pre-trained LM's KL to the majority and to p*, and its coverage
  results.csv      long format: agent, strategy, seed, round, queries, kl, tv, ..., failed
  summary.json     per agent and strategy: final KL (mean, s.e.), queries to passive's final KL
                   and their ratio to passive's, failed seeds (left out of every mean)
  timing.json      wall time per agent and strategy (compile included, and per round without)
  *.png            metric vs. queries, mean +/- s.e. over seeds (redraw: experiments/plot.py)
  results/, checkpoints/   per-sweep results and orbax checkpoints (what a resumed run reuses)

Killed at any moment, the same command with the same `--workdir` resumes from the last complete
checkpoint and ends with the same results.csv and summary.json as an uninterrupted run. Every
file is written whole under a temporary name and renamed. A work directory that holds a run of
another config is refused, never overwritten.
"""

import json
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # Config files import `experiments.configs.default`.
  sys.path.insert(0, REPO_ROOT)

from absl import app  # pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags  # pylint: disable=wrong-import-position
from absl import logging  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from lmrl import checks  # pylint: disable=wrong-import-position
from lmrl import experiment  # pylint: disable=wrong-import-position
from lmrl import metrics  # pylint: disable=wrong-import-position
from lmrl import pipeline  # pylint: disable=wrong-import-position
from lmrl import plotting  # pylint: disable=wrong-import-position
from lmrl import results  # pylint: disable=wrong-import-position
from lmrl import sweep  # pylint: disable=wrong-import-position

_CONFIG = checks.define_config_flag('experiments/configs/default.py')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for results; resumed if it exists.')


def prepare_workdir(workdir: str, config) -> None:
  """Creates `workdir` with `config.json`, or checks that it holds a run of the same config."""
  path = os.path.join(workdir, 'config.json')
  if os.path.exists(path):
    with open(path) as f:
      if json.load(f) != json.loads(config.to_json()):
        raise checks.ConfigError(
            f'--workdir {workdir} holds a run with a different config; choose a new --workdir')
    return
  if os.path.isdir(workdir) and os.listdir(workdir):
    raise checks.ConfigError(f'--workdir {workdir} is not empty and holds no config.json; '
                             'choose a new --workdir')
  os.makedirs(workdir, exist_ok=True)
  results.write_atomic(path, config.to_json(indent=2))
  for sub in ('results', 'checkpoints'):
    os.makedirs(os.path.join(workdir, sub), exist_ok=True)


def sweep_strategy(config, kind, strategy, agent, spec, world, params, workdir) -> dict:
  """Sweeps one strategy of one agent over seeds (resuming its checkpoint); returns its timing.

  Its rows go to `results/<kind>_<strategy>.csv`, written once when the sweep is complete; a
  sweep whose file exists is skipped.
  """
  e = config.experiment
  name = f'{kind}_{strategy}'
  rows_path = os.path.join(workdir, 'results', f'{name}.csv')
  if os.path.exists(rows_path):
    print(f'{kind}/{strategy}: already done, skipped')
    return {}
  sweeper = sweep.make_sweep(experiment.make_experiment(config, spec, agent, strategy))
  sharding = sweep.seed_sharding(e.num_seeds) if e.shard_seeds else None
  started = time.time()
  chunk_seconds = []

  def progress(done, last, seconds):
    chunk_seconds.append(seconds)
    ok = last['failed'] == 0
    kl = last['kl'][ok]
    failed = '' if ok.all() else f'  FAILED seeds {np.flatnonzero(~ok).tolist()}'
    print(f'{kind:>7}/{strategy:<9} round {done:4d}/{e.rounds}  queries '
          f'{done * e.prompts_per_round:6d}  KL {kl.mean():.4f} +/- '
          f'{kl.std() / max(len(kl), 1) ** 0.5:.4f}  minority coverage '
          f'{last["coverage_G"][ok, -1].mean():.3f}  ({seconds:.1f}s){failed}', flush=True)

  out = sweep.run_strategy(
      sweeper, sweep.seed_keys(config.seed, e.num_seeds), params, world, rounds=e.rounds,
      rounds_per_chunk=e.rounds_per_chunk, sharding=sharding, on_chunk=progress,
      checkpoint_dir=os.path.join(workdir, 'checkpoints', name))
  target = metrics.target_coverage(world, experiment.eval_prompt_index(config, spec))
  results.write_rows(rows_path, results.metric_rows(
      kind, strategy, out, target, e.prompts_per_round, experiment.evaluated_rounds(config)))
  wall = time.time() - started
  print(f'{kind}/{strategy}: {e.num_seeds} seeds x {e.rounds} rounds in {wall:.1f}s')
  steady = chunk_seconds[1:]  # The first chunk run here includes compilation.
  return {'wall_seconds': wall, 'chunks_timed': len(chunk_seconds),
          'seconds_per_round': (sum(steady) / (len(steady) * e.rounds_per_chunk)
                                if steady else float('nan'))}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO.
  config = _CONFIG.value
  try:
    checks.validate(config)
    if not _WORKDIR.value:
      raise checks.ConfigError('--workdir is required')
    prepare_workdir(_WORKDIR.value, config)
  except checks.ConfigError as error:
    sys.exit(f'error: {error}')
  workdir = _WORKDIR.value
  if config.experiment.distributed:
    import jax  # pylint: disable=g-import-not-at-top
    jax.distributed.initialize()
  spec, lm_spec, world = pipeline.build_world(config)
  params, report = pipeline.pretrained_lm(config, spec, lm_spec, world, workdir)
  print('pre-trained LM: ' + ', '.join(f'{k} {v:.4f}' for k, v in report.items()))
  timing_path = os.path.join(workdir, 'timing.json')
  timing = {}
  if os.path.exists(timing_path):
    with open(timing_path) as f:
      timing = json.load(f)
  names = []
  for kind in checks.agent_kinds(config):
    agent = pipeline.make_agent(config, spec, lm_spec, kind)
    for strategy in config.experiment.strategies:
      names.append(f'{kind}_{strategy}')
      measured = sweep_strategy(config, kind, strategy, agent, spec, world, params, workdir)
      if measured:
        timing.setdefault(kind, {})[strategy] = measured
        results.write_json(timing_path, timing)
  results.concatenate([os.path.join(workdir, 'results', f'{name}.csv') for name in names],
                      os.path.join(workdir, 'results.csv'))
  rows = results.read_rows(os.path.join(workdir, 'results.csv'))
  summary = results.summarize(rows, config.experiment.num_bootstrap, config.seed)
  results.write_json(os.path.join(workdir, 'summary.json'), summary)
  for kind, per_strategy in summary.items():
    for strategy, s in per_strategy.items():
      failed = f'; FAILED seeds {s["failed_seeds"]} left out' if s['failed_seeds'] else ''
      print(f'{kind}/{strategy:>10}: final KL {s["final_kl_mean"]:.4f} +/- '
            f'{s["final_kl_se"]:.4f}; queries to passive final KL '
            f'{s.get("queries_to_target", float("nan")):.0f}; ratio vs passive '
            f'{s.get("ratio_vs_passive", float("nan")):.2f} +/- '
            f'{s.get("ratio_vs_passive_se", float("nan")):.2f}{failed}')
  for path in plotting.plot_workdir(workdir):
    print(f'wrote {path}')


if __name__ == '__main__':
  app.run(main, flags_parser=checks.parse_flags)
