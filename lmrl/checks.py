"""Config validation: bad values fail before anything compiles, with one line naming the field.

Each check raises `ConfigError('config.<section>.<field> <what is allowed>, got <value>')`; the
binaries print it as one line and exit non-zero. (Unknown fields and values of the wrong type in
`--config.x=` overrides are refused earlier, by `ml_collections` while flags are parsed.)
"""

import math
import sys

from lmrl import buffer
from lmrl import epistemic
from lmrl import hyperparams
from lmrl import strategies
from lmrl import update

MAX_RESPONSES = 65_536  # V**Ly above this cannot be enumerated exactly at every evaluation.
MAX_PROMPTS = 4_096  # V**Lx above this makes the world's tables too large.
AGENT_KINDS = ('joint', 'classic', 'both')  # 'both': joint and classic side by side.


class UserError(Exception):
  """A fault the user can act on; its message is one line (the binaries print it and exit 1)."""


class ConfigError(UserError, ValueError):
  """A config field holds a bad value; the message is one line that names the field."""


def _require(ok: bool, field: str, message: str, value) -> None:
  if not ok:
    raise ConfigError(f'config.{field} {message}, got {value!r}')


def _value(config, field: str):
  """`config.<field>` for a dotted field name ('seed', 'world.vocab_size')."""
  for name in field.split('.'):
    config = config[name]
  return config


def _int_at_least(config, field: str, low: int) -> None:
  value = _value(config, field)
  _require(isinstance(value, int) and not isinstance(value, bool) and value >= low, field,
           f'must be an integer >= {low}', value)


def _boolean(config, field: str) -> None:
  value = _value(config, field)
  _require(isinstance(value, bool), field, 'must be True or False', value)


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive(config, field: str) -> None:
  value = _value(config, field)
  _require(_is_number(value) and value > 0 and math.isfinite(value), field,
           'must be a positive number', value)


def _non_negative(config, field: str) -> None:
  value = _value(config, field)
  _require(_is_number(value) and value >= 0 and math.isfinite(value), field,
           'must be a non-negative number', value)


def _distribution(config, field: str, length: int | None = None) -> None:
  weights = tuple(_value(config, field))
  _require(all(isinstance(w, (int, float)) and w >= 0 for w in weights), field,
           'must hold non-negative weights', weights)
  _require(abs(sum(weights) - 1.0) < 1e-6, field, 'must sum to 1', weights)
  if length is not None:
    _require(len(weights) == length, field,
             f'must have one weight per group ({length}, as world.group_weights)', weights)


def validate_world(config) -> None:
  """The world and pre-training fields."""
  for field, low in [('seed', 0), ('world.seed', 0), ('world.vocab_size', 2),
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
  _require(0 < w.favourite_mass <= 1, 'world.favourite_mass', 'must be in (0, 1]',
           w.favourite_mass)
  _require(w.num_eval_prompts <= w.vocab_size ** w.prompt_length, 'world.num_eval_prompts',
           'must not exceed the number of prompts vocab_size**prompt_length', w.num_eval_prompts)
  _require(config.lm.width % config.lm.num_heads == 0, 'lm.num_heads', 'must divide lm.width',
           config.lm.num_heads)
  _positive(config, 'pretrain.learning_rate')
  for field in ('world.iia', 'world.full_ranking'):
    _boolean(config, field)


# The traced hyper-parameters' rules, for their config fields and for the values `config.sweep`
# lists for them (`lmrl.hyperparams`).
_TRACED_RULES = {'learning_rate': _positive, 'lambda_lm': _non_negative,
                 'lambda_l2': _non_negative, 'l2_prior_choices': _non_negative,
                 'prior_scale': _non_negative, 'temperature': _positive,
                 'pool_temperature': _positive, 'info_temperature': _non_negative}


def _validate_traced(config) -> None:
  for name, field in hyperparams.SWEEPABLE.items():
    _TRACED_RULES[name](config, field)
  for name, values in hyperparams.swept_values(config).items():
    for value in values:
      _TRACED_RULES[name]({'sweep': {name: value}}, f'sweep.{name}')
    _require(len(set(values)) == len(values), f'sweep.{name}', 'must not repeat a value', values)


def validate(config) -> None:
  """Every field the exploration experiment uses; raises `ConfigError` on the first bad one."""
  validate_world(config)
  a, e = config.agent, config.experiment
  _require(a.kind in AGENT_KINDS, 'agent.kind', f'must be one of {AGENT_KINDS}', a.kind)
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
  _require(config.finetune.lm_loss_tokens in update.LM_LOSS_TOKENS, 'finetune.lm_loss_tokens',
           f'must be one of {update.LM_LOSS_TOKENS}', config.finetune.lm_loss_tokens)
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
  _require(e.rounds % e.rounds_per_chunk == 0, 'experiment.rounds_per_chunk',
           f'must divide experiment.rounds ({e.rounds})', e.rounds_per_chunk)
  for field in ('classic.policy_steps_per_round', 'classic.policy_batch_size'):
    _int_at_least(config, field, 1)
  _positive(config, 'classic.policy_learning_rate')
  _non_negative(config, 'classic.entropy_weight')
  for field in ('experiment.shard_seeds', 'experiment.distributed'):
    _boolean(config, field)
  if e.shard_seeds and not e.distributed:  # Local devices only: this compiles nothing.
    import jax  # pylint: disable=g-import-not-at-top
    lanes = e.num_seeds * hyperparams.grid(config).size
    _require(lanes % jax.device_count() == 0, 'experiment.num_seeds',
             f'times the sweep\'s grid points must be a multiple of the {jax.device_count()} '
             'devices when shard_seeds is set', e.num_seeds)


def agent_kinds(config) -> tuple[str, ...]:
  """The agent kinds a run sweeps: `config.agent.kind`, with 'both' as ('joint', 'classic')."""
  return ('joint', 'classic') if config.agent.kind == 'both' else (config.agent.kind,)


def _exit_with_one_line(error: Exception) -> None:
  message = ' '.join(str(error).replace('\\n', ' ').split())
  if isinstance(error, (AttributeError, KeyError)):
    message = f'a --config override names no such config field: {message}'
  sys.exit(f'error: {message}')


_FLAG_ERRORS = (AttributeError, KeyError, OSError, TypeError, ValueError)


def _normalise_argv(argv: list[str]) -> list[str]:
  """`--config=NAME` as its file, and each `--config.x=` override given once: the last wins.

  (`config_flags` parses a tuple field's repeated override by concatenating the values; every
  other absl flag takes the last value, and so do these.)
  """
  argv = [f'--config={_config_path(a[len("--config="):])}' if a.startswith('--config=') else a
          for a in argv]
  last = {a.split('=', 1)[0]: i for i, a in enumerate(argv)
          if a.startswith('--config.') and '=' in a}
  return [a for i, a in enumerate(argv)
          if not (a.startswith('--config.') and '=' in a) or last[a.split('=', 1)[0]] == i]


def _config_path(value: str) -> str:
  """A config name of `lmrl.configs` ('tiny') as its file; a path is returned as it is."""
  from lmrl import configs  # pylint: disable=g-import-not-at-top
  return configs.path(value) if value in configs.NAMES else value


def define_config_flag(default: str = 'default',
                       help_text: str = 'Experiment config: a name (default, tiny, paper) or a '
                                        'config file; override fields with --config.x.y=value.'):
  """`config_flags.DEFINE_config_file('config', default)` for the binaries.

  `--config=NAME` names a config of `lmrl.configs` (`sys.argv` is rewritten to its file before
  the flag is defined, since `config_flags` reads it then), and a repeated `--config.x=`
  override keeps its last value, as every absl flag does. Without `--config` the default is
  loaded, and its `--config.x=` overrides applied, as the flag is defined (at import): a bad
  override exits there with one line.
  """
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  sys.argv = _normalise_argv(sys.argv)
  try:
    return config_flags.DEFINE_config_file('config', _config_path(default), help_text)
  except _FLAG_ERRORS as error:
    _exit_with_one_line(error)


def parse_flags(argv: list[str]) -> list[str]:
  """The binaries' absl flag parser (`app.run(main, flags_parser=checks.parse_flags)`).

  A bad flag, an unknown or ill-typed `--config.x=` override, or a config file that does not
  load exits with one line `error: ...` and status 1, instead of absl's or ml_collections'
  traceback; nothing has been written or compiled by then.
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  argv = _normalise_argv(argv)
  try:
    remaining = flags.FLAGS(argv)
    if 'config' in flags.FLAGS:
      flags.FLAGS.config.keys()  # A config file that failed to load raises here, not later.
  except (flags.Error, *_FLAG_ERRORS) as error:
    _exit_with_one_line(error)
  return remaining
