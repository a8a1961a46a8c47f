r"""The checks' memory estimates against the real peak: an exact evaluation, a pass of epig's tables
and a full-buffer joint step.

  python -m benchmarks.memory_estimate --out=/tmp/memory_estimate.json

`lmrl.checks` refuses, before anything compiles, a run whose exact evaluation
(`checks.exact_evaluation_bytes`), one pass of epig's member tables (`checks.epig_table_bytes`)
or one full-buffer joint step (`checks.full_buffer_step_bytes`: `finetune.rows='all'` or a refit,
the gradient through every member's table over every prompt) would not fit the machine. Each
estimate counts the largest activations (MLP units per token, per member, per lane) times
`checks.EXACT_EVAL_OVERHEAD` (the step: times `checks.FULL_STEP_OVERHEAD` more, for what the
gradient keeps). This measures them against what the computation takes, on the structured
family's world (V = 8, Ly = 4, 8 members of width 32, depth 2: the headline's agent; Lx = 2, or
Lx = 1 for the full step, whose tables span every prompt) at three sizes each
(lanes x prompts), every size in a fresh process:

* `xla_temp_mb`: XLA's own account of the compiled program's scratch memory
  (`jit(f).lower(...).compile().memory_analysis().temp_size_in_bytes`),
* `rss_peak_mb`: the rise of this process's resident memory over the call (sampled every 2 ms
  from /proc/self/statm by a thread; the tables' output and inputs included),

and prints estimate / measured (> 1: the estimate is conservative). The agent's parameters are a
random initialisation (memory does not depend on the values).
"""

import json
import os
import subprocess
import sys
import threading
import time

from absl import app
from absl import flags

from benchmarks import common

_OUT = flags.DEFINE_string('out', None, 'Where to write the JSON of every number.')
_CASE = flags.DEFINE_string('case', None, 'Internal: measure one case (what, lanes, prompts) in '
                            'this process and print its JSON.')

# (what, lanes, prompts): the exact evaluation on P evaluation prompts, one pass of epig's
# member tables on P prompts (strategies.table_prompts_per_pass is 2 on this world), or one
# full-buffer joint step on a world of P = 8**Lx prompts (its tables span them all; P = 64, the
# family's own, is estimated at ~20 GB a lane, more than this project's CPU machine should risk).
CASES = (('evaluation', 1, 8), ('evaluation', 4, 8), ('evaluation', 16, 2),
         ('epig_pass', 1, 2), ('epig_pass', 4, 2), ('epig_pass', 16, 2),
         ('full_step', 1, 8), ('full_step', 2, 8), ('full_step', 4, 8))


def _config(what: str, lanes: int, prompts: int):
  from experiments.structured import config as structured  # pylint: disable=g-import-not-at-top
  config = structured.get_config('headline' if what == 'epig_pass' else 'ceiling')
  config.world.num_worlds = 1
  config.experiment.num_seeds = lanes
  if what == 'full_step':  # One step of the full-buffer gradient over a world of P prompts.
    config.world.prompt_length = {8: 1, 64: 2}[prompts]
    config.world.num_eval_prompts = min(config.world.num_eval_prompts, prompts)
    config.finetune.rows = 'all'
    config.finetune.steps_per_round = 1
  else:
    config.world.num_eval_prompts = prompts
  return config


def _measure(what: str, lanes: int, prompts: int) -> dict:
  """One case in this process: estimate, XLA's temp bytes and the resident peak of the call."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from lmrl import checks, lm as lm_lib, pipeline, progress, strategies  # pylint: disable=g-import-not-at-top,g-multiple-import
  from lmrl import hyperparams, world as world_lib  # pylint: disable=g-import-not-at-top,g-multiple-import

  config = _config(what, lanes, prompts)
  spec, lm_spec = pipeline.build_specs(config)
  agent = pipeline.make_agent(config, spec, lm_spec)
  base = lm_lib.init_lm(jax.random.key(0), lm_spec)
  hparams = hyperparams.as_arrays(hyperparams.values(config))
  states = jax.jit(jax.vmap(lambda k: agent.init(k, base, hparams)))(
      jax.random.split(jax.random.key(1), lanes))
  prompts_PxLx = jnp.asarray(world_lib.all_prompts(spec))[:prompts]
  if what == 'evaluation':
    estimate, counted = checks.exact_evaluation_bytes(config)
    f = jax.jit(jax.vmap(lambda s: agent.exact_log_probs(s, prompts_PxLx)))
  elif what == 'full_step':
    estimate, counted = checks.full_buffer_step_bytes(config)
    world = pipeline.build_world(config)[2]
    buffer = common.random_full_buffer(jax.random.key(2), config, spec, agent.num_members)
    f = jax.jit(jax.vmap(lambda s: agent.learn(jax.random.key(3), s, buffer, world, hparams)))
  else:
    config.world.num_eval_prompts = 0
    estimate, counted = checks.epig_table_bytes(config)
    assert strategies.table_prompts_per_pass(spec.vocab_size, spec.response_length) == prompts
    f = jax.jit(jax.vmap(lambda s: agent.explorer(s, hparams).member_log_probs(prompts_PxLx)))
  compiled = f.lower(states).compile()
  temp = compiled.memory_analysis().temp_size_in_bytes
  jax.block_until_ready(states)
  before = progress.resident_bytes()
  peak = [before]
  done = threading.Event()

  def sample():
    while not done.is_set():
      peak[0] = max(peak[0], progress.resident_bytes())
      time.sleep(0.002)

  sampler = threading.Thread(target=sample)
  sampler.start()
  jax.block_until_ready(compiled(states))
  done.set()
  sampler.join()
  peak[0] = max(peak[0], progress.resident_bytes())
  return {'what': what, 'lanes': lanes, 'prompts': prompts, 'estimate_mb': estimate / 2**20,
          'counted': counted, 'xla_temp_mb': temp / 2**20, 'rss_peak_mb': (peak[0] - before) / 2**20}


def main(argv):
  del argv
  if _CASE.value:
    what, lanes, prompts = _CASE.value.split(',')
    print(json.dumps(_measure(what, int(lanes), int(prompts))))
    return
  rows = []
  print(f'{"what":<11} {"lanes":>5} {"prompts":>7} {"estimate MB":>11} {"XLA temp MB":>11} '
        f'{"RSS rise MB":>11} {"est/XLA":>7} {"est/RSS":>7}')
  for what, lanes, prompts in CASES:
    out = subprocess.run([sys.executable, '-m', 'benchmarks.memory_estimate',
                          f'--case={what},{lanes},{prompts}'], capture_output=True, text=True,
                         env=dict(os.environ, JAX_PLATFORMS=os.environ.get('JAX_PLATFORMS', 'cpu')))
    if out.returncode:
      sys.exit(f'error: the case {what},{lanes},{prompts} failed: {out.stderr.strip()[-2000:]}')
    row = json.loads(out.stdout.strip().splitlines()[-1])
    rows.append(row)
    print(f'{what:<11} {lanes:>5} {prompts:>7} {row["estimate_mb"]:>11.0f} '
          f'{row["xla_temp_mb"]:>11.0f} {row["rss_peak_mb"]:>11.0f} '
          f'{row["estimate_mb"] / max(row["xla_temp_mb"], 1e-9):>7.2f} '
          f'{row["estimate_mb"] / max(row["rss_peak_mb"], 1e-9):>7.2f}')
  if _OUT.value:
    common.write_out(_OUT.value, {'cases': rows, 'machine': common.machine()})


if __name__ == '__main__':
  app.run(main)
