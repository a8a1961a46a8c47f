r"""What compiling a sweep costs: one program for every strategy vs. one per strategy, cold vs. cached.

  python -m benchmarks.compile --config=default --out=/tmp/compile.json
  python -m benchmarks.compile --config=tiny --out=/tmp/compile_tiny.json   # seconds

Side by side in one process, for the config's agent and every strategy of the config:

* `one program`: `sweep.compile_chunk` of the experiment over all strategies (a `lax.switch`):
  what `lmrl.run` compiles, once per agent kind;
* `one per strategy`: the same chunk compiled for each strategy alone (what a sweep compiled
  before the strategy became a traced switch index), summed;
* `cached start`: the one-program compile again in a fresh subprocess that shares a new
  persistent compilation cache with a first subprocess (cold: compiles and writes the cache;
  cached: loads it), as a resumed run or a rerun would.

Prints the seconds and their ratios, and writes them as JSON to `--out`.
"""

import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import jax

from benchmarks import common
from lmrl import flags as lmrl_flags
from lmrl import lm as lm_lib
from lmrl import loop
from lmrl import pipeline
from lmrl import sweep

_CONFIG = lmrl_flags.define_config_flag('default')
_OUT = flags.DEFINE_string('out', '/tmp/compile.json', 'Where to write the JSON.')
_CHILD = flags.DEFINE_bool('child', False, 'Internal: compile the one program and print seconds.')


def compile_seconds(config, strategies: tuple[str, ...]) -> float:
  """Seconds of `sweep.compile_chunk` for an experiment over `strategies` (tracing included)."""
  spec, lm_spec, world = pipeline.build_world(config)
  agent = pipeline.make_agent(config, spec, lm_spec)
  exp = loop.make_experiment(config, spec, agent, strategies)
  e = config.experiment
  keys_S = sweep.seed_keys(config.seed, e.num_seeds)
  params = lm_lib.init_lm(jax.random.key(0), lm_spec)
  start = time.perf_counter()
  sweep.compile_chunk(sweep.make_sweep(exp), sweep.make_lanes(keys_S, params, world),
                      e.rounds_per_chunk)
  return time.perf_counter() - start


def _child_seconds(argv: list[str], cache_dir: str) -> float:
  env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=cache_dir)
  out = subprocess.run([sys.executable, '-m', 'benchmarks.compile', '--child', *argv], env=env,
                       capture_output=True, text=True, check=True)
  return float(out.stdout.strip().splitlines()[-1])


def main(argv):
  del argv
  config = _CONFIG.value
  common.validate_or_exit(config)
  strategies = tuple(config.experiment.strategies)
  if _CHILD.value:
    jax.config.update('jax_compilation_cache_dir', os.environ['JAX_COMPILATION_CACHE_DIR'])
    print(compile_seconds(config, strategies))
    return
  load_before = os.getloadavg()[0]
  one = compile_seconds(config, strategies)
  each = {s: compile_seconds(config, (s,)) for s in strategies}
  # The command line of this process, for the children (same config and overrides).
  child_argv = [a for a in sys.argv[1:] if not a.startswith('--out')]
  with tempfile.TemporaryDirectory(prefix='lmrl-compile-bench-') as cache_dir:
    cold = _child_seconds(child_argv, cache_dir)
    cached = _child_seconds(child_argv, cache_dir)
  out = {
      'backend': jax.default_backend(), 'cpu_count': os.cpu_count(),
      'load_average': [load_before, os.getloadavg()[0]],
      'strategies': list(strategies), 'num_seeds': config.experiment.num_seeds,
      'one_program_seconds': one, 'per_strategy_seconds': each,
      'per_strategy_total_seconds': sum(each.values()),
      'per_strategy_over_one_program': sum(each.values()) / one,
      'cold_process_seconds': cold, 'cached_process_seconds': cached,
      'cold_over_cached': cold / cached,
  }
  print(f'{jax.default_backend()}, {os.cpu_count()} CPUs, load average '
        f'{load_before:.2f} -> {os.getloadavg()[0]:.2f}; {len(strategies)} strategies, '
        f'{config.experiment.num_seeds} seeds')
  print(f'one program for every strategy        {one:8.1f} s')
  for s, seconds in each.items():
    print(f'  {s:<36s}{seconds:8.1f} s')
  print(f'one program per strategy, total       {sum(each.values()):8.1f} s  '
        f'({sum(each.values()) / one:.1f}x the one program)')
  print(f'one program, fresh process, cold      {cold:8.1f} s')
  print(f'one program, fresh process, cached    {cached:8.1f} s  ({cold / cached:.1f}x faster)')
  common.write_out(_OUT.value, out)


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
