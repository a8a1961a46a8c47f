"""Config validation (`lmrl.checks`): a bad value stops `lmrl.run` with one line naming the field,
before anything is compiled or written. (How a binary prints it is tests/test_binaries.py's; bad
`--config.x=` flags are tests/test_flags.py's; the classic agent's fields, the sweep's values and
the agent kinds are checked in tests/test_classic.py, test_hyperparams.py and test_registry.py.)
"""

import jax
import pytest

import lmrl
from lmrl import checks
from lmrl import errors
from lmrl import loop
from lmrl.configs import default
from lmrl.configs import tiny

_COMPILE_EVENTS = []  # Every XLA compilation of this process (jax.monitoring).
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kwargs: _COMPILE_EVENTS.append(event)
    if event.startswith('/jax/core/compile/') else None)


def _tiny_config(**overrides):
  """The tiny config; `section__field=value` overrides a field of a section, `field=value` a
  top-level one."""
  config = tiny.get_config()
  for name, value in overrides.items():
    section, field = name.split('__') if '__' in name else (None, name)
    setattr(config[section] if section else config, field, value)
  return config


def test_the_library_configs_pass_the_checks():
  """default and tiny (each study's config is tests/test_study.py's)."""
  checks.validate(default.get_config())
  checks.validate(tiny.get_config())


# 16**3 = 4,096 prompts x 16**4 = 65,536 responses (each within its own limit): 3.76 GB of tables.
TOO_LARGE_WORLD = {'world__vocab_size': 16, 'world__prompt_length': 3, 'world__response_length': 4}
# 16 prompts x 65,536 responses: small tables, but a million lanes' exact evaluation fits nowhere.
TOO_LARGE_EVALUATION = {'world__vocab_size': 16, 'world__response_length': 4,
                        'experiment__num_seeds': 10 ** 6}


@pytest.mark.parametrize('override, field', [
    ({'seed': -1}, 'seed'),
    ({'world__seed': -3}, 'world.seed'),
    ({'world__vocab_size': 1}, 'world.vocab_size'),
    ({'world__vocab_size': 400}, 'world.response_length'),
    ({'world__prompt_length': 0}, 'world.prompt_length'),
    ({'world__group_weights': (0.5, 0.6)}, 'world.group_weights'),
    ({'world__group_weights': (1.2, -0.2)}, 'world.group_weights'),
    ({'world__corpus_group_mix': (1.0,)}, 'world.corpus_group_mix'),
    ({'world__teacher_temperature': 0.0}, 'world.teacher_temperature'),
    ({'world__favourite_mass': 1.5}, 'world.favourite_mass'),
    ({'world__num_eval_prompts': 99}, 'world.num_eval_prompts'),
    ({'world__kind': 'graph'}, 'world.kind'),
    ({'world__taste_scale': -1.0}, 'world.taste_scale'),
    ({'world__minority_opposition': 1.5}, 'world.minority_opposition'),
    (TOO_LARGE_WORLD, 'world.response_length'),
    (TOO_LARGE_EVALUATION, 'world.num_eval_prompts'),
    ({'lm__num_heads': 3}, 'lm.num_heads'),
    ({'pretrain__steps': 0}, 'pretrain.steps'),
    ({'pretrain__learning_rate': float('nan')}, 'pretrain.learning_rate'),
    ({'agent__kind': 'ppo'}, 'agent.kind'),
    ({'agent__epistemic': 'dropout'}, 'agent.epistemic'),
    ({'agent__bootstrap': 'bayes'}, 'agent.bootstrap'),
    ({'agent__deploy': 'median'}, 'agent.deploy'),
    ({'experiment__info_units': 'bits'}, 'experiment.info_units'),
    ({'agent__num_members': 0}, 'agent.num_members'),
    ({'agent__prior_scale': -1.0}, 'agent.prior_scale'),
    ({'agent__prior_width': 6, 'lm__num_heads': 4}, 'agent.prior_width'),
    ({'finetune__learning_rate': -1.0}, 'finetune.learning_rate'),
    ({'finetune__lambda_lm': float('inf')}, 'finetune.lambda_lm'),
    ({'finetune__steps_per_round': 0}, 'finetune.steps_per_round'),
    ({'finetune__stop': 'loss'}, 'finetune.stop'),
    ({'finetune__stop': 'newest', 'finetune__rows': 'uniform'}, 'finetune.stop'),
    ({'finetune__stop_every': 1}, 'finetune.stop_every'),
    ({'finetune__stop': 'every_k', 'finetune__stop_every': 10 ** 6}, 'finetune.stop_every'),
    ({'finetune__stop': 'newest', 'agent__kind': 'both'}, 'finetune.stop'),
    ({'finetune__stop': 'newest', 'agent__epistemic': 'epinet'}, 'finetune.stop'),
    ({'finetune__stop': 'every_k', 'finetune__ema_decay': 0.9}, 'finetune.stop'),
    ({'classic__entropy_weight': -0.5}, 'classic.entropy_weight'),
    ({'experiment__responses_per_prompt': 1}, 'experiment.responses_per_prompt'),
    ({'experiment__strategies': ('nope',)}, 'experiment.strategies'),
    ({'experiment__strategies': ()}, 'experiment.strategies'),
    ({'experiment__strategies': ('passive', 'passive')}, 'experiment.strategies'),
    ({'experiment__pool_size': 1}, 'experiment.pool_size'),
    ({'experiment__pool_size': 300}, 'experiment.pool_size'),
    ({'experiment__rounds_per_chunk': 3}, 'experiment.rounds_per_chunk'),
    ({'experiment__temperature': 0.0}, 'experiment.temperature'),
    ({'experiment__num_seeds': 0}, 'experiment.num_seeds'),
    ({'sweep__learning_rate': (1e-3, -1.0)}, 'sweep.learning_rate'),
    ({'sweep__lambda_lm': (0.0, 0.0)}, 'sweep.lambda_lm'),
    # Found by tests/test_bad_input.py: values past int32 or float32, and sizes so large that
    # the checks themselves used to hang (a huge power, binomial, factorial or list) or a run
    # would fail late (out of memory, a seed silently wrapped).
    ({'seed': 2 ** 32}, 'seed'),  # jax.random.key(2**32) is key(0).
    ({'world__seed': 2 ** 31 - 1, 'world__num_worlds': 2}, 'world.num_worlds'),
    ({'world__response_length': 10 ** 9}, 'world.response_length'),  # 3**(10**9): not computed.
    ({'finetune__learning_rate': 1e39}, 'finetune.learning_rate'),  # inf in float32.
    ({'world__teacher_temperature': 1e-300}, 'world.teacher_temperature'),  # 0 in float32.
    ({'experiment__info_temperature': 1e-45}, 'experiment.info_temperature'),
    ({'world__group_weights': (10 ** 400, 0)}, 'world.group_weights'),  # Was an OverflowError.
    ({'sweep__learning_rate': (10 ** 400,)}, 'sweep.learning_rate'),
    ({'experiment__strategies': (['passive'],)}, 'experiment.strategies'),  # Was a TypeError.
    ({'experiment__pool_size': 2 ** 30, 'experiment__responses_per_prompt': 2 ** 29},
     'experiment.pool_size'),
    ({'experiment__strategies': ('epig',), 'experiment__pool_size': 10 ** 6,
      'experiment__responses_per_prompt': 10 ** 6}, 'experiment.pool_size'),  # 10**6! outcomes.
    ({'experiment__rounds': 2 ** 31 - 1, 'experiment__rounds_per_chunk': 1,
      'experiment__eval_every': 1, 'experiment__refit_rounds': (2,)}, 'experiment.rounds'),
    ({'experiment__num_held_out': 2 ** 31 - 1, 'experiment__num_seeds': 64},
     'experiment.rounds'),  # The run state's size is said of experiment.rounds and names it.
    ({'lm__depth': 10 ** 7}, 'lm.depth'),
    ({'agent__epistemic': 'epinet', 'agent__epinet_hidden': 2 ** 20}, 'lm.depth'),
    ({'finetune__batch_size': 10 ** 8}, 'finetune.batch_size'),
    ({'pretrain__batch_size': 2 ** 31 - 1}, 'pretrain.batch_size'),
    ({'experiment__num_bootstrap': 2 ** 31 - 1, 'experiment__num_seeds': 64},
     'experiment.num_bootstrap'),
    ({f'sweep__{name}': tuple(range(1, 101)) for name in ('learning_rate', 'lambda_lm',
                                                          'lambda_l2', 'temperature',
                                                          'prior_scale')},
     'experiment.rounds'),  # A grid of 10**10 points: counted, not listed.
])
def test_bad_config_fails_before_compiling_with_one_line(tmp_path, override, field):
  workdir = tmp_path / 'run'
  compiled = len(_COMPILE_EVENTS)
  with pytest.raises(errors.ConfigError) as error:
    lmrl.run(_tiny_config(**override), str(workdir), log=lambda line: None)
  message = str(error.value)
  assert message.startswith(f'config.{field} '), message
  assert ', got ' in message and '\n' not in message
  assert len(_COMPILE_EVENTS) == compiled  # Nothing was compiled...
  assert not workdir.exists()  # ...and nothing written.


def test_evaluated_rounds_are_found_without_listing_them():
  """`loop.is_evaluated_round` (the checks' test of experiment.refit_rounds, up to MAX_INT
  rounds) agrees with `loop.evaluated_rounds`."""
  for rounds, eval_every in [(40, 5), (7, 3), (1, 1), (10, 20), (12, 4)]:
    config = _tiny_config(experiment__rounds=rounds, experiment__eval_every=eval_every)
    listed = set(loop.evaluated_rounds(config))
    found = {r for r in range(-2, rounds + 3) if loop.is_evaluated_round(config, r)}
    assert found == listed, (rounds, eval_every)


def test_a_world_too_large_is_refused_with_the_size_it_would_need():
  with pytest.raises(errors.ConfigError) as error:
    checks.validate(_tiny_config(**TOO_LARGE_WORLD))
  message = str(error.value)
  assert 'need 3.76 GB (W=1 worlds x G=2 groups x P=4096 prompts x N=65536 responses' in message
  assert f'over the {checks.MAX_WORLD_BYTES / 1e9:.2f} GB limit' in message
  for field in ('world.vocab_size', 'world.prompt_length', 'world.num_worlds'):
    assert field in message
  with pytest.raises(errors.ConfigError) as error:
    checks.validate(_tiny_config(**TOO_LARGE_EVALUATION))
  message = str(error.value)
  needed, counted = checks.exact_evaluation_bytes(_tiny_config(**TOO_LARGE_EVALUATION))
  assert counted == ('1000000 lanes x 3 members x 16 prompts x 4096 response prefixes x 6 tokens '
                     f'x 64 MLP units x 4 bytes x {checks.EXACT_EVAL_OVERHEAD}')
  assert (f'need about {needed / 1e9:.2f} GB ({counted}), more than the '
          f'{checks.MAX_EXACT_EVAL_BYTES / 1e9:.2f} GB limit') in message


def _structured(**overrides):
  """The issue's structured world: 64 prompts x 4,096 responses, a 10% minority, sampled batches
  (as the family's configs: the full-buffer step would not fit)."""
  overrides = {'finetune__rows': 'uniform', **overrides}
  return _tiny_config(world__kind='structured', world__vocab_size=8, world__prompt_length=2,
                      world__response_length=4, world__group_weights=(0.9, 0.1), **overrides)


def test_an_exact_evaluation_too_large_for_this_machine_is_refused(monkeypatch):
  """`validate_memory` holds the estimate against this machine's memory (here a stand-in 8 GB):
  16 lanes of 8 members on every prompt need ~105 GB; on 8 prompts, one lane, it fits."""
  checks.validate_memory(tiny.get_config())  # Any machine.
  monkeypatch.setattr(checks, '_memory_bytes', lambda: (8 * 10 ** 9, 'cpu test memory'))
  config = _structured(experiment__num_seeds=16, agent__num_members=8, lm__width=32,
                       lm__depth=2)
  checks.validate(config)  # Within the fixed limit...
  with pytest.raises(errors.ConfigError) as error:
    checks.validate_memory(config)  # ...not within this machine's.
  message = str(error.value)
  assert message.startswith('config.world.num_eval_prompts makes one exact evaluation need about '
                            '105.23 GB (16 lanes x 8 members x 64 prompts x 512 response prefixes')
  assert 'more than the 8.00 GB of cpu test memory' in message and '\n' not in message
  for fits in (_structured(experiment__num_seeds=16, world__num_eval_prompts=8),
               _structured(experiment__num_seeds=1)):
    checks.validate(fits)
    checks.validate_memory(fits)


def test_epigs_member_tables_are_counted_a_pass_at_a_time(monkeypatch):
  """Epig's tables run `strategies.table_prompts_per_pass` prompts at a time (2 of the structured
  family's 64): the family's headline (16 lanes, 8 members) needs ~3.3 GB a pass, and a machine
  with less refuses it in one line naming the strategies, before anything compiles."""
  config = _structured(experiment__num_seeds=16, agent__num_members=8, lm__width=32, lm__depth=2,
                       world__num_eval_prompts=1, experiment__strategies=('epig', 'passive'))
  needed, counted = checks.epig_table_bytes(config)
  assert counted == ('16 lanes x 8 members x 2 prompts x 512 response prefixes x 7 tokens x 128 '
                     f'MLP units x 4 bytes x {checks.EXACT_EVAL_OVERHEAD}')
  assert needed == checks.exact_evaluation_bytes(config)[0] * 2  # One evaluation prompt.
  assert checks.epig_table_bytes(_structured(experiment__strategies=('passive',)))[0] == 0
  monkeypatch.setattr(checks, '_memory_bytes', lambda: (2 * 10 ** 9, 'cpu test memory'))
  with pytest.raises(errors.ConfigError) as error:
    checks.validate_memory(config)
  message = str(error.value)
  assert message.startswith('config.experiment.strategies has epig, whose member tables need '
                            f'about {needed / 1e9:.2f} GB a pass (16 lanes x 8 members x 2 prompts')
  assert 'more than the 2.00 GB of cpu test memory' in message and '\n' not in message
  checks.validate_memory(_structured(experiment__num_seeds=16, agent__num_members=8,  # No epig.
                                     lm__width=32, lm__depth=2, world__num_eval_prompts=1))


def test_a_full_buffer_step_too_large_for_this_machine_is_refused(monkeypatch):
  """`finetune.rows='all'` and the refit take the gradient through every member's table over every
  prompt: on the structured family (64 prompts, 4 lanes: ~79 GB) that is counted over all 64,
  times the step's overhead, and refused in one line naming the field and what to set instead;
  sampled batches without refits take no such step (0 bytes), nor does the classic agent alone
  (it has no tables), while both agents side by side do; on the default world it fits this
  machine."""
  config = _structured(experiment__num_seeds=4, agent__num_members=8, lm__width=32, lm__depth=2,
                       world__num_eval_prompts=1, finetune__rows='all')
  needed, counted = checks.full_buffer_step_bytes(config)
  every_prompt = _structured(experiment__num_seeds=4, agent__num_members=8, lm__width=32,
                             lm__depth=2, world__num_eval_prompts=64)
  assert needed == checks.FULL_STEP_OVERHEAD * checks.exact_evaluation_bytes(every_prompt)[0]
  assert counted.startswith('4 lanes x 8 members x 64 prompts x 512 response prefixes')
  assert checks.full_buffer_step_bytes(_structured(finetune__rows='uniform'))[0] == 0
  refit = _structured(experiment__num_seeds=4, agent__num_members=8, lm__width=32, lm__depth=2,
                      world__num_eval_prompts=1, finetune__rows='uniform',
                      experiment__refit_rounds=(1,), experiment__eval_every=1)
  assert checks.full_buffer_step_bytes(refit)[0] == needed
  monkeypatch.setattr(checks, '_memory_bytes', lambda: (8 * 10 ** 9, 'cpu test memory'))
  for bad, field, advice in [(config, 'finetune.rows', "set finetune.rows='uniform'"),
                             (refit, 'experiment.refit_rounds', 'drop the refits')]:
    checks.validate(bad)  # Within the fixed limits...
    with pytest.raises(errors.ConfigError) as error:
      checks.validate_memory(bad)  # ...not within this machine's.
    message = str(error.value)
    assert message.startswith(f'config.{field} takes full-buffer joint steps'), message
    assert 'more than the 8.00 GB of cpu test memory' in message and advice in message
    assert '\n' not in message
  assert checks.full_buffer_step_bytes(_structured(finetune__rows='all', agent__kind='classic')
                                       )[0] == 0
  assert checks.full_buffer_step_bytes(_structured(finetune__rows='all', agent__kind='both')
                                       )[0] > 0
  anchored = _structured(finetune__rows='all', finetune__shown_mass_weight=1.0)
  assert checks.full_buffer_step_bytes(anchored)[0] == (
      (checks.FULL_STEP_OVERHEAD + 1) / checks.FULL_STEP_OVERHEAD
      * checks.full_buffer_step_bytes(_structured(finetune__rows='all'))[0])
  default = tiny.get_config()
  default.finetune.rows = 'all'
  checks.validate_memory(default)
