"""Generated bad input (issue #24): every field of every section of the default config,
overridden on the command line as a user would, is accepted or refused in one line.

Each example is a `python -m experiments.explore --config=default --workdir=W --config.x=V ...`
command line, run in-process through the binary's own path (`lmrl.flags.parse_flags`, then
`experiments.explore.main`) with `lmrl.runner.run` replaced by `_validate_only`: what `run` does
before it first writes or compiles (`checks.validate`, the specs, the agents,
`checks.validate_memory`), so a command that passes is not then run. Overrides are drawn for
every field (`_FIELDS`) and for unknown fields and whole sections: wrong types, NaN, +-inf,
negatives, zero, huge and tiny numbers, empty and odd tuples, unknown names, text. The outcome
must be one of

  accepted  validation passes, and no overridden field holds nonsense (`_nonsense`: a non-finite
            or complex number, a negative one, a wrong type, an int over int32, a float that
            float32 turns into inf or 0, an unknown name, an emptied list, an unknown field);
  refused   `SystemExit` with exactly one line `error: ...` naming an overridden field (exit
            status 1: a string code), nothing else printed, no traceback, and the work directory
            (holding a sentinel file) and its parent left exactly as they were.

Each test prints one line, `bad input (<test>): N overrides tried ... X% refused in one line,
Y% accepted` (shown with `pytest -s`), and keeps its counts in pytest's cache
(`python -m pytest --cache-show 'lmrl/bad_input/*'`); docs/running.md cites them. The fast tests
are deterministic (a fixed list; derandomized hypothesis); the slow ones draw 3,000 command
lines, and run three accepted drawn tiny configs end to end.
"""

import contextlib
import io
import math
import os
import re
import signal
import sys
import time
from typing import NamedTuple
from unittest import mock

from absl.testing import flagsaver
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from experiments import explore
from lmrl import buffer
from lmrl import checks
from lmrl import epig
from lmrl import epistemic
from lmrl import flags as lmrl_flags
from lmrl import hyperparams
from lmrl import pipeline
from lmrl import registry
from lmrl import runner
from lmrl import strategies
from lmrl import update
from lmrl import world as world_lib
from lmrl.configs import default
from lmrl.configs import tiny

# ml_collections loads a config file with the deprecated `load_module` at every parse.
pytestmark = pytest.mark.filterwarnings('ignore:the load_module:DeprecationWarning')


def _flatten(config, prefix: str = '') -> dict:
  """{dotted field: default value} of every field of every section."""
  out = {}
  for name, value in config.items():
    if hasattr(value, 'items'):
      out.update(_flatten(value, f'{prefix}{name}.'))
    else:
      out[f'{prefix}{name}'] = value
  return out


_FIELDS = _flatten(default.get_config())  # Every field of the default config, with its default.
_SECTIONS = tuple(sorted({f.split('.')[0] for f in _FIELDS if '.' in f}))

# The names a name field (a `str` field, or `experiment.strategies`' items) may hold: each
# field's registry. A new name field of the default config must be added here (checked below).
_NAMES = {
    'world.kind': world_lib.WORLD_KINDS,
    'agent.kind': registry.KIND_NAMES,
    'agent.epistemic': tuple(epistemic.EPISTEMIC_KINDS),
    'agent.deploy': epistemic.DEPLOY_KINDS,
    'agent.bootstrap': buffer.BOOTSTRAP_KINDS,
    'finetune.rows': buffer.REPLAY,
    'finetune.stop': update.STOP_RULES,
    'classic.reward_rows': buffer.SAMPLED_REPLAY,
    'finetune.lm_loss_tokens': update.LM_LOSS_TOKENS,
    'experiment.info_units': strategies.INFO_UNITS,
    'experiment.epig_target': epig.TARGETS,
    'experiment.epig_tuples': epig.TUPLE_SEARCHES,
    'experiment.epig_batch': epig.BATCHES,
    'experiment.strategies': tuple(strategies.STRATEGIES),
}
_KNOWN_NAMES = sorted({n for names in _NAMES.values() for n in names})
_UNKNOWN_NAMES = ('', ' ', 'nope', 'PASSIVE', 'passive ', ' joint', 'ppo', 'dropout', 'graph',
                  'bits', 'None', 'null', 'ensemble2', 'Tabular', 'epig,passive', 'all ')
# May be negative (lmrl.checks: in [-1, 1]); may be a number that float32 rounds to 0.
_SIGNED = ('world.minority_opposition',)
_FLUSH_TO_ZERO_OK = ('world.minority_opposition', 'world.group_weights', 'world.corpus_group_mix')
# Overrides that name no field: a misspelt or unknown one, a field's sub-field, a whole
# section (`--config.world={...}` would replace it), malformed paths.
_UNKNOWN_FIELDS = ('world.vocab_sise', 'World.vocab_size', 'nosection.x', 'world.kind.x',
                   'seed.x', 'sweep.nope', 'experiment.strategy', 'lm.Width', 'world..seed',
                   'world.', '', '.x', 'agent.kind.name', 'finetune.learning_rate.x')
_SPECIAL_NUMBERS = (
    'nan', '-nan', 'NaN', 'inf', '-inf', '+inf', 'Infinity', '1e400', '-1e400', '1e39', '-1e39',
    '1e-40', '1e-300', '5e-324', '0', '-0', '0.0', '-0.0', '1', '2', '3', '-1', '-7', '0.5',
    '-0.5', '1.5', '2147483647', '2147483648', '-2147483649', '4294967296',
    '18446744073709551616', '1' + '0' * 400, '-' + '9' * 40, '0x10', '1_000', '1e3', '10**9')
_WRONG_TYPES = ('abc', 'True', 'False', 'true', 'None', '', ' ', '()', '(1,)', '[1, 2]', '{}',
                "{'a': 1}", '1j', "'x'", '"1"', '(nan,)', '(inf, 1)', '((1, 2),)', '([1],)',
                '({},)', '(None,)', '(True, False)', '(1j,)', '=', '--config=tiny', 'a\nb')
_MAX_SECONDS = 20  # An example past this (a hang) fails (SIGALRM, between bytecodes).


# ----------------------------------------------------------------------------- the binary's path


class Outcome(NamedTuple):
  accepted: bool
  line: str  # The `error: ...` line ('' when accepted).
  config: object  # The config that passed validation (None when refused).


class _Validated:
  """`runner.run` stand-in: validates and prepares as `run` does before it first writes or
  compiles (not the `jax.distributed` join: see the report in docs/running.md), then records."""

  def __init__(self):
    self.configs = []

  def __call__(self, config, workdir, **kwargs):
    del workdir, kwargs
    checks.validate(config)
    spec, lm_spec = pipeline.build_specs(config)
    for kind in registry.agent_kinds(config):
      pipeline.make_agent(config, spec, lm_spec, kind)
    checks.validate_memory(config)
    self.configs.append(config)


def _snapshot(root: str) -> dict:
  """{relative path: bytes (a file) or None (a directory)} of everything under `root`."""
  out = {}
  for folder, dirs, names in os.walk(root):
    for name in dirs:
      out[os.path.relpath(os.path.join(folder, name), root)] = None
    for name in names:
      with open(os.path.join(folder, name), 'rb') as f:
        out[os.path.relpath(os.path.join(folder, name), root)] = f.read()
  return out


def _make_root(tmp_path_factory) -> tuple[str, str]:
  """(root, workdir): a work directory holding a sentinel file, beside another file."""
  root = str(tmp_path_factory.mktemp('bad_input'))
  workdir = os.path.join(root, 'run')
  os.makedirs(workdir)
  with open(os.path.join(workdir, 'sentinel.txt'), 'w') as f:
    f.write('left exactly as it was\n')
  with open(os.path.join(root, 'beside.txt'), 'w') as f:
    f.write('mine\n')
  return root, workdir


@contextlib.contextmanager
def _time_limit(seconds: int, what: str):
  """Fails an example that runs past `seconds` (a hang in validation) instead of blocking."""
  def expire(signum, frame):
    del signum, frame
    raise AssertionError(f'{what}: still running after {seconds} s')
  old = signal.signal(signal.SIGALRM, expire)
  signal.alarm(seconds)
  try:
    yield
  finally:
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _explore(config_name: str, overrides: list[str], workdir: str, run_fn) -> Outcome:
  """`python -m experiments.explore --config=NAME --workdir=W *overrides`, in-process, with
  `runner.run` as `run_fn`; the outcome, or an `AssertionError` for anything but a clean
  acceptance or one-line refusal."""
  argv = ['explore', f'--config={config_name}', f'--workdir={workdir}', '--compilation_cache=',
          '--pretrained_cache=', *overrides]
  shown = ' '.join(overrides)
  out, err = io.StringIO(), io.StringIO()
  recorded = len(getattr(run_fn, 'configs', ()))
  with flagsaver.flagsaver(), mock.patch.object(runner, 'run', run_fn), \
      contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
      _time_limit(_MAX_SECONDS, shown):
    # The binary reads `--config.x` overrides from sys.argv, normalised as it is at import.
    with mock.patch.object(sys, 'argv', lmrl_flags._normalise_argv(argv)):
      try:
        explore.main(lmrl_flags.parse_flags(argv))
      except SystemExit as exit_:
        code = exit_.code
      except Exception as error:
        raise AssertionError(f'{shown}: a traceback, {type(error).__name__}: {error}') from error
      else:
        configs = getattr(run_fn, 'configs', None)
        return Outcome(True, '', configs[-1] if configs and len(configs) > recorded else None)
  assert isinstance(code, str), f'{shown}: exit status {code!r}, not 1 with one line'
  assert code.startswith('error: ') and len(code.splitlines()) == 1, f'{shown}: {code!r}'
  printed = out.getvalue() + err.getvalue()
  assert not printed, f'{shown}: printed more than the error line: {printed!r}'
  return Outcome(False, code, None)


def _field_of(override: str) -> str:
  """'world.seed' of '--config.world.seed=3' (also '--config.world.iia', '--noconfig.x')."""
  return override.split('=', 1)[0].split('config.', 1)[1]


def _names(line: str, field: str) -> bool:
  """The error line names `field` (as `config.<field>`, `--config.<field>` or `<field>`, not
  a longer field it begins; a sweep's size is said of `config.sweep`)."""
  if '.' not in field:  # A top-level field ('seed'): 'config.seed', not world.seed.
    return re.search(rf'config\.{re.escape(field)}(?![\w])', line) is not None
  if field.startswith('sweep.') and 'config.sweep' in line:
    return True
  return re.search(rf'(?<![\w.])(config\.)?{re.escape(field)}(?![\w])', line) is not None


# ----------------------------------------------------------------------------- nonsense


def _numbers(value):
  """Every number in `value` (a scalar or nested tuples), bools included."""
  if isinstance(value, (tuple, list)):
    for item in value:
      yield from _numbers(item)
  elif isinstance(value, (int, float, complex)):
    yield value


def _is_int(x) -> bool:
  return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x) -> bool:
  return isinstance(x, (int, float)) and not isinstance(x, bool)


def _nonsense(field: str, value) -> str | None:
  """Why `value` is nonsense for `field` whatever the other fields hold, or None."""
  if field not in _FIELDS:
    return 'no such field'
  expected = _FIELDS[field]
  integral = _is_int(expected) or field == 'experiment.refit_rounds'
  for x in _numbers(value):
    if isinstance(x, complex):
      return 'a complex number'
    if isinstance(x, float) and not math.isfinite(x):
      return 'not finite'
    if x < 0 and field not in _SIGNED:
      return 'negative'
    if integral and x > checks.MAX_INT:
      return 'over int32'
    if isinstance(x, float) and abs(x) > checks.FLOAT32_MAX:
      return 'inf in float32'
    if 0 < abs(x) < checks.FLOAT32_TINY and field not in _FLUSH_TO_ZERO_OK:
      return '0 in float32'
  if isinstance(expected, bool):
    return None if isinstance(value, bool) else 'not a bool'
  if isinstance(expected, int):
    return None if _is_int(value) else 'not an int'
  if isinstance(expected, float):
    return None if _is_real(value) else 'not a number'
  if isinstance(expected, str):
    return None if isinstance(value, str) and value in _NAMES[field] else 'an unknown name'
  if not isinstance(value, tuple):
    return 'not a tuple'
  if expected and not value:
    return 'emptied'
  if field in _NAMES:
    known = all(isinstance(v, str) and v in _NAMES[field] for v in value)
    return None if known else 'an unknown name'
  if integral:
    return None if all(_is_int(v) for v in value) else 'not rounds'
  return None if all(_is_real(v) for v in value) else 'not numbers'


# ----------------------------------------------------------------------------- what is drawn


def _tuple_text(items: list[str]) -> str:
  return '(' + ','.join(items) + (',' if len(items) == 1 else '') + ')'


_NUMBER = st.one_of(st.sampled_from(_SPECIAL_NUMBERS), st.integers(-3, 20).map(str),
                    st.integers(-2 ** 70, 2 ** 70).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr))
_NAME = st.sampled_from(_KNOWN_NAMES + list(_UNKNOWN_NAMES))
_ITEM = st.one_of(_NUMBER, _NAME.map(repr), st.sampled_from(('None', 'True', '()', '[1]', '{}')))
_TEXT = st.text(st.characters(exclude_characters='\x00'), max_size=12)
_VALUE = st.one_of(
    _NUMBER, _NAME, st.sampled_from(_WRONG_TYPES), _TEXT,
    st.lists(_ITEM, max_size=4).map(_tuple_text),  # Tuples of anything, () included.
    st.lists(_NAME.map(repr), min_size=1, max_size=3).map(_tuple_text))  # Lists of names.
_FIELD = st.sampled_from(sorted(_FIELDS) + list(_UNKNOWN_FIELDS) + list(_SECTIONS))


def _plausible(field: str, defaults: dict = _FIELDS) -> st.SearchStrategy[str]:
  """Values a user might well mean for `field` (its value in `defaults`, a neighbour, a known
  name), so a drawn command line mixes good overrides with bad ones."""
  value = defaults.get(field)
  if isinstance(value, bool):
    return st.sampled_from(('True', 'False', 'true', '0', '1'))
  if isinstance(value, int):
    return st.sampled_from((str(value), str(value + 1), str(max(value // 2, 1)), '1', '2'))
  if isinstance(value, float):
    return st.sampled_from((repr(value), repr(value * 2), repr(value / 2), '0', '1'))
  if isinstance(value, str):
    return st.sampled_from(_NAMES[field])
  if field in _NAMES:
    return st.lists(st.sampled_from(_NAMES[field]), min_size=1, max_size=3, unique=True).map(
        lambda names: _tuple_text([repr(n) for n in names]))
  if isinstance(value, tuple):
    return st.sampled_from((repr(value), '()', '(1e-3,)', '(0.5,0.5)', '(0.1,1.0)', '(5,)'))
  return _VALUE  # An unknown field or a section.


@st.composite
def _override(draw) -> str:
  """One `--config.x=v` flag: a plausible value or a bad one (now and then the bare
  `--config.x` or `--noconfig.x`, absl's boolean forms)."""
  field = draw(_FIELD)
  form = draw(st.sampled_from(('plausible',) * 9 + ('bad',) * 9 + ('bare', 'no')))
  if form == 'bare':
    return f'--config.{field}'
  if form == 'no':
    return f'--noconfig.{field}'
  return f'--config.{field}={draw(_plausible(field) if form == "plausible" else _VALUE)}'


_OVERRIDES = st.lists(_override(), min_size=1, max_size=3)
# The canonical bad values every field gets in the deterministic test.
_EVERY_FIELD_VALUES = ('nan', 'inf', '-inf', '-1', '0', '2147483648', '1' + '0' * 400,
                       '1e-300', 'abc', '', '()', '(nan,)', "('nope',)", '{}')


# ----------------------------------------------------------------------------- counting


class _Counts:
  """Overrides tried and what became of them; one line, and pytest's cache, at the end."""

  def __init__(self, name: str):
    self.name, self.tried, self.refused, self.accepted, self.fields = name, 0, 0, 0, set()
    self.started = time.perf_counter()

  def add(self, overrides: list[str], outcome: Outcome) -> None:
    self.tried += 1
    self.fields.update(_field_of(o) for o in overrides)
    if outcome.accepted:
      self.accepted += 1
    else:
      self.refused += 1

  def report(self, request) -> str:
    seconds = time.perf_counter() - self.started
    line = (f'bad input ({self.name}): {self.tried} command lines tried '
            f'({len(self.fields & set(_FIELDS))}/{len(_FIELDS)} fields of the default config, '
            f'{len(self.fields - set(_FIELDS))} unknown fields or sections), '
            f'{self.refused / self.tried:.1%} refused in one line naming the field, '
            f'{self.accepted / self.tried:.1%} accepted; 0 tracebacks, 0 hangs, 0 nonsense '
            f'accepted, 0 files touched ({seconds:.1f} s)')
    print('\n' + line)
    cache = getattr(request.config, 'cache', None)  # (None under -p no:cacheprovider.)
    if cache is not None:
      cache.set(f'lmrl/bad_input/{self.name}', {
          'tried': self.tried, 'refused': self.refused, 'accepted': self.accepted,
          'fields': len(self.fields & set(_FIELDS)), 'line': line})
    return line


def _check(overrides: list[str], workdir: str, root: str, before: dict, validated,
           config_name: str = 'default') -> Outcome:
  """One command line through the binary; every promise of the module doc asserted."""
  outcome = _explore(config_name, overrides, workdir, validated)
  shown = ' '.join(overrides)
  fields = [_field_of(o) for o in overrides]
  if outcome.accepted:
    assert outcome.config is not None, f'{shown}: exited 0 without validating a config'
    for field in dict.fromkeys(fields):
      assert field in _FIELDS, f'{shown}: accepted an override of no field, {field!r}'
      value = hyperparams.config_field(outcome.config, field)
      why = _nonsense(field, value)
      assert why is None, f'{shown}: accepted config.{field} = {value!r} ({why})'
  else:
    assert any(_names(outcome.line, f) for f in fields), (
        f'{shown}: the error names none of {fields}: {outcome.line}')
  assert _snapshot(root) == before, f'{shown}: changed the work directory'
  return outcome


def test_every_name_field_has_its_names():
  """`_nonsense` knows every name field of the default config (a new one is added here)."""
  name_fields = {f for f, v in _FIELDS.items() if isinstance(v, str)} | {'experiment.strategies'}
  assert name_fields == set(_NAMES)


@pytest.mark.parametrize('override, line', [
    ('--config.world.vocab_sise=3', "error: --config.world.vocab_sise names no such config "
     "field: config.world has no field 'vocab_sise' (did you mean config.world.vocab_size?)"),
    ('--config.nosection.x=1',
     "error: --config.nosection.x names no such config field: config has no field 'nosection'"),
    ('--config.world.kind.x=1', 'error: --config.world.kind.x names no such config field: '
     'config.world.kind is a field, not a section'),
    ("--config.world={'vocab_size': 3}", "error: --config.world would replace the whole section "
     "config.world, got {'vocab_size': 3}: override its fields one by one, "
     '--config.world.FIELD=VALUE'),
    ('--config.sweep={}', 'error: --config.sweep would replace the whole section config.sweep, '
     'got {}: override its fields one by one, --config.sweep.FIELD=VALUE'),
    ('--config.world.=3', 'error: --config.world. is not a config field: override one as '
     '--config.section.field=value'),
])
def test_an_override_of_no_field_is_named_in_one_line(tmp_path_factory, override, line):
  """What lmrl.flags says of an override that names no field (before: ml_collections' KeyError
  text without the field's path, a TypeError, or a traceback once the section was replaced)."""
  root, workdir = _make_root(tmp_path_factory)
  outcome = _check([override], workdir, root, _snapshot(root), _Validated())
  assert outcome.line == line


def test_every_field_refuses_canonical_bad_values(tmp_path_factory, request):
  """Each field of every section, and each unknown field and section, with each of
  `_EVERY_FIELD_VALUES`: deterministic, every field covered."""
  root, workdir = _make_root(tmp_path_factory)
  before, validated, counts = _snapshot(root), _Validated(), _Counts('every_field')
  for field in sorted(_FIELDS) + list(_UNKNOWN_FIELDS) + list(_SECTIONS):
    for value in _EVERY_FIELD_VALUES:
      overrides = [f'--config.{field}={value}']
      counts.add(overrides, _check(overrides, workdir, root, before, validated))
  assert counts.fields >= set(_FIELDS)
  counts.report(request)


_FAST = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.large_base_example], print_blob=True)


def _drawn(request, tmp_path_factory, name: str, settings_: settings) -> _Counts:
  """Drawn command lines (`_OVERRIDES`) of the default config under `settings_`."""
  root, workdir = _make_root(tmp_path_factory)
  before, validated, counts = _snapshot(root), _Validated(), _Counts(name)

  @settings_
  @given(_OVERRIDES)
  def one(overrides):
    counts.add(overrides, _check(overrides, workdir, root, before, validated))

  one()
  counts.report(request)
  return counts


def test_drawn_overrides_are_accepted_or_refused_in_one_line(request, tmp_path_factory):
  """200 drawn command lines of 1 to 3 overrides (fixed seed): the fast tier's sample."""
  counts = _drawn(request, tmp_path_factory, 'drawn', _FAST)
  assert counts.tried >= 200 and counts.refused and counts.accepted


# ----------------------------------------------------------------------------- slow


_TINY_FIELDS = sorted(f for f in _FIELDS if f not in (
    'experiment.distributed',  # runner.run would join a `jax.distributed` job: none here.
    'experiment.shard_seeds'))
_TINY_DEFAULTS = _flatten(tiny.get_config())
_TINY_RUNS = 3  # Accepted drawn configs that run end to end (~30 s each on 2 CPU cores).


@st.composite
def _tiny_overrides(draw) -> list[str]:
  """2 or 3 overrides of the tiny config, each plausible for the tiny config (so a run stays
  small) or, one time in four, bad."""
  fields = draw(st.lists(st.sampled_from(_TINY_FIELDS), min_size=2, max_size=3, unique=True))
  return [f'--config.{f}=' + draw(st.one_of(*[_plausible(f, _TINY_DEFAULTS)] * 3, _VALUE))
          for f in fields]


@pytest.mark.slow
def test_many_drawn_overrides_are_accepted_or_refused_in_one_line(request, tmp_path_factory):
  """3,000 drawn command lines (fixed seed): the fast test's, at scale."""
  counts = _drawn(request, tmp_path_factory, 'drawn_many', settings(_FAST, max_examples=3000))
  assert counts.tried >= 3000


@pytest.mark.slow
def test_accepted_drawn_tiny_configs_run_end_to_end(request, tmp_path_factory):
  """Drawn overrides of the tiny config (`_tiny_overrides`): each is refused in one line, or
  accepted; the first `_TINY_RUNS` accepted ones that change two fields run end to end through
  the binary (pre-training, every strategy, results.csv and summary.json) without a
  traceback."""
  root, workdir = _make_root(tmp_path_factory)
  before, validated, counts = _snapshot(root), _Validated(), _Counts('tiny_end_to_end')
  ran = []

  @settings(_FAST, max_examples=300)
  @given(_tiny_overrides())
  def one(overrides):
    outcome = _check(overrides, workdir, root, before, validated, config_name='tiny')
    counts.add(overrides, outcome)
    changed = outcome.accepted and [  # Fields the overrides changed (hypothesis draws the
        f for f in map(_field_of, overrides)  # tiny config's own values first).
        if hyperparams.config_field(outcome.config, f) != _TINY_DEFAULTS[f]]
    if changed and len(changed) >= 2 and len(ran) < _TINY_RUNS:
      run_dir = str(tmp_path_factory.mktemp('tiny_end_to_end') / 'run')
      argv = ['explore', '--config=tiny', f'--workdir={run_dir}', '--compilation_cache=',
              '--pretrained_cache=', *overrides]
      with flagsaver.flagsaver(), mock.patch.object(sys, 'argv', lmrl_flags._normalise_argv(argv)):
        explore.main(lmrl_flags.parse_flags(argv))
      for name in ('results.csv', 'summary.json'):
        assert os.path.exists(os.path.join(run_dir, name)), (overrides, name)
      ran.append(overrides)

  one()
  print('\nran end to end: ' + '; '.join(' '.join(o) for o in ran))
  counts.report(request)
  assert len(ran) == _TINY_RUNS
