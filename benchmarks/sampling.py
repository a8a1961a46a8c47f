r"""Sampling the ensemble's mixture: every member on every row vs. each member on its own rows.

  python -m benchmarks.sampling --config=default --out=/tmp/sampling.json
  python -m benchmarks.sampling --config=tiny --repeats=2 --out=/tmp/sampling_tiny.json  # smoke

A query of the sampling strategies (passive, boltzmann, thompson and infomax's candidate pool)
draws each response from one epistemic member. Two ways to compute it, side by side in one
process, for the config's joint agent and all `experiment.num_seeds` seeds (vmapped), on the
same state and prompts:

* `every member`: the LM of every member on every row, then the row's own member's logits
  picked (`EpistemicNet.apply_rows`): what the explorer did before members were grouped;
* `grouped`: rows assigned to members in equal blocks, each member's network on its own block
  (`EpistemicNet.apply_blocks`, `agent.epistemic_explorer`): what the library does now.

Each query is one `jax.jit(jax.vmap(...))`, compiled ahead of time and timed as the median of
`--repeats` calls, the two ways interleaved in each repeat. FLOPs from XLA's cost analysis
(scans unrolled, `common.learn_flops`). Prints the machine, a table (ms per round for all seeds,
GFLOP, grouped/every-member ratio) and writes JSON to `--out`. The two ways draw different
(equally distributed) samples, so their outputs are not compared here; `tests/test_epistemic.py`
checks that the grouped samples follow the mixture.
"""

import os
import statistics
import sys
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import common
from lmrl import agent as agent_lib
from lmrl import epistemic
from lmrl import flags as lmrl_flags
from lmrl import hyperparams
from lmrl import lm as lm_lib
from lmrl import loop
from lmrl import pipeline
from lmrl import strategies
from lmrl import sweep
from lmrl import world as world_lib

_CONFIG = lmrl_flags.define_config_flag('default')
_OUT = flags.DEFINE_string('out', '/tmp/sampling.json', 'Where to write the JSON.')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed calls per query (median).', lower_bound=1)

SAMPLING_STRATEGIES = ('passive', 'boltzmann', 'thompson', 'infomax')


def every_member_explorer(epi: epistemic.EpistemicNet, params, spec) -> strategies.Explorer:
  """The library's explorer with sampling that runs every member on every row (the baseline)."""
  grouped = agent_lib.epistemic_explorer(epi, params, spec)

  def sample_rows(key, index_E, prompts_ExLx, temperature):
    return lm_lib.sample_responses(
        jax.random.split(key, prompts_ExLx.shape[0]),
        lambda tokens: epi.apply_rows(params, index_E, tokens), prompts_ExLx, spec, temperature)

  def sample(key, prompts_BxLx, temperature):
    key_member, key_tokens = jax.random.split(key)
    member_B = jax.random.randint(key_member, (prompts_BxLx.shape[0],), 0, epi.num_members)
    return sample_rows(key_tokens, params.mixture_index_M[member_B], prompts_BxLx, temperature)

  def sample_thompson(key, prompts_BxLx, num):
    B = prompts_BxLx.shape[0]
    key_index, key_tokens = jax.random.split(key)
    index_Bxn = jax.vmap(lambda k: epi.sample_indices(k, num))(jax.random.split(key_index, B))
    return sample_rows(key_tokens, index_Bxn.reshape(B * num), jnp.repeat(prompts_BxLx, num, 0),
                       1.0).reshape(B, num, -1)

  return grouped._replace(sample=sample, sample_thompson=sample_thompson)


def call_seconds(compiled, args) -> float:
  start = time.perf_counter()
  jax.block_until_ready(compiled(*args))
  return time.perf_counter() - start


def main(argv):
  del argv
  config = _CONFIG.value
  common.validate_or_exit(config)
  if config.agent.epistemic != 'ensemble':
    raise app.UsageError('this benchmark compares ways to sample an ensemble: '
                         'config.agent.epistemic must be ensemble')
  e = config.experiment
  setup = common.machine()
  print(f'{setup["device"]}, {setup["cpu_count"]} CPUs, load average '
        f'{setup["load_average"][0]:.2f}; {e.num_seeds} seeds x {e.prompts_per_round} prompts, '
        f'M = {config.agent.num_members}, K = {e.responses_per_prompt}, '
        f'pool {e.pool_size}', file=sys.stderr, flush=True)
  spec, lm_spec, world = pipeline.build_world(config)
  epi = epistemic.make_epistemic_lm(config.agent, lm_spec)
  agent = agent_lib.make_joint_agent(config, spec, lm_spec)
  keys_S = sweep.seed_keys(config.seed, e.num_seeds)
  base = lm_lib.init_lm(jax.random.key(0), lm_spec)
  hparams = hyperparams.as_arrays(hyperparams.values(config))
  state_S = jax.jit(jax.vmap(agent.init, in_axes=(0, None, None)))(keys_S, base, hparams)
  prompts_SxBxLx = jax.vmap(lambda k: world_lib.prompt_tokens(
      world_lib.sample_prompts(k, world, e.prompts_per_round), spec))(keys_S)
  s_params = loop.strategy_params(config, hparams)
  explorers = {'every member': every_member_explorer,
               'grouped': lambda epi, params, spec: agent_lib.epistemic_explorer(
                   epi, params, spec)}

  phases = {}
  for name in SAMPLING_STRATEGIES:
    for way, make_explorer in explorers.items():
      def query(key, state, prompts_BxLx, name=name, make_explorer=make_explorer):
        return strategies.get_strategy(name)(key, make_explorer(epi, state.params, spec),
                                             prompts_BxLx, s_params)
      fn = jax.vmap(query)
      args = (keys_S, state_S, prompts_SxBxLx)
      start = time.perf_counter()
      compiled = jax.jit(fn).lower(*args).compile()
      compile_s = time.perf_counter() - start
      flops = common.learn_flops(fn, args)['flops']
      jax.block_until_ready(compiled(*args))  # Warm-up.
      phases[name, way] = {'compiled': compiled, 'args': args, 'flops': flops,
                           'compile_seconds': compile_s, 'seconds_all': []}
      print(f'compiled: {name} ({way}) {compile_s:.1f} s', file=sys.stderr, flush=True)
  for _ in range(_REPEATS.value):  # Interleaved: a change in load hits both ways alike.
    for phase in phases.values():
      phase['seconds_all'].append(call_seconds(phase['compiled'], phase['args']))
  setup['load_average_after'] = list(os.getloadavg())

  rows = []
  print(f'{"strategy":<10} {"every member ms":>16} {"grouped ms":>11} {"speed-up":>9} '
        f'{"GFLOP every":>12} {"GFLOP grouped":>14}')
  for name in SAMPLING_STRATEGIES:
    every, grouped = phases[name, 'every member'], phases[name, 'grouped']
    t_every, t_grouped = (statistics.median(p['seconds_all']) for p in (every, grouped))
    rows.append({'strategy': name, 'every_member_ms': 1e3 * t_every,
                 'grouped_ms': 1e3 * t_grouped, 'speedup': t_every / t_grouped,
                 'every_member_gflop': every['flops'] / 1e9,
                 'grouped_gflop': grouped['flops'] / 1e9,
                 'every_member_seconds_all': every['seconds_all'],
                 'grouped_seconds_all': grouped['seconds_all']})
    print(f'{name:<10} {1e3 * t_every:>16.1f} {1e3 * t_grouped:>11.1f} '
          f'{t_every / t_grouped:>8.2f}x {every["flops"] / 1e9:>12.2f} '
          f'{grouped["flops"] / 1e9:>14.2f}')
  print(f'load average before -> after: {setup["load_average"][0]:.2f} -> '
        f'{setup["load_average_after"][0]:.2f}')
  common.write_out(_OUT.value, {'setup': setup, 'num_seeds': e.num_seeds,
                                 'repeats': _REPEATS.value, 'rows': rows})


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
