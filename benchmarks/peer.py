r"""lmrl's joint update against the same update written plainly in PyTorch, side by side.

  pip install -e '.[bench]'    # PyTorch 2.13.0, CPU build
  python -m benchmarks.peer --config=default --out=/tmp/peer.json
  python -m benchmarks.peer --quick --out=/tmp/peer_quick.json   # smoke run, not for reporting

For two sizes -- the config's own (the LM, ensemble and batches every experiment uses) and the
benchmark size of the speed issue (width 256, depth 2, 4 heads, 10 members, 64 choices and 16
corpus sequences per step: `--bench_*` flags) -- one joint-update step of the ensemble with
centred randomized priors is timed, interleaved, median of `--repeats` calls after a warm-up:

  jax, one seed         `jit(agent.learn)` with one step (`common.JointUpdate`)
  jax, S seeds vmapped  `jit(vmap(agent.learn))` over `--seeds` seeds, the layout of lmrl's sweep;
                        reported per seed
  jax, S seeds mapped   `jit(lax.map(agent.learn))`: the same seeds one after another inside one
                        program; reported per seed
  pytorch               `benchmarks.torch_joint.JointEnsemble.step`: eager PyTorch, a Python
                        loop over the members, each with its own Adam

and the fp32 matmul peak of both libraries (`--matmul_size`; PyTorch's is the best BLAS
available here). FLOPs per step are XLA's count of the JAX step (`common.learn_flops`); every
column does that work, so GFLOP/s and shares of peak are comparable. Printed: a table per size
and the ratios (PyTorch's seconds over lmrl's: above 1, lmrl is faster). Without PyTorch the
JAX columns are still measured and the PyTorch ones say why they are missing.
"""

import os
import statistics
import sys
import time

from absl import app
from absl import flags
import jax

from benchmarks import common
from lmrl import flags as lmrl_flags
from lmrl import pipeline
from lmrl.configs import tiny

_CONFIG = lmrl_flags.define_config_flag(
    'default', 'Its LM, ensemble and batches give the first size.')
_OUT = flags.DEFINE_string('out', '/tmp/peer.json', 'Where to write the JSON.')
_QUICK = flags.DEFINE_bool('quick', False, 'Smoke run: the tiny config unless --config is '
                           'given, small benchmark size, 2 repeats, 2 seeds.')
_REPEATS = flags.DEFINE_integer('repeats', 7, 'Timed calls per column (median).', lower_bound=1)
_SEEDS = flags.DEFINE_integer('seeds', None, 'Seeds of the vmapped and mapped columns (default: '
                              'the config\'s experiment.num_seeds).', lower_bound=1)
_MATMUL_SIZE = flags.DEFINE_integer('matmul_size', 2048, 'N of the N x N fp32 peak matmul.',
                                    lower_bound=1)
_BENCH_WIDTH = flags.DEFINE_integer('bench_width', 256, 'Benchmark size: LM width.')
_BENCH_DEPTH = flags.DEFINE_integer('bench_depth', 2, 'Benchmark size: blocks.')
_BENCH_HEADS = flags.DEFINE_integer('bench_heads', 4, 'Benchmark size: attention heads.')
_BENCH_MEMBERS = flags.DEFINE_integer('bench_members', 10, 'Benchmark size: members.')
_BENCH_BATCH = flags.DEFINE_integer('bench_batch', 64, 'Benchmark size: choices per step.')
_BENCH_LM_BATCH = flags.DEFINE_integer('bench_lm_batch', 16, 'Benchmark size: corpus sequences.')
_BENCH_SEEDS = flags.DEFINE_integer('bench_seeds', 2, 'Benchmark size: seeds of the vmapped and '
                                    'mapped columns (16 of them do not fit in 8 GB).',
                                    lower_bound=1)


def log(message: str) -> None:
  print(message, file=sys.stderr, flush=True)


def one_step(config):
  """`config` with one joint-update step per learn call, of a sampled batch (`finetune.rows`
  'uniform', what the PyTorch twin does: the library's default is the full-buffer step)."""
  config = config.copy_and_resolve_references()
  config.agent.kind, config.agent.epistemic = 'joint', 'ensemble'
  config.finetune.steps_per_round = 1
  config.finetune.rows = 'uniform'
  return config


def sizes(config, quick: bool) -> dict:
  """{name: config} of the two sizes."""
  bench = one_step(config)
  bench.lm.width, bench.lm.depth = (32, 1) if quick else (_BENCH_WIDTH.value, _BENCH_DEPTH.value)
  bench.lm.num_heads = 2 if quick else _BENCH_HEADS.value
  bench.agent.num_members = 3 if quick else _BENCH_MEMBERS.value
  bench.finetune.batch_size = 8 if quick else _BENCH_BATCH.value
  bench.finetune.lm_batch_size = 4 if quick else _BENCH_LM_BATCH.value
  return {'config': one_step(config), 'benchmark': bench}


class SeedsLearn:
  """`agent.learn` of S seeds in one program: vmapped (the sweep's layout) or `lax.map`ped."""

  def __init__(self, joint: common.JointUpdate, num_seeds: int, how: str):
    agent, world, hparams = joint.agent, joint.world, joint.hparams
    keys = jax.random.split(jax.random.key(3), num_seeds)
    stack = lambda x: jax.numpy.stack([x] * num_seeds)
    states, buffers = (jax.tree_util.tree_map(stack, t) for t in (joint.state, joint.buffer))
    if how == 'vmap':
      fn = jax.vmap(agent.learn, in_axes=(0, 0, 0, None, None))
    else:
      fn = lambda k, s, b, w, h: jax.lax.map(lambda a: agent.learn(*a, w, h), (k, s, b))
    self.compiled = jax.jit(fn).lower(keys, states, buffers, world, hparams).compile()
    self.args = (keys, states, buffers, world, hparams)
    self.num_seeds = num_seeds
    jax.block_until_ready(self.compiled(*self.args))

  def time(self) -> float:
    return common.seconds(self.compiled, *self.args)[0] / self.num_seeds


class TorchStep:
  """One step of `torch_joint.JointEnsemble` at the sizes of `config`."""

  def __init__(self, config, torch_joint):
    spec, _ = pipeline.build_specs(config)
    a, u, e = config.agent, config.finetune, config.experiment
    self.ensemble = torch_joint.JointEnsemble(
        vocab_size=spec.vocab_size, prompt_length=spec.prompt_length,
        response_length=spec.response_length, width=config.lm.width, depth=config.lm.depth,
        num_heads=config.lm.num_heads, mlp_ratio=config.lm.mlp_ratio,
        num_members=a.num_members, prior_width=a.prior_width, prior_depth=a.prior_depth,
        prior_scale=a.prior_scale, batch_size=u.batch_size, lm_batch_size=u.lm_batch_size,
        num_shown=e.responses_per_prompt, learning_rate=u.learning_rate,
        lambda_lm=u.lambda_lm, lambda_l2=u.lambda_l2,
        buffer_size=e.rounds * e.prompts_per_round)
    self.ensemble.step()  # Warm-up.

  def time(self) -> float:
    start = time.perf_counter()
    self.ensemble.step()
    return time.perf_counter() - start


def torch_or_reason():
  try:
    from benchmarks import torch_joint  # pylint: disable=g-import-not-at-top
    return torch_joint, None
  except ImportError as error:
    return None, f'PyTorch not installed ({error}); pip install -e ".[bench]"'


def measure_size(config, num_seeds: int, repeats: int, torch_joint) -> dict:
  joint = common.JointUpdate(config)
  flops = common.learn_flops(joint.agent.learn, joint.args())['flops']
  columns = {'jax_one_seed': joint}
  jax.block_until_ready(joint.learn(*joint.args()))
  log('  compiling the vmapped and mapped seeds')
  columns['jax_seeds_vmapped'] = SeedsLearn(joint, num_seeds, 'vmap')
  columns['jax_seeds_mapped'] = SeedsLearn(joint, num_seeds, 'map')
  if torch_joint is not None:
    columns['pytorch'] = TorchStep(config, torch_joint)
  timings = {name: [] for name in columns}
  for _ in range(repeats):
    for name, column in columns.items():
      timings[name].append(column.time())
  c = config
  out = {'width': c.lm.width, 'depth': c.lm.depth, 'num_heads': c.lm.num_heads,
         'num_members': c.agent.num_members, 'prior_width': c.agent.prior_width,
         'batch_size': c.finetune.batch_size, 'lm_batch_size': c.finetune.lm_batch_size,
         'responses_per_prompt': c.experiment.responses_per_prompt, 'num_seeds': num_seeds,
         'flops_per_step': flops, 'params_per_member': joint.params_per_member,
         'seconds_per_step': {k: statistics.median(v) for k, v in timings.items()},
         'seconds_all': timings}
  return out


def measure(config, quick: bool) -> dict:
  torch_joint, why = torch_or_reason()
  repeats = 2 if quick else _REPEATS.value
  num_seeds = _SEEDS.value or (2 if quick else config.experiment.num_seeds)
  out = {'setup': {**common.machine(), 'quick': quick, 'repeats': repeats,
                   'xla_flags': os.environ.get('XLA_FLAGS', ''),
                   'pytorch': torch_joint.version() if torch_joint else why}}
  n = 256 if quick else _MATMUL_SIZE.value
  matmul = common.Matmul(n)
  matmul.time()
  jax_s = [matmul.time() for _ in range(repeats)]
  peaks = {'jax': matmul.flops / statistics.median(jax_s)}
  if torch_joint:
    peaks['pytorch'] = matmul.flops / statistics.median(torch_joint.matmul_seconds(n, repeats))
  out['matmul'] = {'n': n, 'flops_per_second': peaks}
  out['sizes'] = {}
  for name, size_config in sizes(config, quick).items():
    log(f'size {name}: width {size_config.lm.width}, {size_config.agent.num_members} members')
    seeds = num_seeds if name == 'config' else min(num_seeds, _BENCH_SEEDS.value)
    out['sizes'][name] = measure_size(size_config, seeds, repeats, torch_joint)
  out['setup']['load_average_end'] = list(os.getloadavg())
  return out


def print_table(out: dict) -> None:
  s, peaks = out['setup'], out['matmul']['flops_per_second']
  print(f'{s["device"]}, jax {s["jax_version"]}, pytorch {s["pytorch"]}, {s["cpu_count"]} CPUs, '
        f'load average {s["load_average"][0]:.2f} -> {s["load_average_end"][0]:.2f}')
  if s['quick']:
    print('--quick: tiny sizes, a smoke run; do not report these timings')
  best = max(peaks.values())
  print(f'matmul peak fp32 {out["matmul"]["n"]}^2: ' + ', '.join(
      f'{k} {v / 1e9:.1f} GFLOP/s' for k, v in peaks.items()))
  for name, r in out['sizes'].items():
    print(f'\n{name}: width {r["width"]}, depth {r["depth"]}, {r["num_members"]} members '
          f'(+ centred priors of width {r["prior_width"]}), {r["batch_size"]} choices x '
          f'{r["responses_per_prompt"]} + {r["lm_batch_size"]} corpus sequences per step; '
          f'{r["flops_per_step"] / 1e9:.3f} GFLOP/step (XLA)')
    print(f'  {"column":34s}{"ms/step":>10s}{"GFLOP/s":>10s}{"% of peak":>11s}'
          f'{"pytorch / this":>16s}')
    torch_s = r['seconds_per_step'].get('pytorch')
    for column, sec in r['seconds_per_step'].items():
      label = column.replace('_', ' ') + (f' (per seed of {r["num_seeds"]})'
                                          if 'seeds' in column else '')
      ratio = f'{torch_s / sec:15.2f}x' if torch_s else f'{"-":>16s}'
      print(f'  {label:34s}{sec * 1e3:10.2f}{r["flops_per_step"] / sec / 1e9:10.1f}'
            f'{100 * r["flops_per_step"] / sec / best:10.1f}%{ratio}')


def main(argv):
  del argv
  config = _CONFIG.value
  if _QUICK.value and not flags.FLAGS['config'].present:
    config = tiny.get_config()
  common.validate_or_exit(config)
  out = measure(config, _QUICK.value)
  print_table(out)
  common.write_out(_OUT.value, out)


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
