r"""Epig's tuple search: every K-tuple of the pool vs. a tuple grown one slot at a time.

  python -m benchmarks.epig_search --out=/tmp/epig_search.json    # the structured headline's epig
  python -m benchmarks.epig_search --lanes=8 --round_keys=1 \
      --out=/tmp/epig_search_8.json  # a half run's lanes (~10 min on 2 cores)
  python -m benchmarks.epig_search --config=tiny --repeats=2 \
      --config.experiment.responses_per_prompt=3 --out=/tmp/epig_search_tiny.json  # a smoke run

One round of `epig` for `--lanes` lanes (vmapped, as a run's lanes are; each its own agent and
prompts) of the config's first world: its pre-trained LM
(`pipeline.pretrained_lm` of the config's worlds, from the pre-trained-LM cache when it holds
them, as the headline's runs leave it), the
joint agent initialised on it (random priors, no choices yet), `experiment.prompts_per_round`
prompts. The inputs `strategies.epig` builds (the members' tables, the candidate pool, the showable
tuples and candidates) are computed once; then three phases, each a `jax.jit`, compiled ahead of
time and timed as the median of `--repeats` calls, interleaved in each repeat:

  tables   `strategies.epig_candidates`: the members' exact tables and the pool (shared by both);
  draws    what epig without tables computes instead (`experiment.epig_tables=False`; with
           `epig_samples` >= 1): `strategies.sampled_pool`, each member's `epig_samples` draws of
           Y, every member's scores of both (the selection that follows has the same shapes);
  all      `epig.select_queries` over every K-tuple (`experiment.epig_tuples='all'`);
  greedy   `epig.select_queries` growing each tuple (`'greedy'`), same key, same targets.

What the cheaper search gives up, on the same inputs:

  first query   for every query alone (the members' weights uniform): the greedy tuple's
                `I(Y; C)` over the best tuple's (mean, min, and how often within 1e-4 of it),
                over the queries whose best tuple tells anything (> 1e-4 nats);
  whole round   the round's summed scores (each query's `I(Y; C_b | C_1..C_b-1)`, sequential) of
                the greedy search over the exhaustive one's, each summed over `--round_keys` keys
                (their simulated histories differ: the searches draw their noise differently).

`experiment.epig_tuples` is ignored (both searches run); `epig_target` must be 'prompt' and
`epig_batch` 'round'.

Prints the machine and load, a table (ms a round per lane; the greedy/all time ratio) and the
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
_ROUND_KEYS = flags.DEFINE_integer(
    'round_keys', 4, 'Keys the whole-round comparison averages over (each runs both searches '
    'on every lane: at 8 lanes of the structured headline ~1 min a key).', lower_bound=1)
_LANES = flags.DEFINE_integer('lanes', 1, 'Lanes vmapped, as a run vmaps its (world, seed) '
                              'lanes (here all on the first world, each its own agent and '
                              'prompts); times are per lane.', lower_bound=1)


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
  if config.experiment.epig_target != 'prompt':
    sys.exit("error: benchmarks.epig_search measures epig_target='prompt' (the headline's), got "
             f'config.experiment.epig_target={config.experiment.epig_target!r}')
  if config.experiment.epig_batch != 'round':
    sys.exit("error: benchmarks.epig_search measures epig_batch='round' (the headline's), got "
             f'config.experiment.epig_batch={config.experiment.epig_batch!r}')
  e = config.experiment
  setup = common.machine()
  spec, lm_spec, world = pipeline.build_world(config)
  base, _ = pipeline.pretrained_lm(config, spec, lm_spec, world, log=lambda line: None,
                                   cache_dir=runner.default_pretrained_cache())
  if config.world.num_worlds > 1:  # The first world's tables and pre-trained LM.
    world, base = jax.tree_util.tree_map(lambda x: x[0], (world, base))
  agent = pipeline.make_agent(config, spec, lm_spec, 'joint')
  hparams = hyperparams.as_arrays(hyperparams.values(config))
  L = _LANES.value
  state_L = jax.jit(jax.vmap(agent.init, in_axes=(0, None, None)))(
      jax.random.split(jax.random.key(config.seed), L), base, hparams)
  prompts_LxBxLx = jax.vmap(lambda k: world_lib.prompt_tokens(
      world_lib.sample_prompts(k, world, e.prompts_per_round), spec))(
          jax.random.split(jax.random.key(1), L))
  params = loop.strategy_params(config, hparams)
  K, full_ranking = e.responses_per_prompt, config.world.full_ranking
  print(f'{setup["device"]}, {setup["cpu_count"]} CPUs, load average '
        f'{setup["load_average"][0]:.2f}; {L} lane(s), {e.prompts_per_round} queries each, '
        f'M = {config.agent.num_members}, K = {K}, pool {e.pool_size}, '
        f'{"full rankings" if full_ranking else "first choices"}, '
        f'epig_samples {e.epig_samples}', file=sys.stderr, flush=True)

  def candidates(key, state, prompts_BxLx):
    explorer = agent.explorer(state, hparams)
    query_MxBxN, _, pool_BxC, _, showable_BxU = strategies.epig_candidates(
        key, explorer, prompts_BxLx, params, population=False)
    return query_MxBxN, pool_BxC, showable_BxU

  tuples_UxK = jnp.asarray(strategies.tuples(e.pool_size, K))

  def select(key, query_MxBxN, pool_BxC, showable_BxU, search):
    """`strategies.epig`'s selection, given its candidates, with the search `search` (the
    round's batch: no prompts needed)."""
    return strategies.epig_select(key, query_MxBxN, None, pool_BxC, tuples_UxK, showable_BxU,
                                  None, params._replace(epig_tuples=search))

  def draws(key, state, prompts_BxLx):
    """What epig without tables computes before its selection (`strategies.
    _epig_without_tables`): the pool, each member's draws of Y, every member's scores of both."""
    explorer = agent.explorer(state, hparams)
    key_pool, key_draws = jax.random.split(key)
    pool_BxCxLy = strategies.sampled_pool(key_pool, explorer, prompts_BxLx, params)
    draws_BxMxSxLy = explorer.sample_members(key_draws, prompts_BxLx, e.epig_samples, 1.0)
    B, M, S, Ly = draws_BxMxSxLy.shape
    return explorer.utilities(prompts_BxLx, jnp.concatenate(
        [pool_BxCxLy, draws_BxMxSxLy.reshape(B, M * S, Ly)], axis=1))

  key_pool, key_select = jax.random.split(jax.random.key(2))
  args_tables = (jax.random.split(key_pool, L), state_L, prompts_LxBxLx)
  tables_fn, tables_compile = _compiled(jax.vmap(candidates), *args_tables)
  query_LxMxBxN, pool_LxBxC, showable_LxBxU = tables_fn(*args_tables)
  args_select = (jax.random.split(key_select, L), query_LxMxBxN, pool_LxBxC, showable_LxBxU)
  phases = {'tables': (tables_fn, args_tables, tables_compile)}
  if e.epig_samples:
    draws_fn, draws_compile = _compiled(jax.vmap(draws), *args_tables)
    phases['draws'] = (draws_fn, args_tables, draws_compile)
  for search in epig_lib.TUPLE_SEARCHES:
    compiled, compile_s = _compiled(
        jax.vmap(lambda *a, search=search: select(*a, search)), *args_select)
    phases[search] = (compiled, args_select, compile_s)
    print(f'compiled: {search} {compile_s:.1f} s', file=sys.stderr, flush=True)
  times = {name: [] for name in phases}
  for _ in range(_REPEATS.value):  # Interleaved: a change in load hits every phase alike.
    for name, (compiled, args, _) in phases.items():
      times[name].append(common.seconds(compiled, *args)[0])
  setup['load_average_after'] = list(os.getloadavg())
  ms = {name: 1e3 * statistics.median(t) / L for name, t in times.items()}  # Per lane.

  # Fidelity, on every lane. The whole round: the summed sequential scores of each search, over
  # `--round_keys` keys (the searches' histories draw different simulated outcomes from one key).
  summed = {search: 0.0 for search in epig_lib.TUPLE_SEARCHES}
  for r in range(_ROUND_KEYS.value):
    keys_L = jax.random.split(jax.random.fold_in(key_select, r), L)
    for search in summed:
      summed[search] += float(jnp.sum(phases[search][0](keys_L, *args_select[1:])[1])) / L
  round_ratio = summed['greedy'] / summed['all']
  # The first query, every prompt alone (uniform member weights): rounds of one query each.
  B = e.prompts_per_round
  def first_queries(search):
    """Each query scored alone, float32[L, B]: B rounds of one query per lane."""
    def alone(key, query_MxN, pool_C, showable_U):
      return select(key, query_MxN[:, None], pool_C[None], showable_U[None], search)[1][0]
    per_lane = jax.vmap(alone, in_axes=(0, 1, 0, 0))
    keys_LxB = jax.random.split(jax.random.key(3), (L, B))
    return np.asarray(jax.jit(jax.vmap(per_lane))(keys_LxB, query_LxMxBxN, pool_LxBxC,
                                                   showable_LxBxU))

  best_LxB = first_queries('all')
  informative = best_LxB.reshape(-1) > 1e-4  # Queries where any tuple tells something (nats).
  first_ratio = (first_queries('greedy') / best_LxB).reshape(-1)[informative]
  if not first_ratio.size:
    sys.exit('error: no query of this config tells anything (best I <= 1e-4 nats everywhere)')

  rows = [{'phase': name, 'ms_per_round': ms[name], 'compile_seconds': phases[name][2]}
          for name in phases]
  print(f'| phase | ms a round per lane ({L} vmapped) | compile s |')
  print('| --- | --- | --- |')
  for row in rows:
    print(f"| {row['phase']} | {row['ms_per_round']:.0f} | {row['compile_seconds']:.1f} |")
  speedup = ms['all'] / ms['greedy']
  print(f'selection: all / greedy = {speedup:.1f}x; a round (tables + selection): '
        f"{(ms['tables'] + ms['all']) / (ms['tables'] + ms['greedy']):.2f}x")
  if 'draws' in ms:  # The selection's shapes are the same with draws (Y = M * S either way).
    print(f"an epig query: tables + all {ms['tables'] + ms['all']:.0f} ms, tables + greedy "
          f"{ms['tables'] + ms['greedy']:.0f} ms, draws + greedy {ms['draws'] + ms['greedy']:.0f} "
          f"ms a lane; draws / tables = {ms['draws'] / ms['tables']:.2f}")
  print(f'first query, each prompt alone: greedy I / best I mean {first_ratio.mean():.3f}, '
        f'min {first_ratio.min():.3f}, within 1e-4 of the best in '
        f'{np.mean(first_ratio > 1 - 1e-4):.0%} of {first_ratio.size} queries with best I > '
        f'1e-4 nats (best I mean {best_LxB.mean():.3f} nats)')
  print(f'whole round, sequential: greedy / all summed I = {round_ratio:.3f} '
        f"({summed['greedy'] / _ROUND_KEYS.value:.3f} / {summed['all'] / _ROUND_KEYS.value:.3f} "
        f'nats a lane, mean of {_ROUND_KEYS.value} keys)')
  common.write_out(_OUT.value, {
      'machine': setup, 'config': {'lanes': L, 'prompts_per_round': e.prompts_per_round, 'K': K,
                                   'pool_size': e.pool_size, 'members': config.agent.num_members,
                                   'full_ranking': config.world.full_ranking,
                                   'epig_samples': e.epig_samples},
      'phases': rows, 'selection_speedup': speedup,
      'first_query_ratio_mean': float(first_ratio.mean()),
      'first_query_ratio_min': float(first_ratio.min()),
      'first_query_best_share': float(np.mean(first_ratio > 1 - 1e-4)),
      'round_score_ratio': round_ratio})


if __name__ == '__main__':
  app.run(main)
