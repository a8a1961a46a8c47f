"""Config validation: bad values fail before anything compiles, with one line naming the field.

Each check raises `ConfigError('config.<section>.<field> <what is allowed>, got <value>')`; the
binaries print it as one line and exit non-zero. (Unknown fields and values of the wrong type in
`--config.x=` overrides are refused earlier, by `ml_collections` while `lmrl.flags` parses them.)
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
# Peak memory of an exact evaluation over the bytes of its members' MLP activations (4.3 for the
# ensemble, 5.4 for one LM, 6.9 for the epinet, measured on CPU at V=8, Lx=2, Ly=4).
EXACT_EVAL_OVERHEAD = 4
MAX_EXACT_EVAL_BYTES = 2 ** 37  # One exact evaluation, every lane at once: 128 GiB (one H200).


def _require(ok: bool, field: str, message: str, value) -> None:
  if not ok:
    raise errors.ConfigError(f'config.{field} {message}, got {value!r}')


def _int_at_least(config, field: str, low: int) -> None:
  value = hyperparams.config_field(config, field)
  _require(isinstance(value, int) and not isinstance(value, bool) and value >= low, field,
           f'must be an integer >= {low}', value)


def _boolean(config, field: str) -> None:
  value = hyperparams.config_field(config, field)
  _require(isinstance(value, bool), field, 'must be True or False', value)


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive(config, field: str) -> None:
  value = hyperparams.config_field(config, field)
  _require(_is_number(value) and value > 0 and math.isfinite(value), field,
           'must be a positive number', value)


def _non_negative(config, field: str) -> None:
  value = hyperparams.config_field(config, field)
  _require(_is_number(value) and value >= 0 and math.isfinite(value), field,
           'must be a non-negative number', value)


def _distribution(config, field: str, length: int | None = None) -> None:
  weights = tuple(hyperparams.config_field(config, field))
  _require(all(isinstance(w, (int, float)) and w >= 0 for w in weights), field,
           'must hold non-negative weights', weights)
  _require(abs(sum(weights) - 1.0) < 1e-6, field, 'must sum to 1', weights)
  if length is not None:
    _require(len(weights) == length, field,
             f'must have one weight per group ({length}, as world.group_weights)', weights)


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


def exact_evaluation_bytes(config) -> tuple[int, str]:
  """An estimate of the peak memory of one exact evaluation (`lm.exact_log_probs` over the
  evaluation prompts for every lane at once, vmapped) and how it is counted.

  The evaluation runs every lane's members on the `P_eval x V**(Ly-1)` response prefixes of
  length `L = 1 + Lx + Ly`; its largest buffers are the MLP activations, `mlp_ratio x width`
  floats per token, per member (the ensemble's `num_members`; the epinet evaluates its base
  once) and per lane on this device; the peak is `EXACT_EVAL_OVERHEAD` times those.
  """
  w, e, m = config.world, config.experiment, config.lm
  prompts = w.num_eval_prompts or w.vocab_size ** w.prompt_length
  sequences = prompts * w.vocab_size ** (w.response_length - 1)
  length = 1 + w.prompt_length + w.response_length
  members = config.agent.num_members if config.agent.epistemic == 'ensemble' else 1
  lanes = e.num_seeds * w.get('num_worlds', 1) * hyperparams.grid(config).size
  if e.shard_seeds and not e.distributed:  # (Local devices only: this compiles nothing.)
    import jax  # pylint: disable=g-import-not-at-top
    lanes = -(-lanes // jax.device_count())
  needed = (EXACT_EVAL_OVERHEAD * 4 * lanes * members * sequences * length * m.mlp_ratio
            * m.width)
  return needed, (f'{lanes} lanes x {members} members x {prompts} prompts x '
                  f'{sequences // prompts} response prefixes x {length} tokens x '
                  f'{m.mlp_ratio * m.width} MLP units x 4 bytes x {EXACT_EVAL_OVERHEAD}')


def _exact_evaluation_within(config, limit: int, what: str) -> None:
  needed, counted = exact_evaluation_bytes(config)
  _require(needed <= limit, 'world.num_eval_prompts',
           f'makes one exact evaluation need about {_gb(needed)} ({counted}), more than the '
           f'{_gb(limit)} {what}: evaluate on fewer prompts (world.num_eval_prompts), or lower '
           'experiment.num_seeds, world.num_worlds or the sweep\'s grid',
           config.world.num_eval_prompts)


def validate_memory(config) -> None:
  """One exact evaluation fits this machine: the first device's memory where JAX reports it,
  else the host's RAM (a check of the machine, not of the config: `validate` checks the fixed
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
  _require(w.vocab_size ** w.response_length <= MAX_RESPONSES, 'world.response_length',
           f'makes vocab_size**response_length exceed {MAX_RESPONSES} responses to enumerate',
           (w.vocab_size, w.response_length))
  _require(w.vocab_size ** w.prompt_length <= MAX_PROMPTS, 'world.prompt_length',
           f'makes vocab_size**prompt_length exceed {MAX_PROMPTS} prompts',
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
  _require(0 < w.favourite_mass <= 1, 'world.favourite_mass', 'must be in (0, 1]',
           w.favourite_mass)
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
  _require(config.finetune.lm_loss_tokens in update.LM_LOSS_TOKENS, 'finetune.lm_loss_tokens',
           f'must be one of {update.LM_LOSS_TOKENS}', config.finetune.lm_loss_tokens)
  _require(config.finetune.rows in buffer.REPLAY, 'finetune.rows',
           f'must be one of {buffer.REPLAY}', config.finetune.rows)
  _require(config.finetune.rows != 'all' or a.kind == 'joint', 'finetune.rows',
           "'all' (the exact full-buffer gradient) is the joint agent's: agent.kind must be "
           "'joint'", config.finetune.rows)
  _validate_traced(config)
  _require(len(tuple(e.strategies)) >= 1, 'experiment.strategies', 'must name >= 1 strategy',
           e.strategies)
  for name in e.strategies:
    _require(name in strategies.STRATEGIES, 'experiment.strategies',
             f'must hold only known strategies {tuple(strategies.STRATEGIES)}', name)
  _require(len(set(e.strategies)) == len(tuple(e.strategies)), 'experiment.strategies',
           'must not name a strategy twice', e.strategies)
  _int_at_least(config, 'experiment.pool_size', 2)
  _require(e.pool_size >= e.responses_per_prompt, 'experiment.pool_size',
           'must be >= experiment.responses_per_prompt (K)', e.pool_size)
  _require(math.comb(e.pool_size, e.responses_per_prompt) <= 20_000, 'experiment.pool_size',
           'gives more than 20000 K-tuples to score per prompt', e.pool_size)
  _require(e.epig_target in epig.TARGETS, 'experiment.epig_target',
           f'must be one of {epig.TARGETS}', e.epig_target)
  _int_at_least(config, 'experiment.epig_samples', 0)
  _int_at_least(config, 'experiment.epig_top', 0)
  if 'epig' in e.strategies:
    columns = math.comb(e.pool_size, e.responses_per_prompt) * epig.num_outcomes(
        e.responses_per_prompt, config.world.full_ranking)
    _require(columns <= MAX_EPIG_COLUMNS, 'experiment.pool_size',
             f'gives epig more than {MAX_EPIG_COLUMNS} (K-tuple, outcome) pairs to score per '
             'prompt (fewer candidates, a smaller K, or world.full_ranking=False)', e.pool_size)
  _int_at_least(config, 'experiment.refit_steps', 1)
  schedule = set(loop.evaluated_rounds(config))
  for r in tuple(e.refit_rounds):
    _require(isinstance(r, int) and not isinstance(r, bool) and r in schedule and r > 0,
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
  if e.shard_seeds and not e.distributed:  # Local devices only: this compiles nothing.
    import jax  # pylint: disable=g-import-not-at-top
    lanes = e.num_seeds * config.world.num_worlds * hyperparams.grid(config).size
    _require(lanes % jax.device_count() == 0, 'experiment.num_seeds',
             f'times world.num_worlds and the sweep\'s grid points must be a multiple of the '
             f'{jax.device_count()} '
             'devices when shard_seeds is set', e.num_seeds)
  if not e.distributed:  # (A distributed run's lanes per device are known once it joins.)
    _exact_evaluation_within(config, MAX_EXACT_EVAL_BYTES,
                             'limit (checks.MAX_EXACT_EVAL_BYTES, about one large GPU)')
