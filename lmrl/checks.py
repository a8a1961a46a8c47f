"""Config validation: bad values fail before anything compiles, with one line naming the field.

Each check raises `ConfigError('config.<section>.<field> <what is allowed>, got <value>')`; the
binaries print it as one line and exit non-zero. (Unknown fields, whole sections and values of
the wrong type in `--config.x=` overrides are refused earlier, while `lmrl.flags` parses them.)

Beyond each field's own range: an integer must fit JAX's int32 (`MAX_INT`; world seeds too), a
float must survive float32 (`_float32`: no overflow to inf, no flush to 0), and the sizes the
fields multiply into must fit fixed limits (the world's tables, one exact evaluation, the run
state, the agents' parameters, one step's activations, the summary's resamples), each counted
without building anything and without a huge power, binomial, factorial or list, so that no
value, however large, makes the checks themselves hang (tests/test_bad_input.py draws them).
"""

import math
import os

from lmrl import buffer
from lmrl import epig
from lmrl import epistemic
from lmrl import errors
from lmrl import hyperparams
from lmrl import loop
from lmrl import registry
from lmrl import strategies
from lmrl import update
from lmrl import world as world_lib

MAX_RESPONSES = 65_536  # V**Ly above this cannot be enumerated exactly at every evaluation.
MAX_PROMPTS = 4_096  # V**Lx above this makes the world's tables too large.
MAX_EPIG_COLUMNS = 1_000_000  # Epig's K-tuples x outcomes per prompt (C(16, 4) x 4! = 43,680).
MAX_WORLD_BYTES = 2 ** 30  # The world's tables (all world.num_worlds of them): 1 GiB.
# Peak memory of an exact evaluation over the bytes of its members' MLP activations, measured on
# CPU at V=8, Lx=2, Ly=4: the ensemble's resident peak 5.5x at 4 and 16 lanes, 3.6x at one
# (`python -m benchmarks.memory_estimate`; XLA's own scratch account 4.3x); one LM 5.4x, the
# epinet 6.9x (earlier, XLA's account). 7 covers every one measured.
EXACT_EVAL_OVERHEAD = 7
# Peak memory of one full-buffer joint step (the gradient through every member's tables over every
# prompt: `finetune.rows='all'` and the refit) over the exact evaluation's estimate on the same
# prompts: the step's resident peak is ~2x the evaluation's (benchmarks.memory_estimate's full_step
# cases: with 3 the estimate is 1.48x the resident peak at 1 lane, 1.50x at 4, 1.60x XLA's scratch
# account), and 3 keeps it as conservative as the evaluation's.
FULL_STEP_OVERHEAD = 3
MAX_EXACT_EVAL_BYTES = 2 ** 37  # One exact evaluation, every lane at once: 128 GiB (one H200).
MAX_STATE_BYTES = 2 ** 37  # Every lane's choice buffer and held-out choices: 128 GiB.
MAX_PARAMETER_BYTES = 2 ** 37  # Every lane's agent parameters (a lower bound): 128 GiB.
MAX_INT = 2 ** 31 - 1  # JAX's int32: a count, size or seed above it cannot be held or indexed.
FLOAT32_MAX = 3.4028234663852886e38  # A float above it is inf in float32 (JAX's floats).
FLOAT32_TINY = 1.1754943508222875e-38  # The smallest normal float32; below it, 0 (or denormal).


def _require(ok: bool, field: str, message: str, value) -> None:
  if not ok:
    raise errors.ConfigError(f'config.{field} {message}, got {value!r}')


def _int_at_least(config, field: str, low: int) -> None:
  value = hyperparams.config_field(config, field)
  _require(isinstance(value, int) and not isinstance(value, bool) and value >= low, field,
           f'must be an integer >= {low}', value)
  _require(value <= MAX_INT, field, f'must be at most {MAX_INT} (an int32)', value)


def _boolean(config, field: str) -> None:
  value = hyperparams.config_field(config, field)
  _require(isinstance(value, bool), field, 'must be True or False', value)


def _is_number(value) -> bool:
  """A finite real number (not a bool; an int too large for a float is not finite)."""
  if not isinstance(value, (int, float)) or isinstance(value, bool):
    return False
  try:
    return math.isfinite(value)
  except OverflowError:
    return False


def _float32(field: str, value) -> None:
  """`value` (a number) survives float32, JAX's float: no overflow to inf, no flush to 0."""
  _require(value == 0 or FLOAT32_TINY <= abs(value) <= FLOAT32_MAX, field,
           f'must be 0 or within float32\'s range [{FLOAT32_TINY:.4g}, {FLOAT32_MAX:.4g}] in '
           'size', value)


def _positive(config, field: str) -> None:
  value = hyperparams.config_field(config, field)
  _require(_is_number(value) and value > 0, field, 'must be a positive number', value)
  _float32(field, value)


def _non_negative(config, field: str) -> None:
  value = hyperparams.config_field(config, field)
  _require(_is_number(value) and value >= 0, field, 'must be a non-negative number', value)
  _float32(field, value)


def _distribution(config, field: str, length: int | None = None) -> None:
  weights = tuple(hyperparams.config_field(config, field))
  _require(all(_is_number(w) and w >= 0 for w in weights), field,
           'must hold non-negative weights', weights)
  _require(abs(sum(weights) - 1.0) < 1e-6, field, 'must sum to 1', weights)
  if length is not None:
    _require(len(weights) == length, field,
             f'must have one weight per group ({length}, as world.group_weights)', weights)


def _power_within(base: int, exponent: int, limit: int) -> bool:
  """base**exponent <= limit (base >= 2, exponent >= 1), without computing a huge power."""
  return exponent < limit.bit_length() and base ** exponent <= limit


def _comb_within(n: int, k: int, limit: int) -> bool:
  """math.comb(n, k) <= limit (0 <= k <= n), counted only until it passes the limit."""
  count = 1
  for i in range(min(k, n - k)):
    count = count * (n - i) // (i + 1)  # C(n, i + 1), exact.
    if count > limit:
      return False
  return True


def _gb(num_bytes: float) -> str:
  return f'{num_bytes / 1e9:.2f} GB'


def _world_fits(config) -> None:
  """The world's tables (`world.table_bytes`, times `world.num_worlds`) fit `MAX_WORLD_BYTES`."""
  w = config.world
  spec = world_lib.spec_from_config(w)
  num_worlds = w.get('num_worlds', 1)
  needed = num_worlds * world_lib.table_bytes(spec)
  _require(needed <= MAX_WORLD_BYTES, 'world.response_length',
           f'with world.vocab_size, world.prompt_length, world.group_weights and '
           f'world.num_worlds makes the world tables need {_gb(needed)} (W={num_worlds} worlds x '
           f'G={spec.num_groups} groups x P={spec.num_prompts} prompts x '
           f'N={spec.num_responses} responses: float32 log q and p*, bool favourites), over the '
           f'{_gb(MAX_WORLD_BYTES)} limit (checks.MAX_WORLD_BYTES): lower world.vocab_size, '
           'world.prompt_length, world.response_length or world.num_worlds',
           (w.vocab_size, w.prompt_length, w.response_length))


def _memory_bytes() -> tuple[int, str]:
  """(bytes, what): the first device's memory where JAX reports it, else the host's RAM."""
  import jax  # pylint: disable=g-import-not-at-top
  device = jax.devices()[0]
  stats = device.memory_stats() or {}
  if 'bytes_limit' in stats:
    return int(stats['bytes_limit']), f'{device.platform} device memory'
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'), 'host memory'


def _lanes_here(config) -> int:
  """The lanes one device runs at once: every lane, or with `experiment.shard_seeds` (local
  devices only: this compiles nothing) the lanes per device."""
  lanes = _lanes(config)
  if config.experiment.shard_seeds and not config.experiment.distributed:
    import jax  # pylint: disable=g-import-not-at-top
    lanes = -(-lanes // jax.device_count())
  return lanes


def _table_bytes(config, prompts: int) -> tuple[int, str]:
  """An estimate of the peak memory of exact response tables (`lm.exact_log_probs`) over
  `prompts` prompts for every lane at once, vmapped, and how it is counted: every lane's members
  run on the `prompts x V**(Ly-1)` response prefixes of length `L = 1 + Lx + Ly`; the largest
  buffers are the MLP activations, `mlp_ratio x width` floats per token, per member (the
  ensemble's `num_members`; the epinet evaluates its base once) and per lane on this device; the
  peak is `EXACT_EVAL_OVERHEAD` times those (measured: 64 GB asked for 16 lanes x 8 members x 64
  prompts of the structured family, against 60 GB counted)."""
  w, m = config.world, config.lm
  sequences = prompts * w.vocab_size ** (w.response_length - 1)
  length = 1 + w.prompt_length + w.response_length
  members = config.agent.num_members if config.agent.epistemic == 'ensemble' else 1
  lanes = _lanes_here(config)
  needed = (EXACT_EVAL_OVERHEAD * 4 * lanes * members * sequences * length * m.mlp_ratio
            * m.width)
  return needed, (f'{lanes} lanes x {members} members x {prompts} prompts x '
                  f'{sequences // prompts} response prefixes x {length} tokens x '
                  f'{m.mlp_ratio * m.width} MLP units x 4 bytes x {EXACT_EVAL_OVERHEAD}')


def exact_evaluation_bytes(config) -> tuple[int, str]:
  """An estimate of the peak memory of one exact evaluation (`lm.exact_log_probs` over the
  evaluation prompts for every lane at once, vmapped) and how it is counted (`_table_bytes`)."""
  w = config.world
  return _table_bytes(config, w.num_eval_prompts or w.vocab_size ** w.prompt_length)


def epig_table_bytes(config) -> tuple[int, str]:
  """An estimate of the peak memory of one pass of epig's member tables (`strategies.
  member_tables`: `strategies.table_prompts_per_pass` prompts at a time, every lane at once), 0
  without a strategy that builds them (`strategies.TABLE_STRATEGIES`), and how it is counted
  (`_table_bytes`)."""
  w = config.world
  if not set(strategies.TABLE_STRATEGIES) & set(tuple(config.experiment.strategies)):
    return 0, 'no epig'
  if not config.experiment.epig_tables:
    return 0, 'epig without tables'
  prompts = min(w.vocab_size ** w.prompt_length,
                strategies.table_prompts_per_pass(w.vocab_size, w.response_length))
  return _table_bytes(config, prompts)


def full_buffer_step_bytes(config) -> tuple[int, str]:
  """An estimate of the peak memory of one full-buffer joint step, every lane at once, 0 where
  the run takes none (the joint agent, alone or beside the classic one, with
  `finetune.rows='all'`, or with `experiment.refit_rounds`: `lmrl.refit` fits with it), and how
  it is counted: the step's tables span every prompt of the world, so `_table_bytes` over `V**Lx`
  prompts, times `FULL_STEP_OVERHEAD` for what the gradient keeps, plus one more table (forward
  only: the members at theta_0) with the shown-mass anchor (`finetune.shown_mass_weight` > 0)."""
  w = config.world
  if 'joint' not in registry.agent_kinds(config) or (
      config.finetune.rows != 'all' and not tuple(config.experiment.refit_rounds)):
    return 0, 'no full-buffer step'
  needed, counted = _table_bytes(config, w.vocab_size ** w.prompt_length)
  factor = FULL_STEP_OVERHEAD + (config.finetune.shown_mass_weight > 0)
  what = 'the gradient' + (' and the anchor\'s table' if factor > FULL_STEP_OVERHEAD else '')
  return factor * needed, f'{counted} x {factor} ({what})'


def _exact_evaluation_within(config, limit: int, what: str) -> None:
  needed, counted = exact_evaluation_bytes(config)
  _require(needed <= limit, 'world.num_eval_prompts',
           f'makes one exact evaluation need about {_gb(needed)} ({counted}), more than the '
           f'{_gb(limit)} {what}: evaluate on fewer prompts (world.num_eval_prompts), or lower '
           'experiment.num_seeds, world.num_worlds, the grid of config.sweep, agent.num_members, '
           'lm.width, lm.mlp_ratio, world.vocab_size, world.prompt_length or '
           'world.response_length',
           config.world.num_eval_prompts)
  needed, counted = epig_table_bytes(config)
  names = ' and '.join(name for name in strategies.TABLE_STRATEGIES
                       if name in tuple(config.experiment.strategies))
  _require(needed <= limit, 'experiment.strategies',
           f'has {names}, whose member tables need about {_gb(needed)} a pass ({counted}), more '
           f'than the {_gb(limit)} {what}: drop {names}, or lower experiment.num_seeds, '
           'world.num_worlds, the grid of config.sweep, agent.num_members, lm.width, '
           'lm.mlp_ratio or world.response_length', tuple(config.experiment.strategies))
  needed, counted = full_buffer_step_bytes(config)
  rows_all, refits = config.finetune.rows == 'all', bool(tuple(config.experiment.refit_rounds))
  field, value = (('finetune.rows', config.finetune.rows) if rows_all
                  else ('experiment.refit_rounds', tuple(config.experiment.refit_rounds)))
  advice = ' and '.join(
      [*(["set finetune.rows='uniform' (sampled batches)"] if rows_all else []),
       *(['drop the refits (experiment.refit_rounds=())'] if refits else [])])
  _require(needed <= limit, field,
           f'takes full-buffer joint steps (the gradient through the LM\'s exact tables over all '
           f'{config.world.vocab_size ** config.world.prompt_length} prompts), which need about '
           f'{_gb(needed)} ({counted}), more than the {_gb(limit)} {what}: {advice}, or lower '
           'experiment.num_seeds, world.num_worlds, the grid of config.sweep, agent.num_members, '
           'lm.width, lm.mlp_ratio, world.vocab_size, world.prompt_length or '
           'world.response_length', value)


def validate_memory(config) -> None:
  """One exact evaluation (with epig, one pass of its member tables; with a full-buffer joint step,
  its gradient) fits this machine: the first device's memory where JAX reports it, else the host's
  RAM (a check of the machine, not of the config: `validate` checks the fixed
  `MAX_EXACT_EVAL_BYTES`). Call it where a run starts, after `validate`; it asks JAX for its
  devices, so not before `jax.distributed.initialize` (it does nothing for a distributed run)."""
  if config.experiment.distributed:
    return
  available, what = _memory_bytes()
  _exact_evaluation_within(config, available, f'of {what}')


def validate_world(config) -> None:
  """The world and pre-training fields."""
  for field, low in [('seed', 0), ('world.seed', 0), ('world.num_worlds', 1),
                     ('world.vocab_size', 2),
                     ('world.prompt_length', 1),
                     ('world.response_length', 1), ('world.num_eval_prompts', 0),
                     ('lm.width', 1), ('lm.depth', 1), ('lm.num_heads', 1), ('lm.mlp_ratio', 1),
                     ('pretrain.steps', 1), ('pretrain.batch_size', 1)]:
    _int_at_least(config, field, low)
  w = config.world
  _require(w.seed + w.num_worlds - 1 <= MAX_INT, 'world.num_worlds',
           f'makes the last world\'s seed, world.seed + world.num_worlds - 1, exceed {MAX_INT} '
           '(an int32)', (w.seed, w.num_worlds))
  _require(_power_within(w.vocab_size, w.response_length, MAX_RESPONSES), 'world.response_length',
           'makes world.vocab_size**world.response_length exceed '
           f'{MAX_RESPONSES} responses to enumerate', (w.vocab_size, w.response_length))
  _require(_power_within(w.vocab_size, w.prompt_length, MAX_PROMPTS), 'world.prompt_length',
           f'makes world.vocab_size**world.prompt_length exceed {MAX_PROMPTS} prompts',
           (w.vocab_size, w.prompt_length))
  _require(len(tuple(w.group_weights)) >= 1, 'world.group_weights', 'must name >= 1 group',
           w.group_weights)
  _distribution(config, 'world.group_weights')
  _distribution(config, 'world.corpus_group_mix', len(tuple(w.group_weights)))
  _positive(config, 'world.teacher_temperature')
  _non_negative(config, 'world.prompt_logit_scale')
  _require(w.kind in world_lib.WORLD_KINDS, 'world.kind', f'must be one of '
           f'{world_lib.WORLD_KINDS}', w.kind)
  _non_negative(config, 'world.taste_scale')
  _non_negative(config, 'world.base_scale')
  _require(_is_number(w.minority_opposition) and -1 <= w.minority_opposition <= 1,
           'world.minority_opposition', 'must be in [-1, 1]', w.minority_opposition)
  _world_fits(config)
  _require(_is_number(w.favourite_mass) and 0 < w.favourite_mass <= 1, 'world.favourite_mass',
           'must be in (0, 1]', w.favourite_mass)
  _float32('world.favourite_mass', w.favourite_mass)
  _require(w.num_eval_prompts <= w.vocab_size ** w.prompt_length, 'world.num_eval_prompts',
           'must not exceed the number of prompts vocab_size**prompt_length', w.num_eval_prompts)
  _require(config.lm.width % config.lm.num_heads == 0, 'lm.num_heads', 'must divide lm.width',
           config.lm.num_heads)
  _positive(config, 'pretrain.learning_rate')
  for field in ('world.iia', 'world.full_ranking'):
    _boolean(config, field)


# The rules `lmrl.hyperparams.TRACED` names, for a traced value's config field and for the
# values `config.sweep` lists for it.
_RULES = {'positive': _positive, 'non_negative': _non_negative}


def _validate_traced(config) -> None:
  for name, traced in hyperparams.TRACED.items():
    _RULES[traced.rule](config, traced.field)
  for name, values in hyperparams.swept_values(config).items():
    for value in values:
      _RULES[hyperparams.TRACED[name].rule]({'sweep': {name: value}}, f'sweep.{name}')
    _require(len(set(values)) == len(values), f'sweep.{name}', 'must not repeat a value', values)


def _lanes(config) -> int:
  """Lanes of the sweep: seeds x worlds x the grid's points (counted, not listed)."""
  return (config.experiment.num_seeds * config.world.get('num_worlds', 1)
          * hyperparams.grid_size(config))


def run_state_bytes(config) -> tuple[int, str]:
  """The bytes of every lane's choice buffer and held-out choices (`lmrl.loop`), and how they
  are counted: `rounds x prompts_per_round` rows of Lx prompt tokens, K x Ly response tokens, a
  ranking of K, M bootstrap weights and a flag, and `num_held_out` held-out choices of K
  responses, a prompt and a choice; 4 bytes each."""
  w, e = config.world, config.experiment
  K = e.responses_per_prompt
  row = w.prompt_length + K * w.response_length + K + config.agent.num_members + 1
  lanes = _lanes(config)
  needed = 4 * lanes * (e.rounds * e.prompts_per_round * row + e.num_held_out * (K + 2))
  return needed, (f'{lanes} lanes x ({e.rounds} rounds x {e.prompts_per_round} prompts x {row} '
                  f'+ {e.num_held_out} held-out x {K + 2}) x 4 bytes')


def agent_parameter_bytes(config) -> tuple[int, str]:
  """A lower bound on the bytes of every lane's agent parameters, and how it is counted: each
  transformer block's attention (4 D^2) and MLP (2 mlp_ratio D^2) weights, of the LM and, in the
  ensemble, of each member's LM and prior (`agent.prior_width`, `agent.prior_depth`); of the
  epinet's two MLPs (trained and prior: hidden x (D + 2 index_dim + hidden) at least); 4 bytes
  each. (The classic agent's reward models have the same networks.)"""
  m, a = config.lm, config.agent

  def block(width: int) -> int:
    return (4 + 2 * m.mlp_ratio) * width * width

  lm = m.depth * block(m.width)
  if a.epistemic == 'ensemble':
    per_lane, what = a.num_members * (lm + a.prior_depth * block(a.prior_width)), (
        f'{a.num_members} members x ({lm} LM + {a.prior_depth * block(a.prior_width)} prior)')
  else:
    epinets = 2 * a.epinet_hidden * (m.width + 2 * a.index_dim + a.epinet_hidden)
    per_lane, what = lm + epinets, f'({lm} LM + {epinets} epinet)'
  lanes = _lanes(config)
  return 4 * lanes * per_lane, f'{lanes} lanes x {what} weights x 4 bytes'


def step_activation_bytes(config) -> tuple[int, str]:
  """A lower bound on the bytes of the largest batch's MLP activations in one step, every lane
  at once, and which batch: the joint update's `finetune.batch_size` choices of K responses and
  `finetune.lm_batch_size` corpus sequences per member, the classic policy's
  `classic.policy_batch_size` samples, pre-training's `pretrain.batch_size` sequences (per
  world), epig's `experiment.epig_samples` targets per member and prompt (without tables, every
  member scores the pool and every member's targets); each sequence
  `1 + Lx + Ly` tokens of `mlp_ratio x width` floats, 4 bytes."""
  w, m, u, e = config.world, config.lm, config.finetune, config.experiment
  members, lanes = config.agent.num_members, _lanes(config)
  sequences = {
      'finetune.batch_size': lanes * members * u.batch_size * e.responses_per_prompt,
      'finetune.lm_batch_size': lanes * members * u.lm_batch_size,
      'classic.policy_batch_size': lanes * config.classic.policy_batch_size,
      'pretrain.batch_size': w.get('num_worlds', 1) * config.pretrain.batch_size,
      # Tables: Y's draws; without: every member scores the pool and every member's draws.
      'experiment.epig_samples': lanes * e.prompts_per_round * members * (
          e.epig_samples if e.epig_tables else members * e.epig_samples + e.pool_size)
                                 * ('epig' in e.strategies),
  }
  field = max(sequences, key=sequences.get)
  per_sequence = (1 + w.prompt_length + w.response_length) * m.mlp_ratio * m.width
  return 4 * sequences[field] * per_sequence, field


def _sizes_fit(config) -> None:
  """The run state, the agents' parameters and one step's activations fit `MAX_STATE_BYTES`,
  `MAX_PARAMETER_BYTES` and `MAX_EXACT_EVAL_BYTES`; the summary's bootstrap resamples fit
  `MAX_STATE_BYTES`."""
  needed, counted = run_state_bytes(config)
  e = config.experiment
  _require(needed <= MAX_STATE_BYTES, 'experiment.rounds',
           f'with experiment.prompts_per_round, experiment.responses_per_prompt, '
           f'experiment.num_held_out and agent.num_members makes every lane\'s choice buffer '
           f'and held-out choices need {_gb(needed)} ({counted}), over the '
           f'{_gb(MAX_STATE_BYTES)} limit (checks.MAX_STATE_BYTES): lower them, or the lanes '
           '(experiment.num_seeds, world.num_worlds, the grid of config.sweep)',
           (e.rounds, e.prompts_per_round, e.num_held_out))
  needed, counted = agent_parameter_bytes(config)
  m, a = config.lm, config.agent
  _require(needed <= MAX_PARAMETER_BYTES, 'lm.depth',
           f'with lm.width, lm.mlp_ratio, agent.num_members, agent.prior_width, '
           f'agent.prior_depth, agent.epinet_hidden and agent.index_dim makes the agents\' '
           f'parameters need at least {_gb(needed)} ({counted}), over the '
           f'{_gb(MAX_PARAMETER_BYTES)} limit (checks.MAX_PARAMETER_BYTES): lower them, or the '
           'lanes (experiment.num_seeds, world.num_worlds, the grid of config.sweep)',
           (m.depth, m.width, a.prior_depth, a.prior_width))
  needed, field = step_activation_bytes(config)
  _require(needed <= MAX_EXACT_EVAL_BYTES, field,
           f'makes one step\'s activations need at least {_gb(needed)} (its sequences x (1 + '
           'world.prompt_length + world.response_length) tokens x lm.mlp_ratio x lm.width x 4 '
           f'bytes, every lane: experiment.num_seeds, world.num_worlds, the grid of config.sweep)'
           f', over the {_gb(MAX_EXACT_EVAL_BYTES)} limit (checks.MAX_EXACT_EVAL_BYTES)',
           hyperparams.config_field(config, field))
  needed = 8 * e.num_bootstrap * e.num_seeds * config.world.get('num_worlds', 1)
  _require(needed <= MAX_STATE_BYTES, 'experiment.num_bootstrap',
           f'makes the summary\'s resampled seeds need {_gb(needed)} (x experiment.num_seeds x '
           f'world.num_worlds x 8 bytes), over the {_gb(MAX_STATE_BYTES)} limit '
           '(checks.MAX_STATE_BYTES)', e.num_bootstrap)


def validate(config) -> None:
  """Every field the exploration experiment uses; raises `ConfigError` on the first bad one."""
  validate_world(config)
  a, e = config.agent, config.experiment
  _require(a.kind in registry.KIND_NAMES, 'agent.kind', f'must be one of {registry.KIND_NAMES}',
           a.kind)
  _require(a.epistemic in epistemic.EPISTEMIC_KINDS, 'agent.epistemic',
           f'must be one of {tuple(epistemic.EPISTEMIC_KINDS)}', a.epistemic)
  _require(a.bootstrap in buffer.BOOTSTRAP_KINDS, 'agent.bootstrap',
           f'must be one of {buffer.BOOTSTRAP_KINDS}', a.bootstrap)
  for field, low in [('agent.num_members', 1), ('agent.prior_width', 1), ('agent.prior_depth', 1),
                     ('agent.index_dim', 1), ('agent.epinet_hidden', 1),
                     ('finetune.batch_size', 1), ('finetune.lm_batch_size', 1),
                     ('finetune.steps_per_round', 1), ('experiment.num_seeds', 1),
                     ('experiment.rounds', 1), ('experiment.prompts_per_round', 1),
                     ('experiment.responses_per_prompt', 2), ('experiment.num_held_out', 1),
                     ('experiment.eval_every', 1), ('experiment.rounds_per_chunk', 1),
                     ('experiment.num_bootstrap', 1)]:
    _int_at_least(config, field, low)
  prior_heads = min(config.lm.num_heads, a.prior_width)
  _require(a.prior_width % prior_heads == 0, 'agent.prior_width',
           f'must be divisible by its attention heads min(lm.num_heads, prior_width) = '
           f'{prior_heads}', a.prior_width)
  _boolean(config, 'agent.center_prior')
  _require(e.info_units in strategies.INFO_UNITS, 'experiment.info_units',
           f'must be one of {strategies.INFO_UNITS}', e.info_units)
  _require(a.deploy in epistemic.DEPLOY_KINDS, 'agent.deploy',
           f'must be one of {epistemic.DEPLOY_KINDS}', a.deploy)
  _non_negative(config, 'finetune.shown_mass_weight')
  _non_negative(config, 'finetune.ema_decay')
  _require(config.finetune.ema_decay < 1, 'finetune.ema_decay',
           'must be below 1 (1 would never move the average from the pre-trained LM)',
           config.finetune.ema_decay)
  _require(config.finetune.ema_decay == 0 or a.kind == 'joint', 'finetune.ema_decay',
           "averages the joint agent's parameters: agent.kind must be 'joint'",
           config.finetune.ema_decay)
  _require(config.finetune.lm_loss_tokens in update.LM_LOSS_TOKENS, 'finetune.lm_loss_tokens',
           f'must be one of {update.LM_LOSS_TOKENS}', config.finetune.lm_loss_tokens)
  _require(config.finetune.rows in buffer.REPLAY, 'finetune.rows',
           f'must be one of {buffer.REPLAY}', config.finetune.rows)
  _require(config.finetune.stop in update.STOP_RULES, 'finetune.stop',
           f'must be one of {update.STOP_RULES}', config.finetune.stop)
  _require(config.finetune.stop == 'none' or config.finetune.rows == 'all', 'finetune.stop',
           "holds rankings out of the exact full-buffer step: needs "
           f"finetune.rows='all' (finetune.rows is {config.finetune.rows!r})", config.finetune.stop)
  _int_at_least(config, 'finetune.stop_every', 2)
  if config.finetune.stop != 'none':
    _require(a.kind == 'joint', 'finetune.stop',
             "stops the joint agent's steps: agent.kind must be 'joint'", config.finetune.stop)
    _require(a.epistemic == 'ensemble', 'finetune.stop',
             "needs agent.epistemic='ensemble' (an epinet's held-out loss moves with the "
             "indices it draws each step)", config.finetune.stop)
    _require(config.finetune.ema_decay == 0, 'finetune.stop',
             'judges the parameters, not their average: needs finetune.ema_decay = 0',
             config.finetune.stop)
    _require(config.finetune.stop != 'every_k'
             or config.finetune.stop_every <= e.rounds * e.prompts_per_round,
             'finetune.stop_every', 'must be at most the run\'s rankings (experiment.rounds x '
             f'experiment.prompts_per_round = {e.rounds * e.prompts_per_round}) with '
             "finetune.stop='every_k': else nothing is held out", config.finetune.stop_every)
  _require(config.classic.reward_rows in buffer.SAMPLED_REPLAY, 'classic.reward_rows',
           f'must be one of {buffer.SAMPLED_REPLAY}', config.classic.reward_rows)
  _validate_traced(config)
  _require(len(tuple(e.strategies)) >= 1, 'experiment.strategies', 'must name >= 1 strategy',
           e.strategies)
  for name in e.strategies:
    _require(isinstance(name, str) and name in strategies.STRATEGIES, 'experiment.strategies',
             f'must hold only known strategies {tuple(strategies.STRATEGIES)}', name)
  _require(len(set(e.strategies)) == len(tuple(e.strategies)), 'experiment.strategies',
           'must not name a strategy twice', e.strategies)
  _int_at_least(config, 'experiment.pool_size', 2)
  _require(e.pool_size >= e.responses_per_prompt, 'experiment.pool_size',
           'must be >= experiment.responses_per_prompt (K)', e.pool_size)
  _require(e.epig_tuples in epig.TUPLE_SEARCHES, 'experiment.epig_tuples',
           f'must be one of {epig.TUPLE_SEARCHES}', e.epig_tuples)
  _require(e.epig_batch in epig.BATCHES, 'experiment.epig_batch',
           f'must be one of {epig.BATCHES}', e.epig_batch)
  # Infomax scores every K-tuple of its pool, epig_random draws one and epig (unless it grows
  # its tuples greedily) scores them all: each enumerates C(pool_size, K) tuples per prompt.
  enumerating = {'infomax', 'epig_random'} | ({'epig'} if e.epig_tuples == 'all' else set())
  if enumerating & set(e.strategies):
    _require(_comb_within(e.pool_size, e.responses_per_prompt, 20_000), 'experiment.pool_size',
             'gives more than 20000 K-tuples (experiment.responses_per_prompt of them) to score '
             'per prompt', e.pool_size)
  _require(e.epig_target in epig.TARGETS, 'experiment.epig_target',
           f'must be one of {epig.TARGETS}', e.epig_target)
  _int_at_least(config, 'experiment.epig_samples', 0)
  _int_at_least(config, 'experiment.epig_top', 0)
  _require(isinstance(e.epig_tables, bool), 'experiment.epig_tables', 'must be True or False',
           e.epig_tables)
  if not e.epig_tables and set(strategies.TABLE_STRATEGIES) & set(e.strategies):
    _require('classic' not in registry.agent_kinds(config), 'experiment.epig_tables',
             "False needs the joint agent's members (the classic agent's are normalised over "
             'every response: its tables)', e.epig_tables)
    if 'epig' in e.strategies:
      _require(e.epig_target == 'prompt', 'experiment.epig_tables',
               "False draws Y from the query's prompt only: needs epig_target='prompt'",
               e.epig_tables)
      _require(e.epig_samples >= 1, 'experiment.epig_tables',
               'False needs experiment.epig_samples >= 1 (the draws of Y per member)',
               e.epig_tables)
    _require(e.epig_top <= 1, 'experiment.epig_tables',
             "False gives each member one top candidate (its greedy response): needs "
             'experiment.epig_top 0 or 1', e.epig_tables)
  if 'epig' in e.strategies:
    K, full_ranking = e.responses_per_prompt, config.world.full_ranking
    outcomes = (epig.num_outcomes(K, full_ranking) if K <= 12 or not full_ranking
                else MAX_EPIG_COLUMNS + 1)  # 13! is over the limit: no huge K! is computed.
    # The most (tuple, outcome) pairs one scoring holds: every K-tuple, or a greedy search's
    # last slot (C tuples of K) or first (every pair, 2 outcomes).
    columns = (math.comb(e.pool_size, K) * outcomes if e.epig_tuples == 'all'
               else max(e.pool_size * outcomes, math.comb(e.pool_size, 2) * 2))
    _require(columns <= MAX_EPIG_COLUMNS, 'experiment.pool_size',
             f'gives epig more than {MAX_EPIG_COLUMNS} (K-tuple, outcome) pairs to score per '
             "prompt (fewer candidates, a smaller K, epig_tuples='greedy' or "
             'world.full_ranking=False)', e.pool_size)
  _int_at_least(config, 'experiment.refit_steps', 1)
  _int_at_least(config, 'experiment.refit_holdout_every', 0)
  _require(e.refit_holdout_every != 1, 'experiment.refit_holdout_every',
           'holds every row out at 1 (0: no held-out rows, k >= 2: every k-th)', 1)
  _int_at_least(config, 'experiment.refit_check_every', 1)
  _require(e.refit_check_every <= e.refit_steps, 'experiment.refit_check_every',
           f'must be at most experiment.refit_steps ({e.refit_steps})', e.refit_check_every)
  for r in tuple(e.refit_rounds):
    _require(isinstance(r, int) and not isinstance(r, bool) and r > 0 and loop.is_evaluated_round(config, r),
             'experiment.refit_rounds', 'must hold evaluated rounds after round 0 (0, every '
             'eval_every-th, the last)', tuple(e.refit_rounds))
  _require(not tuple(e.refit_rounds) or a.kind == 'joint', 'experiment.refit_rounds',
           "refits the joint agent: agent.kind must be 'joint'", tuple(e.refit_rounds))
  _require(e.rounds % e.rounds_per_chunk == 0, 'experiment.rounds_per_chunk',
           f'must divide experiment.rounds ({e.rounds})', e.rounds_per_chunk)
  for field in ('classic.policy_steps_per_round', 'classic.policy_batch_size'):
    _int_at_least(config, field, 1)
  for field in ('experiment.shard_seeds', 'experiment.distributed'):
    _boolean(config, field)
  _int_at_least(config, 'experiment.heartbeat_seconds', 1)
  _sizes_fit(config)
  if e.shard_seeds and not e.distributed:  # Local devices only: this compiles nothing.
    import jax  # pylint: disable=g-import-not-at-top
    lanes = _lanes(config)
    _require(lanes % jax.device_count() == 0, 'experiment.num_seeds',
             f'times world.num_worlds and the sweep\'s grid points must be a multiple of the '
             f'{jax.device_count()} '
             'devices when shard_seeds is set', e.num_seeds)
  if not e.distributed:  # (A distributed run's lanes per device are known once it joins.)
    _exact_evaluation_within(config, MAX_EXACT_EVAL_BYTES,
                             'limit (checks.MAX_EXACT_EVAL_BYTES, about one large GPU)')
