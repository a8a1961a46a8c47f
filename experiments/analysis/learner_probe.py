r"""The structured study's learner table: a short run of a config with some fields changed.

  python experiments/analysis/learner_probe.py --runs=runs/probe --strategies=oracle,passive \
      finetune.shown_mass_weight=10 finetune.learning_rate=3e-4

Runs `structured:ceiling` (experiments/structured/config.py) on 2 worlds x 1 seed for 20 rounds
of 64 rankings (`--base=headline` for the default world), with each `FIELD=VALUE` argument
applied (e.g. `experiment.rounds=40` for a longer run), into `RUNS/<the arguments>`, and prints
per strategy the mean over lanes of KL(p*||p_bar), the mass on each group's favourites (F_0, F_1),
the held-out choice log-loss and the predicted KL at every evaluated round (0, 640, 1,280, ...
rankings): one row of experiments/structured/README.md's table each.
`--oracle_power=1` makes the oracle draw from p* itself (`lmrl.strategies.ORACLE_POWER`).
"""

import ast
import csv
import importlib.util
import os
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

import lmrl
from lmrl import flags as lmrl_flags
from lmrl import strategies

_RUNS = flags.DEFINE_string('runs', 'runs/probe', 'Parent of the work directories.')
_BASE = flags.DEFINE_string('base', 'structured:ceiling', 'The config the fields change.')
_STRATEGIES = flags.DEFINE_list('strategies', ['oracle', 'passive'], 'Strategies to run.')
_POWER = flags.DEFINE_float('oracle_power', strategies.ORACLE_POWER, 'The oracle draws p*^power.')


def probe_config(base: str, overrides: list[str], strategy_names: list[str]):
  """`base` on 2 worlds x 1 seed, 20 rounds, metrics every 10, with `FIELD=VALUE` overrides."""
  path, _, variant = lmrl_flags.config_path(base).partition(':')
  spec = importlib.util.spec_from_file_location('probed_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(variant) if variant else module.get_config()
  config.world.num_worlds, config.experiment.num_seeds = 2, 1
  config.experiment.rounds, config.experiment.eval_every = 20, 10
  config.experiment.strategies = tuple(strategy_names)
  for override in overrides:
    field, _, text = override.partition('=')
    section, name = field.split('.')
    try:
      value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      value = text
    config[section][name] = value
  return config


def main(argv):
  overrides = argv[1:]
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO.
  config = probe_config(_BASE.value, overrides, _STRATEGIES.value)
  strategies.ORACLE_POWER = _POWER.value
  workdir = os.path.join(_RUNS.value, '_'.join([_BASE.value.replace(':', '-')] + overrides
                                               + [f'power{_POWER.value:g}']))
  start = time.time()
  lmrl.run(config, workdir, log=lambda line: None)
  with open(os.path.join(workdir, 'results.csv')) as f:
    rows = list(csv.DictReader(f))
  evaluated = sorted({int(x['round']) for x in rows})  # Every evaluated round is printed.
  for strategy in config.experiment.strategies:
    parts = []
    for r in evaluated:
      lanes = [x for x in rows if x['strategy'] == strategy and x['round'] == str(r)]
      mean = lambda key, lanes=lanes: np.mean([float(x[key]) for x in lanes])
      parts.append(f'{r * config.experiment.prompts_per_round} rankings: KL {mean("kl"):.3f} '
                   f'mass on F_0 {mean("coverage_g0"):.3f} F_1 {mean("coverage_g1"):.4f} choice loss {mean("choice_loss"):.3f} '
                   f'predicted KL {mean("predicted_kl"):.3f}')
    print(f'{" ".join(overrides) or "(none)"} {strategy}: ' + ' | '.join(parts)
          + f' ({time.time() - start:.0f}s)', flush=True)


if __name__ == '__main__':
  app.run(main)
