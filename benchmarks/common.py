"""What the benchmarks share: counting FLOPs with XLA, a full buffer of random choices, the machine.

* `learn_flops(learn, args)`: FLOPs of one call of `learn` by XLA's cost analysis
  (`jit(f).lower(...).compile().cost_analysis()['flops']`). XLA counts the body of a `while` loop
  once, whatever its trip count, so `learn` is first re-traced with every `lax.scan` unrolled
  (`unroll_scans`); the loop-once count is returned too, as `flops_scan_once`.
* `random_full_buffer`: a buffer of the experiment's capacity full of random choices (neither
  FLOPs nor time depend on the values).
* `seconds`, `Matmul`, `JointUpdate`: a timed call, the fp32 matmul that measures the peak, and
  one seed's `agent.learn` of the joint ensemble agent (what benchmarks.performance and
  benchmarks.peer time).
* `machine()`: the device, versions, CPU count and load average, to store next to timings.
* `write_out(path, out)`: the JSON every benchmark writes.
* `validate_or_exit(config)`: the binaries' one-line `error: ...` exit on a bad config.
"""

import importlib.metadata
import json
import os
import sys
import time

import jax
import jax.numpy as jnp

from lmrl import buffer as buffer_lib
from lmrl import checks
from lmrl import errors
from lmrl import hyperparams
from lmrl import lm as lm_lib
from lmrl import pipeline

CALL_PRIMITIVES = ('pjit', 'jit', 'closed_call', 'core_call')


# ----------------------------------------------------------------------------- FLOPs


def _eval_unrolled(jaxpr, consts, *args):
  """Evaluates a jaxpr, unrolling every `scan` (recursively) into its `length` bodies."""
  env = {}
  read = lambda v: v.val if isinstance(v, jax.extend.core.Literal) else env[v]
  for var, value in zip(jaxpr.constvars, consts):
    env[var] = value
  for var, value in zip(jaxpr.invars, args):
    env[var] = value
  for eqn in jaxpr.eqns:
    invals = [read(v) for v in eqn.invars]
    name = eqn.primitive.name
    if name == 'scan':
      outs = _scan_unrolled(eqn.params, invals)
    elif name in CALL_PRIMITIVES:
      closed = eqn.params['jaxpr'] if name in ('pjit', 'jit') else eqn.params['call_jaxpr']
      inner, inner_consts = (closed.jaxpr, closed.consts) if hasattr(closed, 'consts') else (
          closed, ())
      outs = _eval_unrolled(inner, inner_consts, *invals)
    else:
      with eqn.ctx.manager:
        outs = eqn.primitive.bind(*invals, **eqn.primitive.get_bind_params(eqn.params))
      outs = outs if eqn.primitive.multiple_results else [outs]
    for var, value in zip(eqn.outvars, outs):
      env[var] = value
  return [read(v) for v in jaxpr.outvars]


def _scan_unrolled(params, invals):
  body, length = params['jaxpr'], params['length']
  num_consts, num_carry = params['num_consts'], params['num_carry']
  consts = invals[:num_consts]
  carry = invals[num_consts:num_consts + num_carry]
  xs = invals[num_consts + num_carry:]
  order = range(length - 1, -1, -1) if params['reverse'] else range(length)
  ys = []
  for i in order:
    out = _eval_unrolled(body.jaxpr, body.consts, *consts, *carry, *[x[i] for x in xs])
    carry, y = out[:num_carry], out[num_carry:]
    ys.append(y)
  if params['reverse']:
    ys = ys[::-1]
  num_ys = len(body.jaxpr.outvars) - num_carry
  return list(carry) + [jnp.stack([y[j] for y in ys]) for j in range(num_ys)]


def unroll_scans(fn):
  """`fn` with every `lax.scan` unrolled (same outputs, flat array arguments)."""

  def unrolled(*args):
    closed = jax.make_jaxpr(fn)(*args)
    return lambda *flat: _eval_unrolled(closed.jaxpr, closed.consts, *flat)

  return unrolled


def xla_flops(fn, *args) -> float:
  return float(jax.jit(fn).lower(*args).compile().cost_analysis()['flops'])


def learn_flops(learn, args) -> dict[str, float]:
  flat = jax.tree_util.tree_leaves(args)
  return {'flops': xla_flops(unroll_scans(learn)(*args), *flat),
          'flops_scan_once': xla_flops(learn, *args)}


# ----------------------------------------------------------------------------- inputs


def random_full_buffer(key, config, spec, num_members) -> buffer_lib.ChoiceBuffer:
  e = config.experiment
  n, K = e.rounds * e.prompts_per_round, e.responses_per_prompt
  key_x, key_y, key_r, key_b = jax.random.split(key, 4)
  return buffer_lib.append(
      buffer_lib.empty(n, spec.prompt_length, K, spec.response_length, num_members),
      jax.random.randint(key_x, (n, spec.prompt_length), 0, spec.vocab_size),
      jax.random.randint(key_y, (n, K, spec.response_length), 0, spec.vocab_size),
      jax.vmap(lambda k: jax.random.permutation(k, K))(jax.random.split(key_r, n)),
      buffer_lib.bootstrap_weights(key_b, (n, num_members), config.agent.bootstrap))


# ----------------------------------------------------------------------------- timed work


def seconds(fn, *args):
  """(seconds, output) of one call of `fn`, waiting for its result."""
  start = time.perf_counter()
  out = jax.block_until_ready(fn(*args))
  return time.perf_counter() - start, out


class Matmul:
  """A jitted fp32 `N x N` matmul: `2 N^3` FLOPs per call."""

  def __init__(self, n: int):
    key_a, key_b = jax.random.split(jax.random.key(0))
    self.a_NxN = jax.random.normal(key_a, (n, n), jnp.float32)
    self.b_NxN = jax.random.normal(key_b, (n, n), jnp.float32)
    self.matmul = jax.jit(jnp.matmul)
    self.flops = 2.0 * n ** 3

  def time(self) -> float:
    return seconds(self.matmul, self.a_NxN, self.b_NxN)[0]


class JointUpdate:
  """`agent.learn` (`steps` joint-update steps) of the joint ensemble agent, one seed."""

  def __init__(self, config):
    spec, lm_spec, self.world = pipeline.build_world(config)
    self.lm_spec, self.steps = lm_spec, config.finetune.steps_per_round
    self.agent = pipeline.make_agent(config, spec, lm_spec)
    params = lm_lib.init_lm(jax.random.key(0), lm_spec)
    self.params_per_member = lm_lib.count_params(params)
    self.hparams = hyperparams.as_arrays(hyperparams.values(config))
    self.state = jax.jit(self.agent.init)(jax.random.key(1), params, self.hparams)
    self.buffer = random_full_buffer(jax.random.key(2), config, spec, self.agent.num_members)
    self.learn = jax.jit(self.agent.learn)
    # Sequences a step runs per member: a sampled batch's K responses per choice, or with
    # finetune.rows='all' the tables' response prefixes of every prompt; and the corpus batch.
    choice_sequences = (
        spec.num_prompts * spec.vocab_size ** (spec.response_length - 1)
        if config.finetune.rows == 'all'
        else config.finetune.batch_size * config.experiment.responses_per_prompt)
    self.tokens_per_step = config.agent.num_members * spec.sequence_length * (
        choice_sequences + config.finetune.lm_batch_size)

  def args(self):
    return jax.random.key(3), self.state, self.buffer, self.world, self.hparams

  def time(self) -> float:
    return seconds(self.learn, *self.args())[0]


# ----------------------------------------------------------------------------- machine


def machine() -> dict:
  """Where the timings were taken: device, versions, CPU count, load average (1, 5, 15 min)."""
  return {'device': str(jax.devices()[0]), 'platform': jax.devices()[0].platform,
          'num_devices': jax.device_count(), 'jax_version': jax.__version__,
          'jaxlib_version': importlib.metadata.version('jaxlib'),
          'cpu_count': os.cpu_count(), 'load_average': list(os.getloadavg())}


def write_out(path: str, out: dict) -> None:
  """Writes a benchmark's figures as JSON to `path` and says where."""
  with open(path, 'w') as f:
    json.dump(out, f, indent=2)
  print(f'wrote {path}')


def validate_or_exit(config) -> None:
  """Checks `config` as `lmrl.run` does; on a bad field exits with one line, before compiling."""
  try:
    checks.validate(config)
  except errors.ConfigError as error:
    sys.exit(f'error: {error}')
