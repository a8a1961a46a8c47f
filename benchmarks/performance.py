r"""Performance of lmrl on this machine: matmul peak, joint update, compiled sweep, compilation.

  python -m benchmarks.performance --config=default \
      --out=/tmp/performance.json
  python -m benchmarks.performance --quick --out=/tmp/performance_quick.json  # about a minute

Measured in one process, and printed as a table and written as JSON to `--out`:

1. **Matmul peak.** A jitted fp32 `N x N` matmul (`--matmul_size`); FLOP/s = `2 N^3 / t`, `t` the
   median of `--repeats` calls after a warm-up call.
2. **Joint update.** `agent.learn` of the joint agent (`--joint_steps` steps of
   `lmrl.update.make_joint_update` per call) for an ensemble of `--joint_members` LMs of width
   `--joint_width` and depth `--joint_depth`, with `--joint_batch` choices (K responses each) and
   `--joint_lm_batch` corpus sequences per step, on the config's world. FLOPs per step are
   counted by XLA's cost analysis (`common.learn_flops`: scans unrolled); achieved FLOP/s =
   FLOPs / median seconds, reported as a fraction of the matmul peak (target: >= 40%). Its
   timings are interleaved with the matmul's, so a change in machine load hits both alike.
3. **Sweep throughput.** For each of `--strategies`, a chunk of `--sweep_rounds` rounds (all
   `experiment.num_seeds` seeds vmapped) of the compiled sweep
   (`sweep.make_sweep(loop.make_experiment(...)).run_chunk`): the median of the chunks
   after the compiling one (`--sweep_repeats`, plus the two of the recompilation checks), in
   rounds/s (every seed advances a round) and human choices/s. Then the same work (every seed,
   the same rounds, from the same initial states, with the same keys) driven by a plain Python
   loop over seeds and rounds that calls the jitted one-seed round (`Experiment.one_round`,
   the body of the compiled scan) with a host sync (`float(kl)`) every round, as a
   researcher's first driver would, after a warm-up round. Reported: compiled / Python-loop
   speed (target: >= 20x), and the largest |KL difference| of the two drivers (same work, so
   float rounding only).
4. **Compilation.** Compile time of the chunk (first call minus the median later call), and
   whether running the sweep again with other seed keys, or with other values of the traced
   hyper-parameters (learning rate, lambdas and temperature, one value per seed, given to `init`
   as a sweep's grid gives them: `lmrl.hyperparams`), reuses the compiled chunk and init
   (`_cache_size()`).

Parameters are random (a fresh LM, not the pre-trained one) and the joint update's buffer is full
of random choices: neither FLOPs nor time depend on the values. Sizes given as flags win over
`--quick`; `--quick` uses the tiny config unless `--config` is given.
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
from lmrl.configs import tiny
from lmrl import checks
from lmrl import errors
from lmrl import flags as lmrl_flags
from lmrl import hyperparams
from lmrl import lm as lm_lib
from lmrl import loop as loop_lib
from lmrl import pipeline
from lmrl import strategies
from lmrl import sweep

_CONFIG = lmrl_flags.define_config_flag('default', 'Its world, agent and sweep are measured.')
_OUT = flags.DEFINE_string('out', '/tmp/performance.json', 'Where to write the JSON.')
_QUICK = flags.DEFINE_bool('quick', False, 'Tiny sizes for a smoke run (about a minute): '
                           'the tiny config unless --config is given, and the '
                           'quick defaults of the size flags below.')

SIZES = {}  # Flag name -> (default, quick default).


def _size_flag(name: str, default: int, quick: int, help_text: str):
  """An integer flag whose default depends on --quick (a value given on the command line wins)."""
  SIZES[name] = (default, quick)
  return flags.DEFINE_integer(name, None, f'{help_text} Default {default} (quick: {quick}).',
                              lower_bound=1)


_REPEATS = _size_flag('repeats', 5, 3, 'Timed calls of the matmul and the joint update.')
_MATMUL_SIZE = _size_flag('matmul_size', 2048, 512, 'N of the N x N fp32 peak matmul.')
_JOINT_WIDTH = _size_flag('joint_width', 256, 32, 'Joint update: LM width.')
_JOINT_DEPTH = _size_flag('joint_depth', 2, 1, 'Joint update: LM depth (blocks).')
_JOINT_HEADS = _size_flag('joint_heads', 4, 2, 'Joint update: attention heads.')
_JOINT_MEMBERS = _size_flag('joint_members', 10, 10, 'Joint update: ensemble members.')
_JOINT_BATCH = _size_flag('joint_batch', 64, 16, 'Joint update: choices per step.')
_JOINT_LM_BATCH = _size_flag('joint_lm_batch', 16, 8, 'Joint update: corpus sequences per step.')
_JOINT_STEPS = _size_flag('joint_steps', 1, 1, 'Joint update: steps per timed call.')
_SWEEP_ROUNDS = _size_flag('sweep_rounds', 2, 2, 'Sweep: rounds per timed chunk (sets '
                           'experiment.rounds_per_chunk; must divide experiment.rounds).')
_SWEEP_REPEATS = _size_flag('sweep_repeats', 1, 1, 'Sweep: timed chunks after the compiling '
                            'one, besides the two of the recompilation checks.')
_STRATEGIES = flags.DEFINE_list('strategies', ['passive', 'infomax'],
                                'Strategies whose sweep is timed.')


# Under --quick (before the backend starts): LLVM without optimisation compiles several times
# faster; the kernels run slower, which a smoke run does not mind.
QUICK_XLA_FLAGS = '--xla_backend_optimization_level=0'


def size(flag) -> int:
  """The flag's value if given, else its default (or its quick default under --quick)."""
  if flag.value is not None:
    return flag.value
  default, quick = SIZES[flag.name]
  return quick if _QUICK.value else default


seconds = common.seconds


# ----------------------------------------------------------------------------- 1 + 2


def joint_config(config):
  """`config` with the LM, ensemble and batch sizes of the joint-update benchmark: sampled batches
  (`finetune.rows` 'uniform'; the default full-buffer step is timed by benchmarks.replay)."""
  config = config.copy_and_resolve_references()
  config.finetune.rows = 'uniform'
  config.lm.width, config.lm.depth = size(_JOINT_WIDTH), size(_JOINT_DEPTH)
  config.lm.num_heads = size(_JOINT_HEADS)
  config.agent.kind, config.agent.epistemic = 'joint', 'ensemble'
  config.agent.num_members = size(_JOINT_MEMBERS)
  config.finetune.batch_size, config.finetune.lm_batch_size = (size(_JOINT_BATCH),
                                                               size(_JOINT_LM_BATCH))
  config.finetune.steps_per_round = size(_JOINT_STEPS)
  return config


def measure_compute(config, repeats: int) -> tuple[dict, dict]:
  """(matmul, joint_update) results: FLOP/s of both, timings interleaved."""
  matmul, joint = common.Matmul(size(_MATMUL_SIZE)), common.JointUpdate(config)
  flops = common.learn_flops(joint.agent.learn, joint.args())  # One learn call (all steps).
  matmul.time(), joint.time()  # Compile and warm up.
  matmul_s, joint_s = [], []
  for _ in range(repeats):
    matmul_s.append(matmul.time())
    joint_s.append(joint.time())
  peak = matmul.flops / statistics.median(matmul_s)
  step_s = statistics.median(joint_s) / joint.steps
  step_flops = flops['flops'] / joint.steps
  c = config
  return ({'n': size(_MATMUL_SIZE), 'flops_per_call': matmul.flops,
           'seconds_median': statistics.median(matmul_s), 'seconds_all': matmul_s,
           'flops_per_second': peak, 'flops_per_second_best': matmul.flops / min(matmul_s)},
          {'width': c.lm.width, 'depth': c.lm.depth, 'num_heads': c.lm.num_heads,
           'mlp_ratio': c.lm.mlp_ratio, 'num_members': c.agent.num_members,
           'prior_width': c.agent.prior_width, 'prior_depth': c.agent.prior_depth,
           'batch_size': c.finetune.batch_size, 'lm_batch_size': c.finetune.lm_batch_size,
           'responses_per_prompt': c.experiment.responses_per_prompt,
           'sequence_length': joint.lm_spec.sequence_length,
           'tokens_per_step': joint.tokens_per_step,
           'params_per_member': joint.params_per_member, 'steps_per_call': joint.steps,
           'flops_per_step': step_flops, 'flops_source': 'XLA cost analysis, scans unrolled',
           'flops_per_step_scan_once': flops['flops_scan_once'],
           'seconds_per_step': step_s, 'seconds_per_call_all': joint_s,
           'flops_per_second': step_flops / step_s, 'fraction_of_peak': step_flops / step_s / peak})


# ----------------------------------------------------------------------------- 3 + 4


class PythonLoop:
  """A researcher's driver of the same experiment: loops over seeds and rounds in Python.

  Each round of each seed calls the jitted one-seed round (`Experiment.one_round`, the very body
  of the compiled sweep's `lax.scan`: the strategy's query, choices, buffer, `agent.learn`,
  metrics when due) and reads the KL back to the host (`float`) as a progress print would.
  """

  def __init__(self, exp):
    self.one_round = jax.jit(exp.one_round, donate_argnums=1)

  def run(self, keys_S, states_S, world, round_R) -> tuple[float, np.ndarray]:
    """(seconds, KL float[S, R]): every seed of `states_S` (stacked RunStates) through `round_R`."""
    states = [jax.tree_util.tree_map(lambda x, s=s: jnp.copy(x[s]), states_S)
              for s in range(keys_S.shape[0])]
    jax.block_until_ready(states)
    kl_SxR = np.full((len(states), len(round_R)), np.nan)
    start = time.perf_counter()
    for s, state in enumerate(states):
      for i, r in enumerate(round_R):
        state, metrics = self.one_round(keys_S[s], state, world, int(r), 0)
        kl_SxR[s, i] = float(metrics['kl'])  # NaN in rounds without metrics, as compiled.
    return time.perf_counter() - start, kl_SxR


def other_hyperparameters(config, num_seeds: int) -> dict[str, np.ndarray]:
  """Other values of every traced hyper-parameter than the config's, one per seed (float32[S])."""
  base = hyperparams.values(config)
  out = {name: np.full(num_seeds, value, np.float32) for name, value in base.items()}
  out['learning_rate'] = out['learning_rate'] * np.logspace(0, 1, num_seeds, dtype=np.float32)
  out['lambda_lm'] *= 2
  out['lambda_l2'] *= 0.5
  out['temperature'] *= 2
  return out


class SweepBench:
  """The world, agent and random pre-trained LM of the sweep benchmarks, and the Python loop."""

  def __init__(self, config):
    self.config = config
    self.spec, lm_spec, self.world = pipeline.build_world(config)
    self.agent = pipeline.make_agent(config, self.spec, lm_spec)
    self.params = lm_lib.init_lm(jax.random.key(0), lm_spec)
    self.init = None

  def measure(self, strategy: str, repeats: int) -> dict:
    """Compiled sweep vs. the Python loop for one strategy; compile time; recompilations."""
    e = self.config.experiment
    S, R, B = e.num_seeds, e.rounds_per_chunk, e.prompts_per_round
    params, world = self.params, self.world
    exp = loop_lib.make_experiment(self.config, self.spec, self.agent, (strategy,))
    sweeper = sweep.make_sweep(exp)
    # `init` does not depend on the strategy: the first strategy's compiled init serves all.
    self.init = self.init or sweeper.init
    init = self.init
    keys_S = sweep.seed_keys(self.config.seed, S)
    chunk = lambda i: np.arange(i * R, (i + 1) * R, dtype=np.int32)

    # Compiled: the first chunk compiles; later chunks go on from the state it returns.
    state = init(keys_S, params, world, hyperparams.lane_values(self.config, S))
    initial_state = jax.tree_util.tree_map(jnp.copy, state)  # `state` is donated.
    first_s, (state, metrics) = seconds(sweeper.run_chunk, keys_S, state, world, chunk(0), 0)
    compiled_kl_SxR = np.asarray(metrics['kl'])
    chunk_s = []
    for i in range(1, repeats + 1):
      t, (state, _) = seconds(sweeper.run_chunk, keys_S, state, world, chunk(i), 0)
      chunk_s.append(t)
    # Recompilation checks (their chunks, the same work, are timed too).
    sizes = lambda: (sweeper.run_chunk._cache_size(), init._cache_size())
    compiled = sizes()
    other_keys_S = sweep.seed_keys(self.config.seed + 1, S)
    other_seeds_state = jax.block_until_ready(init(other_keys_S, params, world, hyperparams.lane_values(self.config, S)))
    chunk_s.append(seconds(sweeper.run_chunk, other_keys_S, other_seeds_state, world,
                           chunk(0), 0)[0])
    no_recompile_seeds = sizes() == compiled
    other_hparams_state = jax.block_until_ready(
        init(keys_S, params, world, other_hyperparameters(self.config, S)))
    chunk_s.append(seconds(sweeper.run_chunk, keys_S, other_hparams_state, world, chunk(0), 0)[0])
    no_recompile_hparams = sizes() == compiled
    compiled_s = statistics.median(chunk_s)

    # The Python loop, from the same initial states: a warm-up round compiles its round.
    loop = PythonLoop(exp)
    loop.run(keys_S[:1], initial_state, world, chunk(0)[:1])
    loop_s, loop_kl_SxR = loop.run(keys_S, initial_state, world, chunk(0))
    return {
        'num_seeds': S, 'rounds_per_chunk': R, 'prompts_per_round': B,
        'compiled_seconds_per_chunk': compiled_s, 'compiled_seconds_all': chunk_s,
        'compiled_rounds_per_second': R / compiled_s,
        'compiled_choices_per_second': R * S * B / compiled_s,
        'python_loop_seconds_per_chunk': loop_s,
        'python_loop_rounds_per_second': R / loop_s,
        'python_loop_choices_per_second': R * S * B / loop_s,
        'speedup_compiled_over_python_loop': loop_s / compiled_s,
        # Over the evaluated rounds (others are NaN in both); 0 if the chunk evaluated none.
        'max_abs_kl_difference_compiled_vs_python_loop': float(np.max(
            np.abs(compiled_kl_SxR - loop_kl_SxR), initial=0.0,
            where=np.isfinite(compiled_kl_SxR) | np.isfinite(loop_kl_SxR))),
        'first_chunk_seconds': first_s, 'compile_seconds': first_s - compiled_s,
        'run_chunk_compilations': compiled[0],
        'no_recompile_other_seeds': no_recompile_seeds,
        'no_recompile_other_hyperparameters': no_recompile_hparams,
    }


# ----------------------------------------------------------------------------- main


def measure(config, joint, strategy_names) -> dict:
  start = time.perf_counter()
  repeats, sweep_repeats = size(_REPEATS), size(_SWEEP_REPEATS)
  out = {'setup': {**common.machine(), 'xla_flags': os.environ.get('XLA_FLAGS', ''),
                   'quick': _QUICK.value, 'repeats': repeats, 'sweep_repeats': sweep_repeats}}
  out['matmul'], out['joint_update'] = measure_compute(joint, repeats)
  phase_seconds = {'matmul_and_joint_update': time.perf_counter() - start}
  bench, out['sweep'] = SweepBench(config), {}
  for name in strategy_names:
    phase_start = time.perf_counter()
    out['sweep'][name] = bench.measure(name, sweep_repeats)
    phase_seconds[f'sweep_{name}'] = time.perf_counter() - phase_start
  e = config.experiment
  out['setup'].update(
      sweep_config={'vocab_size': config.world.vocab_size,
                    'response_length': config.world.response_length,
                    'width': config.lm.width, 'depth': config.lm.depth,
                    'num_members': config.agent.num_members,
                    'finetune_steps_per_round': config.finetune.steps_per_round,
                    'finetune_batch_size': config.finetune.batch_size,
                    'num_seeds': e.num_seeds, 'prompts_per_round': e.prompts_per_round,
                    'rounds_per_chunk': e.rounds_per_chunk, 'pool_size': e.pool_size,
                    'eval_every': e.eval_every},
      load_average_end=list(os.getloadavg()), phase_seconds=phase_seconds,
      total_seconds=time.perf_counter() - start)
  out['no_recompile'] = all(s['no_recompile_other_seeds']
                            and s['no_recompile_other_hyperparameters']
                            for s in out['sweep'].values())
  return out


def print_table(out: dict) -> None:
  s, mm, j = out['setup'], out['matmul'], out['joint_update']
  yes = lambda ok: 'yes' if ok else 'NO'
  print(f'{s["device"]} ({s["platform"]}), jax {s["jax_version"]}, {s["cpu_count"]} CPUs, '
        f'load average {s["load_average"][0]:.2f} -> {s["load_average_end"][0]:.2f}'
        + (f', XLA_FLAGS={s["xla_flags"]}' if s['xla_flags'] else ''))
  if s['quick']:
    print('--quick: tiny sizes, a smoke run; do not report these timings')
  print(f'{"matmul peak (fp32 %dx%d, median)" % (mm["n"], mm["n"]):44s}'
        f'{mm["flops_per_second"] / 1e9:10.1f} GFLOP/s  ({mm["seconds_median"] * 1e3:.1f} ms)')
  print(f'joint update: ensemble of {j["num_members"]} LMs, width {j["width"]}, depth '
        f'{j["depth"]}, {j["batch_size"]} choices x {j["responses_per_prompt"]} + '
        f'{j["lm_batch_size"]} corpus sequences of length {j["sequence_length"]} per step')
  print(f'{"  FLOPs/step (XLA cost analysis)":44s}{j["flops_per_step"] / 1e9:10.2f} GFLOP')
  print(f'{"  seconds/step (median)":44s}{j["seconds_per_step"] * 1e3:10.1f} ms')
  print(f'{"  achieved":44s}{j["flops_per_second"] / 1e9:10.1f} GFLOP/s  '
        f'= {100 * j["fraction_of_peak"]:.1f}% of peak (target >= 40%)')
  c = s['sweep_config']
  print(f'sweep: {c["num_seeds"]} seeds x {c["rounds_per_chunk"]} rounds per chunk, '
        f'{c["prompts_per_round"]} choices/round, M={c["num_members"]}, width {c["width"]}, '
        f'{c["finetune_steps_per_round"]} steps/round')
  names = list(out['sweep'])
  print(f'{"":44s}' + ''.join(f'{n:>14s}' for n in names))
  rows = [('compiled rounds/s (all seeds)', 'compiled_rounds_per_second', '{:14.2f}'),
          ('compiled choices/s', 'compiled_choices_per_second', '{:14.0f}'),
          ('python-loop rounds/s', 'python_loop_rounds_per_second', '{:14.2f}'),
          ('python-loop choices/s', 'python_loop_choices_per_second', '{:14.0f}'),
          ('compiled / python loop (target >= 20x)', 'speedup_compiled_over_python_loop',
           '{:13.1f}x'),
          ('max |KL compiled - KL python loop|', 'max_abs_kl_difference_compiled_vs_python_loop',
           '{:14.1e}'),
          ('compile seconds (first - later chunk)', 'compile_seconds', '{:14.1f}')]
  for label, key, fmt in rows:
    print(f'{label:44s}' + ''.join(fmt.format(out['sweep'][n][key]) for n in names))
  for label, key in [('no recompile: other seed keys', 'no_recompile_other_seeds'),
                     ('no recompile: other lr / lambda_lm / lambda_l2',
                      'no_recompile_other_hyperparameters')]:
    print(f'{label:44s}' + ''.join(f'{yes(out["sweep"][n][key]):>14s}' for n in names))
  print(f'total {s["total_seconds"]:.0f} s (' + ', '.join(
      f'{k} {v:.0f} s' for k, v in s['phase_seconds'].items()) + ')')


def main(argv):
  del argv
  if _QUICK.value and 'xla_backend_optimization_level' not in os.environ.get('XLA_FLAGS', ''):
    # Compilation is most of a quick run; its timings are not for reporting anyway.
    os.environ['XLA_FLAGS'] = f'{os.environ.get("XLA_FLAGS", "")} {QUICK_XLA_FLAGS}'.strip()
  config = _CONFIG.value
  if _QUICK.value and not flags.FLAGS['config'].present:
    config = tiny.get_config()
  config = config.copy_and_resolve_references()
  config.experiment.rounds_per_chunk = size(_SWEEP_ROUNDS)
  joint = joint_config(config)
  try:
    checks.validate(config)
    if config.agent.kind != 'joint':
      raise errors.ConfigError(f"config.agent.kind must be 'joint', got {config.agent.kind!r}")
    for name in _STRATEGIES.value:
      if name not in strategies.STRATEGIES:
        raise errors.ConfigError(f'--strategies must hold only known strategies '
                                 f'{tuple(strategies.STRATEGIES)}, got {name!r}')
    checks.validate(joint)
  except errors.ConfigError as error:
    sys.exit(f'error: {error}')
  out = measure(config, joint, _STRATEGIES.value)
  print_table(out)
  common.write_out(_OUT.value, out)


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
