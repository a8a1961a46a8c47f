"""`lmrl.flags`: `--config` by name (library configs, studies, variants), in every binary's
`--help`, and one-line errors.

In-process (absl's flagsaver around `lmrl_flags.parse_flags`) where possible; a subprocess only
where the real command line matters (`--help`, overrides that `config_flags` reads from
`sys.argv` when the flag is defined).
"""

import os
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
import pytest

from experiments import explore
from lmrl import flags as lmrl_flags
from lmrl.configs import default
from tests import conftest

STUDY = '''
VARIANTS = ('small', 'large')


def get_config(arg=None):
  from lmrl.configs import tiny
  c = tiny.get_config()
  c.world.vocab_size = {'small': 2, 'large': 4}.get(arg, 3)
  return c
'''


@pytest.fixture
def study_dir(tmp_path, monkeypatch):
  """An experiments folder holding one study, `mystudy`, with two variants."""
  (tmp_path / 'mystudy').mkdir()
  (tmp_path / 'mystudy' / 'config.py').write_text(STUDY)
  (tmp_path / 'not_a_study').mkdir()  # No config.py: not a name.
  monkeypatch.setattr(lmrl_flags, 'experiments_dir', lambda: str(tmp_path))
  return tmp_path


def _parse(*argv):
  """`parse_flags` as the binary calls it; the parsed config (inside a flagsaver)."""
  lmrl_flags.parse_flags(['explore', *argv])
  return explore._CONFIG.value


def test_explore_help_lists_config_with_the_known_names(tmp_path):
  """From a directory outside the repository: the installed `experiments` package."""
  out = subprocess.run([sys.executable, '-m', 'experiments.explore', '--help'], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
  assert '  --config: Experiment config: a name (default, tiny' in out.stdout, out.stdout
  for name in lmrl_flags.config_names():
    assert name in out.stdout, name
  for flag in ('--workdir', '--pretrained_cache', '--pretrained_cache_clear'):
    assert f'  {flag}:' in out.stdout, flag
  assert 'lmrl.flags' not in out.stdout  # The binary's own flags, not a module's list.


def test_the_config_flags_are_key_flags_of_each_binary():
  """What `--help` shows: the main module's key flags (`disclaim_key_flags` in lmrl.flags)."""
  key = {f.name for f in flags.FLAGS.get_key_flags_for_module(explore)}
  assert {'config', 'pretrained_cache', 'pretrained_cache_clear', 'workdir'} <= key
  assert not flags.FLAGS.get_key_flags_for_module(lmrl_flags)


def test_an_unknown_config_name_fails_in_one_line_listing_the_known_names():
  with flagsaver.flagsaver(), pytest.raises(SystemExit) as exit_info:
    _parse('--config=small')
  message = exit_info.value.code  # A string: printed to stderr, exit status 1.
  names = ', '.join(lmrl_flags.config_names())
  assert message == f"error: unknown config 'small'; known: {names}"
  assert message.startswith("error: unknown config 'small'; known: default, tiny")


def test_a_library_config_name_still_works():
  with flagsaver.flagsaver():
    assert _parse('--config=tiny').world.vocab_size == 3
    assert _parse('--config=default').to_dict() == default.get_config().to_dict()
  assert lmrl_flags.config_names()[:2] == ('default', 'tiny')


def test_a_study_name_resolves_to_its_file_and_variant(study_dir):
  path = str(study_dir / 'mystudy' / 'config.py')
  assert lmrl_flags.config_names() == ('default', 'tiny', 'mystudy')
  assert lmrl_flags.config_path('mystudy:large') == f'{path}:large'
  assert lmrl_flags.config_path('dir/any.py:x') == 'dir/any.py:x'  # A path stays a path.
  with flagsaver.flagsaver():
    assert _parse('--config=mystudy:small').world.vocab_size == 2
    assert _parse('--config=mystudy:large').world.vocab_size == 4
  with flagsaver.flagsaver(), pytest.raises(SystemExit) as exit_info:
    _parse('--config=mystudy')  # A study of several runs needs its variant.
  assert exit_info.value.code == ("error: config 'mystudy' needs a variant, "
                                  '--config=mystudy:VARIANT; known: small, large')
  with flagsaver.flagsaver(), pytest.raises(SystemExit) as exit_info:
    _parse('--config=mystudy:medium')
  assert exit_info.value.code == ("error: config 'mystudy' has no variant 'medium'; known: "
                                  'small, large')
  with flagsaver.flagsaver(), pytest.raises(SystemExit) as exit_info:
    _parse('--config=not_a_study')
  assert exit_info.value.code == ("error: unknown config 'not_a_study'; known: default, tiny, "
                                  'mystudy')


def test_the_real_studies_resolve_to_their_folders():
  root = lmrl_flags.experiments_dir()
  assert os.path.samefile(root, os.path.join(conftest.REPO_ROOT, 'experiments'))
  for name in lmrl_flags.config_names()[2:]:
    path = os.path.join(root, name, 'config.py')
    variant = (lmrl_flags.variants(path) or ('',))[0]
    resolved = lmrl_flags.config_path(f'{name}:{variant}' if variant else name)
    assert os.path.samefile(resolved.partition(':')[0], path)


def test_a_repeated_config_override_keeps_its_last_value():
  """As for every absl flag; `config_flags` alone would concatenate a tuple field's values."""
  script = ('import sys; from lmrl import flags; c = flags.define_config_flag(); '
            'flags.parse_flags(sys.argv); '
            'print(c.value.experiment.strategies, c.value.experiment.rounds)')
  out = subprocess.run([sys.executable, '-c', script, '--config=tiny',
                        "--config.experiment.strategies=('passive',)",
                        "--config.experiment.strategies=('uniform',)",
                        '--config.experiment.rounds=2', '--config.experiment.rounds=4'],
                       capture_output=True, text=True, check=True, timeout=120)
  assert out.stdout.strip() == "('uniform',) 4", out.stdout
