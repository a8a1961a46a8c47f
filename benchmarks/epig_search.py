r"""Epig's tuple search: every K-tuple of the pool vs. a tuple grown one slot at a time.

  python -m benchmarks.epig_search --out=/tmp/epig_search.json    # the structured headline's epig
  python -m benchmarks.epig_search --config=tiny --repeats=2 \
      --config.experiment.responses_per_prompt=3 --out=/tmp/epig_search_tiny.json  # a smoke run

One round of `epig` for one lane of the config's first world: its pre-trained LM
(`pipeline.pretrained_lm` of the config's worlds, from the pre-trained-LM cache when it holds
them, as the headline's runs leave it), the
joint agent initialised on it (random priors, no choices yet), `experiment.prompts_per_round`
prompts. The inputs `strategies.epig` builds (the members' tables, the candidate pool, the showable
tuples and candidates) are computed once; then three phases, each a `jax.jit`, compiled ahead of
time and timed as the median of `--repeats` calls, interleaved in each repeat:

  tables   `strategies.epig_candidates`: the members' exact tables and the pool (shared by both);
  all      `epig.select_queries` over every K-tuple (`experiment.epig_tuples='all'`);
  greedy   `epig.select_queries` growing each tuple (`'greedy'`), same key, same targets.

What the cheaper search gives up, on the same inputs:

  first query   for every prompt alone (the members' weights uniform): the greedy tuple's
                `I(Y; C)` over the best tuple's (mean, min), and how often it is the best;
  whole round   the round's summed scores (each query's `I(Y; C_b | C_1..C_b-1)`, sequential) of
                the greedy search over the exhaustive one's.

Prints the machine and load, a table (ms per round per lane; the greedy/all time ratio) and the
fidelity figures; writes JSON to `--out`.
"""

import os
import statistics
import sys
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common
from lmrl import epig as epig_lib
from lmrl import flags as lmrl_flags
from lmrl import hyperparams
from lmrl import loop
from lmrl import pipeline
from lmrl import runner
from lmrl import strategies
from lmrl import world as world_lib

_CONFIG = lmrl_flags.define_config_flag('structured:headline_epig')
_OUT = flags.DEFINE_string('out', '/tmp/epig_search.json', 'Where to write the JSON.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed calls per phase (median).', lower_bound=1)


def _compiled(fn, *args):
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  seconds = time.perf_counter() - start
  jax.block_until_ready(compiled(*args))  # Warm-up.
  return compiled, seconds


def main(argv):
  del argv
  config = _CONFIG.value
  config.experiment.strategies = ('epig',)
  common.validate_or_exit(config)
  e = config.experiment
  setup = common.machine()
  spec, lm_spec, world = pipeline.build_world(config)
  base, _ = pipeline.pretrained_lm(config, spec, lm_spec, world, log=lambda line: None,
                                   cache_dir=runner.default_pretrained_cache())
  if config.world.num_worlds > 1:  # The first world's tables and pre-trained LM.
    world, base = jax.tree_util.tree_map(lambda x: x[0], (world, base))
  agent = pipeline.make_agent(config, spec, lm_spec, 'joint')
  hparams = hyperparams.as_arrays(hyperparams.values(config))
  state = jax.jit(agent.init)(jax.random.key(config.seed), base, hparams)
  prompts_BxLx = world_lib.prompt_tokens(
      world_lib.sample_prompts(jax.random.key(1), world, e.prompts_per_round), spec)
  params = loop.strategy_params(config, hparams)
  K = e.responses_per_prompt
  print(f'{setup["device"]}, {setup["cpu_count"]} CPUs, load average '
        f'{setup["load_average"][0]:.2f}; one lane, {e.prompts_per_round} queries, '
        f'M = {config.agent.num_members}, K = {K}, pool {e.pool_size}, '
        f'{"full rankings" if config.world.full_ranking else "first choices"}, '
        f'epig_samples {e.epig_samples}', file=sys.stderr, flush=True)

  def candidates(key, state, prompts_BxLx):
    explorer = agent.explorer(state, hparams)
    return strategies.epig_candidates(key, explorer, prompts_BxLx, params, population=False)

  key_pool, key_select = jax.random.split(jax.random.key(2))
  args_tables = (key_pool, state, prompts_BxLx)
  tables_fn, tables_compile = _compiled(candidates, *args_tables)
  query_MxBxN, _, pool_BxC, tuples_UxK, showable_BxU = tables_fn(*args_tables)
  log_u_BxMxC = jnp.take_along_axis(jnp.swapaxes(query_MxBxN, 0, 1), pool_BxC[:, None, :],
                                    axis=-1)
  showable_BxC = epig_lib.showable_candidates(pool_BxC, K)

  def targets_fn(key_t, b):
    if e.epig_samples:
      return epig_lib.sampled_targets(key_t, query_MxBxN[:, b][:, None], e.epig_samples)
    return epig_lib.exact_targets(query_MxBxN[:, b][:, None])

  def select_all(key, log_u_BxMxC):
    return epig_lib.select_queries(key, log_u_BxMxC, K, targets_fn, config.world.full_ranking,
                                   tuples_UxK=tuples_UxK, valid_BxU=showable_BxU)

  def select_greedy(key, log_u_BxMxC):
    return epig_lib.select_queries(key, log_u_BxMxC, K, targets_fn, config.world.full_ranking,
                                   valid_BxC=showable_BxC)

  phases = {'tables': (tables_fn, args_tables, tables_compile)}
  for name, fn in (('all', select_all), ('greedy', select_greedy)):
    compiled, compile_s = _compiled(fn, key_select, log_u_BxMxC)
    phases[name] = (compiled, (key_select, log_u_BxMxC), compile_s)
    print(f'compiled: {name} {compile_s:.1f} s', file=sys.stderr, flush=True)
  times = {name: [] for name in phases}
  for _ in range(_REPEATS.value):  # Interleaved: a change in load hits every phase alike.
    for name, (compiled, args, _) in phases.items():
      times[name].append(common.seconds(compiled, *args)[0])
  setup['load_average_after'] = list(os.getloadavg())
  ms = {name: 1e3 * statistics.median(t) for name, t in times.items()}

  # Fidelity. The whole round: the summed sequential scores of each search.
  _, score_all_B = phases['all'][0](key_select, log_u_BxMxC)
  _, score_greedy_B = phases['greedy'][0](key_select, log_u_BxMxC)
  round_ratio = float(jnp.sum(score_greedy_B) / jnp.sum(score_all_B))
  # The first query, every prompt alone (uniform member weights): B rounds of one query each.
  one_all = jax.jit(jax.vmap(
      lambda k, b: epig_lib.select_queries(
          k, log_u_BxMxC[b][None], K, lambda key_t, _: targets_fn(key_t, b),
          config.world.full_ranking, tuples_UxK=tuples_UxK, valid_BxU=showable_BxU[b][None])[1][0]))
  one_greedy = jax.jit(jax.vmap(
      lambda k, b: epig_lib.select_queries(
          k, log_u_BxMxC[b][None], K, lambda key_t, _: targets_fn(key_t, b),
          config.world.full_ranking, valid_BxC=showable_BxC[b][None])[1][0]))
  B = prompts_BxLx.shape[0]
  keys_B = jax.random.split(jax.random.key(3), B)
  best_B = np.asarray(one_all(keys_B, jnp.arange(B)))
  greedy_B = np.asarray(one_greedy(keys_B, jnp.arange(B)))
  first_ratio_B = greedy_B / best_B

  rows = [{'phase': name, 'ms_per_round': ms[name], 'compile_seconds': phases[name][2]}
          for name in phases]
  print('| phase | ms a round (one lane) | compile s |')
  print('| --- | --- | --- |')
  for row in rows:
    print(f"| {row['phase']} | {row['ms_per_round']:.0f} | {row['compile_seconds']:.1f} |")
  speedup = ms['all'] / ms['greedy']
  print(f'selection: all / greedy = {speedup:.1f}x; a round (tables + selection): '
        f"{(ms['tables'] + ms['all']) / (ms['tables'] + ms['greedy']):.2f}x")
  print(f'first query, each prompt alone: greedy I / best I mean {first_ratio_B.mean():.3f}, '
        f'min {first_ratio_B.min():.3f}, the best tuple in '
        f'{np.mean(first_ratio_B > 1 - 1e-4):.0%} of {B} prompts (best I mean '
        f'{best_B.mean():.3f} nats)')
  print(f'whole round, sequential: greedy / all summed I = {round_ratio:.3f} '
        f'({float(jnp.sum(score_greedy_B)):.3f} / {float(jnp.sum(score_all_B)):.3f} nats)')
  common.write_out(_OUT.value, {
      'machine': setup, 'config': {'prompts_per_round': e.prompts_per_round, 'K': K,
                                   'pool_size': e.pool_size, 'members': config.agent.num_members,
                                   'full_ranking': config.world.full_ranking,
                                   'epig_samples': e.epig_samples},
      'phases': rows, 'selection_speedup': speedup,
      'first_query_ratio_mean': float(first_ratio_B.mean()),
      'first_query_ratio_min': float(first_ratio_B.min()),
      'first_query_best_share': float(np.mean(first_ratio_B > 1 - 1e-4)),
      'round_score_ratio': round_ratio})


if __name__ == '__main__':
  app.run(main)
