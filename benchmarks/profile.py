r"""Where a round's time goes: each phase of one experiment round, timed alone, for every seed.

  python -m benchmarks.profile --config=default --out=/tmp/profile.json
  python -m benchmarks.profile --quick --out=/tmp/profile_quick.json  # tiny config, a smoke run

For the config's world, a freshly initialised LM (`lm.init_lm`: not the pre-trained one; no
timing here depends on the parameters' values), the joint agent and
`loop.make_experiment(config, spec, agent)` over every strategy of the config, the sweep
state of all `experiment.num_seeds` seeds is initialised (`sweep.make_sweep(exp).init`) and a
few warm-up rounds (the compiled round, first strategy) put data in the buffer. Then each phase
of the next round is its own `jax.jit(jax.vmap(...))` over seeds, compiled ahead of time
(`jit(f).lower(*args).compile()`, timed: the "compile s" column) and timed as the median of
`--repeats` calls (`block_until_ready`), the phases interleaved in each repeat:

  prompts         `world.sample_prompts` + `world.prompt_tokens`
  query           per strategy: `strategies.get_strategy(name)(key, agent.explorer(state,
                  hparams), prompts_BxLx, loop.strategy_params(config, hparams))`
  choices+buffer  `choices.simulate_rankings` + `buffer.bootstrap_weights` + `buffer.append`
  learn           `agent.learn`: `finetune.steps_per_round` joint-update steps
  metrics         `exp.evaluate`: exact metrics (only in evaluated rounds)
  host transfer   device -> NumPy (`sweep.to_host`) of one chunk's metrics, float[S, R, ...]
  checkpoint      `checkpoints.save_progress` of the whole sweep state (to the host first) and
                  the metric arrays, to a temporary directory, as the sweep does per chunk

and, to check that they add up, the whole compiled round (`exp.one_round`, vmapped; one
compilation serves every strategy) per strategy, and the compile of a full sweep chunk
(`sweep.compile_chunk`). FLOPs of the compute phases are counted by XLA's cost analysis with
scans unrolled (`common.learn_flops`); GFLOP/s = FLOPs / median seconds.

Printed: the machine (backend, CPUs, load average before -> after), a table of phases (ms per
round for all seeds; host transfer and checkpoint amortised over `rounds_per_chunk`; share of
the round; GFLOP; GFLOP/s; compile seconds), and per strategy: the round in a sweep (query +
shared phases, metrics weighted by the fraction of evaluated rounds, transfer and checkpoint
amortised per round), the query's share of it, the compiled round and the ratio of the summed
phases to it; and the experiment's throughput per strategy: human choices per second (every seed
gets B a round), GFLOP per round (the phases' FLOPs, metrics weighted as in the round) and GFLOP/s
as a share of the matmul peak (a jitted fp32 `--matmul_size`^2 matmul, timed interleaved with
the phases). Everything is written as JSON to `--out`. `--quick` uses the tiny config (unless
`--config` is given), 2 repeats and an unoptimised XLA backend (compiles faster): a smoke run
whose timings are not to be reported.
"""

import os
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import numpy as np


from benchmarks import common
from lmrl.configs import tiny
from lmrl import buffer as buffer_lib
from lmrl import checkpoints
from lmrl import choices
from lmrl import flags as lmrl_flags
from lmrl import hyperparams
from lmrl import lm as lm_lib
from lmrl import loop as loop_lib
from lmrl import pipeline
from lmrl import strategies
from lmrl import sweep
from lmrl import world as world_lib

_CONFIG = lmrl_flags.define_config_flag('default', 'Every strategy of it is profiled.')
_OUT = flags.DEFINE_string('out', '/tmp/profile.json', 'Where to write the JSON.')
_REPEATS = flags.DEFINE_integer('repeats', None, 'Timed calls per phase (median). '
                                'Default 5 (quick: 2).', lower_bound=1)
_MATMUL_SIZE = flags.DEFINE_integer('matmul_size', 2048, 'N of the fp32 N x N matmul whose '
                                    'FLOP/s (interleaved with the phases) is the peak.',
                                    lower_bound=1)
_QUICK = flags.DEFINE_bool('quick', False, 'Smoke run: the tiny config unless --config is '
                           'given, 2 repeats, an unoptimised XLA backend.')

WARMUP_ROUNDS = 2  # Rounds run before the profiled one, so the buffer holds data.
# Under --quick (before the backend starts), as benchmarks/performance.py.
QUICK_XLA_FLAGS = '--xla_backend_optimization_level=0'
# The shared phases, in round order (`query` is per strategy, in between prompts and choices).
SHARED_PHASES = ('prompts', 'choices_buffer', 'learn', 'metrics', 'host_transfer', 'checkpoint')
PER_CHUNK = ('host_transfer', 'checkpoint')  # Once per chunk: amortised per round.
LABELS = {'prompts': 'prompts', 'choices_buffer': 'choices + bootstrap + buffer append',
          'learn': 'learn', 'metrics': 'metrics (exact; per evaluated round)',
          'host_transfer': 'host transfer (chunk metrics) / R',
          'checkpoint': 'checkpoint (sweep state) / R'}


def log(message: str) -> None:
  print(message, file=sys.stderr, flush=True)


def seconds(fn, *args) -> tuple[float, object]:
  """(seconds, output) of one call of `fn`, waiting for its result."""
  start = time.perf_counter()
  out = jax.block_until_ready(fn(*args))
  return time.perf_counter() - start, out


class Phase:
  """A phase's compiled function (AOT), its arguments, its timings and its FLOPs."""

  def __init__(self, fn, args: tuple, *, count_flops: bool = True):
    start = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    self.lower_seconds = time.perf_counter() - start
    self.compiled = lowered.compile()
    self.compile_seconds = time.perf_counter() - start  # Tracing and lowering included.
    self.args = args
    self.flops = common.learn_flops(fn, args) if count_flops else None
    self.seconds_all = []
    self.output = seconds(self.compiled, *args)[1]  # Warm-up call.

  def time(self) -> None:
    self.seconds_all.append(seconds(self.compiled, *self.args)[0])


class HostPhase:
  """A host-side phase (no compilation): `prepare()` outside the clock, `run(prepared)` on it."""

  def __init__(self, prepare, run):
    self.prepare, self.run = prepare, run
    self.compile_seconds, self.flops, self.seconds_all = None, None, []
    self.run(self.prepare())  # Warm-up call.

  def time(self) -> None:
    prepared = self.prepare()
    start = time.perf_counter()
    self.run(prepared)
    self.seconds_all.append(time.perf_counter() - start)


def fresh_copy(tree):
  """New device arrays with the values of `tree` (a NumPy view of them is not cached yet)."""
  return jax.block_until_ready(jax.tree_util.tree_map(jnp.copy, tree))


def num_bytes(tree) -> int:
  return int(sum(np.asarray(x).nbytes for x in jax.tree_util.tree_leaves(tree)))


# ----------------------------------------------------------------------------- profile


class Profile:
  """The experiment of `config` (joint agent, fresh LM) after warm-up rounds, and its phases."""

  def __init__(self, config):
    self.config = config
    e = config.experiment
    self.S, self.B, self.R, self.T = (e.num_seeds, e.prompts_per_round, e.rounds_per_chunk,
                                      e.rounds)
    self.spec, lm_spec, self.world = pipeline.build_world(config)
    self.agent = pipeline.make_agent(config, self.spec, lm_spec, 'joint')
    self.params = lm_lib.init_lm(jax.random.key(0), lm_spec)
    self.exp = loop_lib.make_experiment(config, self.spec, self.agent)
    self.keys_S = sweep.seed_keys(config.seed, self.S)
    self.sweeper = sweep.make_sweep(self.exp)
    start = time.perf_counter()
    self.state_S = jax.block_until_ready(self.sweeper.init(self.keys_S, self.params, self.world, None))
    self.init_seconds = time.perf_counter() - start  # Compilation included.
    # The profiled round: the first one after the warm-up rounds with exact metrics, so that the
    # compiled round evaluates as the `metrics` phase does (the last round always does).
    due_T = [r + 1 in self.exp.evaluated_rounds for r in range(self.T)]
    self.warmup = min(WARMUP_ROUNDS, self.T - 1)
    self.round = next(r for r in range(self.warmup, self.T) if due_T[r])
    self.evaluated_fraction = sum(due_T) / self.T

  def full_round(self) -> Phase:
    """The compiled round (one compilation, every strategy), after it ran the warm-up rounds."""
    one_round_S = jax.vmap(self.exp.one_round, in_axes=(0, 0, None, None, None))
    args = lambda strategy: (self.keys_S, self.state_S, self.world, np.int32(self.round),
                             np.int32(strategy))
    full = Phase(one_round_S, args(0), count_flops=False)
    for r in range(self.warmup):
      self.state_S, _ = jax.block_until_ready(
          full.compiled(self.keys_S, self.state_S, self.world, np.int32(r), np.int32(0)))
    full.args_by_strategy = {name: args(i) for i, name in enumerate(self.exp.strategies)}
    full.seconds_by_strategy = {name: [] for name in self.exp.strategies}
    return full

  def phases(self) -> tuple[dict, dict]:
    """({shared phase: Phase}, {strategy: query Phase}) of the profiled round, from `state_S`."""
    config, spec, agent, exp, world = self.config, self.spec, self.agent, self.exp, self.world
    state_S, B = self.state_S, self.B
    hparams = hyperparams.as_arrays(hyperparams.values(config))
    s_params = loop_lib.strategy_params(config, hparams, log_pstar=lambda prompts: (  # Oracle.
        world.log_pstar_PxN[world_lib.sequence_index(prompts, spec.vocab_size)]))
    # The round's keys, split as `Experiment.one_round` splits them.
    keys_Sx5 = jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, self.round), 5))(
        self.keys_S)
    key_x_S, key_s_S, key_c_S, key_b_S, key_l_S = (keys_Sx5[:, i] for i in range(5))

    def prompts(key_x):
      prompt_index_B = world_lib.sample_prompts(key_x, world, B)
      return prompt_index_B, world_lib.prompt_tokens(prompt_index_B, spec)

    log('compiling: prompts')
    phases = {'prompts': Phase(jax.vmap(prompts), (key_x_S,))}
    prompt_index_SxB, prompts_SxBxLx = phases['prompts'].output

    queries = {}
    for name in exp.strategies:
      strategy = strategies.get_strategy(name)

      def query(key_s, agent_state, prompts_BxLx, strategy=strategy):
        return strategy(key_s, agent.explorer(agent_state, hparams), prompts_BxLx, s_params)

      log(f'compiling: query {name}')
      queries[name] = Phase(jax.vmap(query), (key_s_S, state_S.agent, prompts_SxBxLx))
    responses_SxBxKxLy = queries[exp.strategies[0]].output

    def choices_buffer(key_c, key_b, buffer, prompt_index_B, prompts_BxLx, responses_BxKxLy,
                       world):
      ranking_BxK = choices.simulate_rankings(key_c, world, spec, prompt_index_B,
                                              responses_BxKxLy, iia=config.world.iia)
      weights_BxM = buffer_lib.bootstrap_weights(key_b, (B, agent.num_members),
                                                 config.agent.bootstrap)
      return buffer_lib.append(buffer, prompts_BxLx, responses_BxKxLy, ranking_BxK, weights_BxM)

    log('compiling: choices + buffer')
    phases['choices_buffer'] = Phase(
        jax.vmap(choices_buffer, in_axes=(0, 0, 0, 0, 0, 0, None)),
        (key_c_S, key_b_S, state_S.buffer, prompt_index_SxB, prompts_SxBxLx, responses_SxBxKxLy,
         world))
    buffer_S = phases['choices_buffer'].output

    log('compiling: learn')
    phases['learn'] = Phase(jax.vmap(agent.learn, in_axes=(0, 0, 0, None, None)),
                            (key_l_S, state_S.agent, buffer_S, world, hparams))
    learned_S = state_S._replace(agent=phases['learn'].output[0], buffer=buffer_S)

    log('compiling: metrics')
    phases['metrics'] = Phase(jax.vmap(exp.evaluate, in_axes=(0, None)), (learned_S, world))
    metrics_S = phases['metrics'].output

    # One chunk's metrics on the device, float[S, R, ...], as `run_chunk` returns them.
    chunk_metrics = jax.tree_util.tree_map(lambda x: jnp.stack([x] * self.R, axis=1), metrics_S)
    phases['host_transfer'] = HostPhase(
        lambda: fresh_copy(chunk_metrics),
        lambda metrics: jax.tree_util.tree_map(sweep.to_host, metrics))
    self.chunk_metrics_bytes = num_bytes(chunk_metrics)

    # The checkpoint after a chunk: the whole sweep state to the host, and the metrics so far.
    all_metrics = jax.tree_util.tree_map(
        lambda x: np.zeros((x.shape[0], self.T + 1) + x.shape[1:], np.float32), metrics_S)
    self.checkpoint_bytes = num_bytes(learned_S) + num_bytes(all_metrics)
    self._checkpoint_dir = tempfile.TemporaryDirectory(prefix='lmrl-profile-')
    step = [0]

    def save(state):
      step[0] += 1
      checkpoints.save_progress(self._checkpoint_dir.name, step[0], {
          'state': jax.tree_util.tree_map(sweep.to_host, state), 'metrics': all_metrics})

    phases['checkpoint'] = HostPhase(lambda: fresh_copy(learned_S), save)
    return phases, queries

  def compile_chunk_seconds(self) -> float:
    start = time.perf_counter()
    sweep.compile_chunk(self.sweeper, sweep.make_lanes(self.keys_S, self.params, self.world),
                        self.R)
    return time.perf_counter() - start

  def close(self) -> None:
    self._checkpoint_dir.cleanup()


def row(phase, per_round_divisor: int = 1) -> dict:
  """A phase's JSON row: seconds (per call), ms per round, FLOPs and GFLOP/s, compile seconds."""
  median = statistics.median(phase.seconds_all)
  out = {'seconds_median': median, 'seconds_all': phase.seconds_all,
         'ms_per_round': 1e3 * median / per_round_divisor,
         'compile_seconds': phase.compile_seconds, 'flops': None, 'flops_scan_once': None,
         'gflops_per_second': None}
  if phase.flops is not None:
    out.update(flops=phase.flops['flops'], flops_scan_once=phase.flops['flops_scan_once'],
               gflops_per_second=phase.flops['flops'] / median / 1e9)
  return out


def measure(config, repeats: int) -> dict:
  start = time.perf_counter()
  e = config.experiment
  out = {'setup': {**common.machine(), 'xla_flags': os.environ.get('XLA_FLAGS', ''),
                   'compilation_cache_dir': jax.config.jax_compilation_cache_dir or '',
                   'quick': _QUICK.value, 'repeats': repeats}}
  log(f'{out["setup"]["device"]}, {os.cpu_count()} CPUs, load average '
      f'{out["setup"]["load_average"][0]:.2f}: profiling {e.num_seeds} seeds, '
      f'strategies {", ".join(e.strategies)}')
  profile = Profile(config)
  log('compiling: full round')
  full = profile.full_round()
  phases, queries = profile.phases()
  log('compiling: sweep chunk')
  chunk_compile_s = profile.compile_chunk_seconds()
  matmul, matmul_s = common.Matmul(_MATMUL_SIZE.value), []
  matmul.time()  # Warm-up call (compiles).
  log(f'timing: {repeats} repeats')
  for _ in range(repeats):  # Interleaved: a change in load hits every phase alike.
    for phase in [*phases.values(), *queries.values()]:
      phase.time()
    matmul_s.append(matmul.time())
    for name, args in full.args_by_strategy.items():
      full.seconds_by_strategy[name].append(seconds(full.compiled, *args)[0])
  profile.close()

  R = profile.R
  out['phases'] = {name: row(phase, R if name in PER_CHUNK else 1)
                   for name, phase in phases.items()}
  ms = {name: r['ms_per_round'] for name, r in out['phases'].items()}
  metrics_ms_amortised = ms['metrics'] * profile.evaluated_fraction
  shared_ms = (ms['prompts'] + ms['choices_buffer'] + ms['learn'] + metrics_ms_amortised
               + ms['host_transfer'] + ms['checkpoint'])
  compute_ms = ms['prompts'] + ms['choices_buffer'] + ms['learn'] + ms['metrics']
  peak = matmul.flops / statistics.median(matmul_s)
  out['matmul_peak'] = {'n': _MATMUL_SIZE.value, 'flops_per_second': peak,
                        'seconds_all': matmul_s}
  # FLOPs of a round in a sweep: the metrics' weighted by the evaluated fraction, as round_ms.
  shared_flops = (out['phases']['prompts']['flops'] + out['phases']['choices_buffer']['flops']
                  + out['phases']['learn']['flops']
                  + out['phases']['metrics']['flops'] * profile.evaluated_fraction)
  out['strategies'] = {}
  for name, query in queries.items():
    q = row(query)
    full_s = full.seconds_by_strategy[name]
    full_ms = 1e3 * statistics.median(full_s)
    round_ms = q['ms_per_round'] + shared_ms
    round_flops = q['flops'] + shared_flops
    flops_per_second = round_flops / (round_ms / 1e3)
    out['strategies'][name] = {
        # Throughput of the whole experiment at this config, per strategy.
        'choices_per_second': profile.S * profile.B / (round_ms / 1e3),
        'round_flops': round_flops,
        'gflops_per_second': flops_per_second / 1e9,
        'fraction_of_peak': flops_per_second / peak,
        'query': q,
        'round_ms': round_ms,  # In a sweep: metrics and per-chunk phases amortised.
        'query_share': q['ms_per_round'] / round_ms,
        'phases_ms': q['ms_per_round'] + compute_ms,  # The profiled (evaluated) round's phases.
        'compiled_round_ms': full_ms, 'compiled_round_seconds_all': full_s,
        'phases_over_compiled_round': (q['ms_per_round'] + compute_ms) / full_ms,
    }
  mean_round_ms = statistics.mean(s['round_ms'] for s in out['strategies'].values())
  for name, r in out['phases'].items():
    weight = profile.evaluated_fraction if name == 'metrics' else 1.0
    r['share'] = r['ms_per_round'] * weight / mean_round_ms  # Of the strategies' mean round.
  out['full_round'] = {'compile_seconds': full.compile_seconds,
                       'ms_mean_over_strategies': statistics.mean(
                           s['compiled_round_ms'] for s in out['strategies'].values())}
  out['sweep_chunk'] = {'compile_seconds': chunk_compile_s, 'rounds_per_chunk': R}
  out['amortised'] = {
      'metrics_ms_per_evaluated_round': ms['metrics'],
      'evaluated_rounds_fraction': profile.evaluated_fraction,
      'metrics_ms_per_round': metrics_ms_amortised,
      'host_transfer_ms_per_chunk': ms['host_transfer'] * R,
      'host_transfer_ms_per_round': ms['host_transfer'],
      'chunk_metrics_bytes': profile.chunk_metrics_bytes,
      'checkpoint_ms_per_chunk': ms['checkpoint'] * R,
      'checkpoint_ms_per_round': ms['checkpoint'],
      'checkpoint_bytes': profile.checkpoint_bytes,
      'shared_ms_per_round': shared_ms, 'mean_round_ms': mean_round_ms}
  out['setup'].update(
      lm='freshly initialised (lm.init_lm), not pre-trained: timings do not depend on values',
      agent='joint', strategies=list(profile.exp.strategies), num_seeds=profile.S,
      prompts_per_round=profile.B, responses_per_prompt=e.responses_per_prompt,
      rounds=profile.T, rounds_per_chunk=R, eval_every=e.eval_every,
      finetune_steps_per_round=config.finetune.steps_per_round,
      num_members=config.agent.num_members, width=config.lm.width, depth=config.lm.depth,
      vocab_size=config.world.vocab_size, response_length=config.world.response_length,
      pool_size=e.pool_size, warmup_rounds=profile.warmup, profiled_round=profile.round,
      init_seconds=profile.init_seconds, load_average_end=list(os.getloadavg()),
      total_seconds=time.perf_counter() - start)
  return out


# ----------------------------------------------------------------------------- output


def print_table(out: dict) -> None:
  s, a = out['setup'], out['amortised']
  fmt = lambda x, spec: '-' if x is None else format(x, spec)
  print(f'{s["device"]} ({s["platform"]}), jax {s["jax_version"]}, {s["cpu_count"]} CPUs, '
        f'load average {s["load_average"][0]:.2f} -> {s["load_average_end"][0]:.2f}'
        + (f', XLA_FLAGS={s["xla_flags"]}' if s['xla_flags'] else ''))
  if s['compilation_cache_dir']:
    print(f'persistent compilation cache on ({s["compilation_cache_dir"]}): compile seconds may '
          'be cache loads')
  if s['quick']:
    print('--quick: a smoke run; do not report these timings')
  print(f'LM: {s["lm"]}')
  print(f'{s["num_seeds"]} seeds vmapped, B={s["prompts_per_round"]} prompts x '
        f'K={s["responses_per_prompt"]}, M={s["num_members"]}, width {s["width"]} depth '
        f'{s["depth"]}, {s["finetune_steps_per_round"]} learn steps/round, R='
        f'{s["rounds_per_chunk"]} rounds/chunk, median of {s["repeats"]}; profiled round '
        f'{s["profiled_round"]} after {s["warmup_rounds"]} warm-up rounds')
  print(f'{"phase (one round, all seeds)":40s}{"ms/round":>10s}{"share":>8s}{"GFLOP":>9s}'
        f'{"GFLOP/s":>9s}{"compile s":>11s}')

  def line(label, ms, share, r):
    gflop = None if r['flops'] is None else r['flops'] / 1e9
    print(f'{label:40s}{ms:10.2f}{100 * share:7.1f}%{fmt(gflop, "9.3f"):>9s}'
          f'{fmt(r["gflops_per_second"], "9.2f"):>9s}{fmt(r["compile_seconds"], "11.2f"):>11s}')

  p = out['phases']
  line(LABELS['prompts'], p['prompts']['ms_per_round'], p['prompts']['share'], p['prompts'])
  for name, st in out['strategies'].items():
    line(f'query: {name}', st['query']['ms_per_round'], st['query_share'], st['query'])
  for name in SHARED_PHASES[1:]:
    label = LABELS[name] + (f' (S={s["finetune_steps_per_round"]})' if name == 'learn' else '')
    line(label, p[name]['ms_per_round'], p[name]['share'], p[name])
  print(f'{"full round, compiled (mean of strategies)":40s}'
        f'{out["full_round"]["ms_mean_over_strategies"]:10.2f}{"":26s}'
        f'{out["full_round"]["compile_seconds"]:11.2f}')
  print(f'{"sweep chunk (compile_chunk: R rounds)":40s}{"":36s}'
        f'{out["sweep_chunk"]["compile_seconds"]:11.2f}')
  print('share: of the strategy\'s own round for query rows, of the strategies\' mean round '
        'for the others (metrics weighted by the evaluated fraction)')
  print(f'{"strategy":14s}{"query ms":>10s}{"round ms":>10s}{"query %":>9s}'
        f'{"phases ms":>11s}{"compiled ms":>13s}{"phases/compiled":>17s}')
  for name, st in out['strategies'].items():
    print(f'{name:14s}{st["query"]["ms_per_round"]:10.2f}{st["round_ms"]:10.2f}'
          f'{100 * st["query_share"]:9.1f}{st["phases_ms"]:11.2f}{st["compiled_round_ms"]:13.2f}'
          f'{st["phases_over_compiled_round"]:17.2f}')
  print('round ms = query + shared phases (metrics x evaluated fraction, transfer and checkpoint '
        '/ R); phases ms = query + prompts + choices + learn + metrics vs. the compiled round')
  print(f'throughput of the experiment (matmul peak, fp32 {out["matmul_peak"]["n"]}^2: '
        f'{out["matmul_peak"]["flops_per_second"] / 1e9:.1f} GFLOP/s, interleaved)')
  print(f'{"strategy":14s}{"choices/s":>11s}{"GFLOP/round":>13s}{"GFLOP/s":>10s}'
        f'{"of peak":>9s}')
  for name, st in out['strategies'].items():
    print(f'{name:14s}{st["choices_per_second"]:11.1f}{st["round_flops"] / 1e9:13.2f}'
          f'{st["gflops_per_second"]:10.2f}{100 * st["fraction_of_peak"]:8.1f}%')
  print('choices/s = seeds x B / round ms (every seed gets B human choices a round); GFLOP/round '
        '= query + prompts + choices + learn + metrics x evaluated fraction')
  print(f'metrics: {a["metrics_ms_per_evaluated_round"]:.2f} ms per evaluated round x '
        f'{a["evaluated_rounds_fraction"]:.2f} of rounds evaluated = '
        f'{a["metrics_ms_per_round"]:.2f} ms per round')
  print(f'checkpoint: {a["checkpoint_ms_per_chunk"]:.1f} ms per chunk '
        f'({a["checkpoint_bytes"] / 2**20:.2f} MiB) / R={s["rounds_per_chunk"]} = '
        f'{a["checkpoint_ms_per_round"]:.2f} ms per round; host transfer '
        f'{a["host_transfer_ms_per_chunk"]:.2f} ms per chunk ({a["chunk_metrics_bytes"]} B) = '
        f'{a["host_transfer_ms_per_round"]:.3f} ms per round')
  print(f'total {s["total_seconds"]:.0f} s')


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO.
  if _QUICK.value and 'xla_backend_optimization_level' not in os.environ.get('XLA_FLAGS', ''):
    os.environ['XLA_FLAGS'] = f'{os.environ.get("XLA_FLAGS", "")} {QUICK_XLA_FLAGS}'.strip()
  config = _CONFIG.value
  if _QUICK.value and not flags.FLAGS['config'].present:
    config = tiny.get_config()
  config = config.copy_and_resolve_references()
  repeats = _REPEATS.value or (2 if _QUICK.value else 5)
  common.validate_or_exit(config)
  out = measure(config, repeats)
  print_table(out)
  common.write_out(_OUT.value, out)


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
