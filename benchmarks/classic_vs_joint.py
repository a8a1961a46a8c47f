r"""Compute per round of the joint agent vs. the classic pipeline (reward model + REINFORCE).

  python -m benchmarks.classic_vs_joint --config=default \
      --out=/tmp/classic_vs_joint.json

For each agent kind, at the same config and in the same process:

* **FLOPs per round** of `agent.learn` (one round of learning, every update step), counted by
  XLA's cost analysis (`jit(f).lower(...).compile().cost_analysis()['flops']`). XLA counts the
  body of a `while` loop once, whatever its trip count, so `learn` is first re-traced with every
  `lax.scan` unrolled (`common.unroll_scans`, shared with benchmarks/performance.py); the
  loop-once count is reported too, as `flops_scan_once`.
* **Seconds per round** of `agent.learn` for one seed, and of a whole experiment round (queries
  by the passive strategy, simulated choices, learning, exact metrics) for
  `experiment.num_seeds` vmapped seeds, as `sweep.make_sweep` runs it. Medians over
  `--repeats` timings after a compile-and-warm-up call, the two kinds interleaved so that a
  change in machine load hits both alike.

Prints the two side by side with the ratios classic / joint and writes them as JSON to `--out`.
Parameters are random (a fresh LM, not the pre-trained one) and the buffer is full of random
choices: neither FLOPs nor time depend on the values.
"""

import os
import statistics
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp


from benchmarks import common
from lmrl import flags as lmrl_flags
from lmrl import hyperparams
from lmrl import lm as lm_lib
from lmrl import loop
from lmrl import pipeline
from lmrl import sweep

_CONFIG = lmrl_flags.define_config_flag('default')
_OUT = flags.DEFINE_string('out', '/tmp/classic_vs_joint.json', 'Where to write the JSON.')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed calls per measurement (median).')

KINDS = ('joint', 'classic')


# ----------------------------------------------------------------------------- timing


class Bench:
  """Compiled `learn` (one seed) and experiment round (all seeds) of one agent kind."""

  def __init__(self, config, kind, spec, lm_spec, world, params):
    config = config.copy_and_resolve_references()
    config.agent.kind = kind
    e = config.experiment
    self.agent = pipeline.make_agent(config, spec, lm_spec)
    self.world = world
    self.hparams = hyperparams.as_arrays(hyperparams.values(config))
    self.state = jax.jit(self.agent.init)(jax.random.key(0), params, self.hparams)
    self.buffer = common.random_full_buffer(jax.random.key(1), config, spec,
                                            self.agent.num_members)
    self.learn = jax.jit(self.agent.learn)
    self.sweeper = sweep.make_sweep(loop.make_experiment(config, spec, self.agent,
                                                               ('passive',)))
    self.keys_S = sweep.seed_keys(config.seed, e.num_seeds)
    self.run_state = self.sweeper.init(self.keys_S, params, world, None)
    self.rounds = e.rounds_per_chunk
    self.next_round = 0

  def learn_args(self):
    return jax.random.key(2), self.state, self.buffer, self.world, self.hparams

  def time_learn(self) -> float:
    start = time.perf_counter()
    jax.block_until_ready(self.learn(*self.learn_args()))
    return time.perf_counter() - start

  def time_round(self) -> float:
    """Seconds per experiment round, from one chunk of `rounds_per_chunk` rounds."""
    round_R = jnp.arange(self.next_round, self.next_round + self.rounds, dtype=jnp.int32)
    start = time.perf_counter()
    self.run_state, metrics = self.sweeper.run_chunk(self.keys_S, self.run_state, self.world,
                                                     round_R, 0)
    jax.block_until_ready((self.run_state, metrics))
    self.next_round += self.rounds
    return (time.perf_counter() - start) / self.rounds


def measure(config, repeats: int) -> dict:
  spec, lm_spec, world = pipeline.build_world(config)
  params = lm_lib.init_lm(jax.random.key(0), lm_spec)
  benches = {kind: Bench(config, kind, spec, lm_spec, world, params) for kind in KINDS}
  out = {kind: common.learn_flops(b.agent.learn, b.learn_args()) for kind, b in benches.items()}
  for b in benches.values():  # Compile and warm up.
    b.time_learn()
    b.time_round()
  learn_s = {kind: [] for kind in KINDS}
  round_s = {kind: [] for kind in KINDS}
  for _ in range(repeats):
    for kind, b in benches.items():
      learn_s[kind].append(b.time_learn())
      round_s[kind].append(b.time_round())
  for kind in KINDS:
    out[kind].update(learn_seconds_per_round=statistics.median(learn_s[kind]),
                     experiment_seconds_per_round=statistics.median(round_s[kind]),
                     learn_seconds_all=learn_s[kind], experiment_seconds_all=round_s[kind])
  out['ratio_classic_over_joint'] = {
      name: out['classic'][name] / out['joint'][name]
      for name in ('flops', 'flops_scan_once', 'learn_seconds_per_round',
                   'experiment_seconds_per_round')}
  e = config.experiment
  out['setup'] = {
      'num_seeds_in_experiment_round': e.num_seeds, 'prompts_per_round': e.prompts_per_round,
      'finetune_steps_per_round': config.finetune.steps_per_round,
      'policy_steps_per_round': config.classic.policy_steps_per_round,
      'num_members': config.agent.num_members, 'device': str(jax.devices()[0]),
      'cpu_count': os.cpu_count(), 'load_average': os.getloadavg(), 'repeats': repeats}
  return out


def main(argv):
  del argv
  config = _CONFIG.value
  common.validate_or_exit(config)
  out = measure(config, _REPEATS.value)
  print(f'{"":32s}{"joint":>14s}{"classic":>14s}{"classic/joint":>15s}')
  for name, unit in [('flops', 'FLOPs/round (learn)'),
                     ('flops_scan_once', 'FLOPs (loops counted once)'),
                     ('learn_seconds_per_round', 's/round (learn, 1 seed)'),
                     ('experiment_seconds_per_round', 's/round (experiment)')]:
    print(f'{unit:32s}{out["joint"][name]:14.4g}{out["classic"][name]:14.4g}'
          f'{out["ratio_classic_over_joint"][name]:15.2f}')
  print(f'experiment round: passive strategy, {config.experiment.num_seeds} seeds vmapped; '
        f'load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs')
  common.write_out(_OUT.value, out)


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
