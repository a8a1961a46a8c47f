r"""How many human choices does each exploration strategy need? (the headline experiment)

  python experiments/explore.py --config=experiments/configs/default.py --workdir=runs/default

Pre-trains the LM (or loads it from the work directory), then sweeps every strategy of
`config.experiment.strategies` over `num_seeds` seeds (vmapped; one compilation per strategy),
printing progress after every chunk of rounds. Writes into `--workdir`:

  config.json      the resolved config
  pretrain.json    the pre-trained LM's KL to the majority and to p*, and its coverage
  results.csv      long format: agent, strategy, seed, round, queries, kl, tv, ...
  summary.json     per strategy: final KL (mean, s.e.), queries to passive's final KL, ratio
  *.png            metric vs. queries, mean +/- s.e. over seeds (redraw: experiments/plot.py)

A killed run resumes from its last chunk when started again with the same config and workdir.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from lmrl import checks
from lmrl import experiment
from lmrl import metrics
from lmrl import pipeline
from lmrl import plotting
from lmrl import results
from lmrl import sweep

_CONFIG = config_flags.DEFINE_config_file(
    'config', 'experiments/configs/default.py', 'Experiment config file.')
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
  os.makedirs(os.path.join(workdir, 'checkpoints'), exist_ok=True)
  with open(path, 'w') as f:
    f.write(config.to_json(indent=2))


def run_strategy(config, strategy, agent, spec, world, params, workdir) -> None:
  """Sweeps one strategy over seeds (resuming a checkpoint) and appends its rows."""
  e = config.experiment
  done_marker = os.path.join(workdir, 'checkpoints', f'{config.agent.kind}_{strategy}.done')
  if os.path.exists(done_marker):
    print(f'{strategy}: already done, skipped')
    return
  sweeper = sweep.make_sweep(experiment.make_experiment(config, spec, agent, strategy))
  sharding = sweep.seed_sharding(e.num_seeds) if e.shard_seeds else None
  started = time.time()

  def progress(done, last, seconds):
    kl = last['kl']
    print(f'{strategy:>10} round {done:4d}/{e.rounds}  queries {done * e.prompts_per_round:6d}'
          f'  KL {kl.mean():.4f} +/- {kl.std() / len(kl) ** 0.5:.4f}'
          f'  minority coverage {last["coverage_G"][:, -1].mean():.3f}  ({seconds:.1f}s)',
          flush=True)

  out = sweep.run_strategy(
      sweeper, sweep.seed_keys(config.seed, e.num_seeds), params, world, rounds=e.rounds,
      rounds_per_chunk=e.rounds_per_chunk, sharding=sharding, on_chunk=progress,
      checkpoint_path=os.path.join(workdir, 'checkpoints',
                                   f'{config.agent.kind}_{strategy}.msgpack'))
  target = metrics.target_coverage(world, experiment.eval_prompt_index(config, spec))
  results.append_rows(os.path.join(workdir, 'results.csv'), results.metric_rows(
      config.agent.kind, strategy, out, target, e.prompts_per_round))
  open(done_marker, 'w').close()
  print(f'{strategy}: {e.num_seeds} seeds x {e.rounds} rounds in {time.time() - started:.1f}s')


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
  agent = pipeline.make_agent(config, spec, lm_spec)
  for strategy in config.experiment.strategies:
    run_strategy(config, strategy, agent, spec, world, params, workdir)
  rows = results.read_rows(os.path.join(workdir, 'results.csv'))
  summary = results.summarize(rows, config.experiment.num_bootstrap, config.seed)
  with open(os.path.join(workdir, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=2)
  for agent_kind, per_strategy in summary.items():
    for strategy, s in per_strategy.items():
      print(f'{agent_kind}/{strategy:>10}: final KL {s["final_kl_mean"]:.4f} +/- '
            f'{s["final_kl_se"]:.4f}; queries to passive final KL '
            f'{s.get("queries_to_target", float("nan")):.0f}; ratio vs passive '
            f'{s.get("ratio_vs_passive", float("nan")):.2f} +/- '
            f'{s.get("ratio_vs_passive_se", float("nan")):.2f}')
  for path in plotting.plot_workdir(workdir):
    print(f'wrote {path}')


if __name__ == '__main__':
  app.run(main)
