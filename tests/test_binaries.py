"""The binaries end to end: bad input in one line, pretrain then explore, plot and compare.

`explore` runs in-process under flagsaver, and as a subprocess where it must parse real command
lines. What a run writes and how a killed one resumes are tests/test_runner.py's; every bad config
value is tests/test_checks.py's.
"""

import csv
import json
import os
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
import pytest

from experiments import explore
from tests import conftest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, 'lmrl', 'configs', 'tiny.py')
EXPLORE = [sys.executable, '-m', 'experiments.explore']
STRATEGIES = conftest.TINY_RUN_STRATEGIES

def _run_explore(workdir, **overrides):
  """Runs explore.main on the tiny config; `section__field=value` overrides config fields.

  (config_flags defines `--config.x` override flags from sys.argv at import time, so a test sets
  the fields on the parsed config instead.)
  """
  with flagsaver.flagsaver():
    flags.FLAGS(['explore', f'--config={TINY}', f'--workdir={workdir}'])
    for name, value in overrides.items():
      section, field = name.split('__') if '__' in name else (None, name)
      setattr(explore._CONFIG.value[section] if section else explore._CONFIG.value, field, value)
    explore.main([])


def _read(path):
  with open(path) as f:
    return f.read()


def test_a_bad_config_value_stops_explore_with_one_line(tmp_path):
  """What explore prints for `lmrl.checks`' error (tests/test_checks.py has every field, and
  that nothing is compiled)."""
  workdir = tmp_path / 'run'
  with pytest.raises(SystemExit) as exit_info:
    _run_explore(workdir, world__vocab_size=1)
  message = str(exit_info.value.code)
  assert message.startswith('error: config.world.vocab_size must be an integer >= 2, got 1')
  assert '\n' not in message
  assert not workdir.exists()  # Nothing written.


@pytest.mark.parametrize('argument, expected', [
    ('--config.world.vocab_size=2.5', '--config.world.vocab_size'),
    ('--config.world.vocab_sise=3', 'vocab_sise'),
    ('--config.world.iia=maybe', '--config.world.iia'),
    ('--config=missing_config.py', 'missing_config.py'),
    ('--config=small', "unknown config 'small'; known: default, tiny"),
    ('--workdri=x', 'workdri'),
    (None, '--workdir is required'),
])
def test_bad_flags_fail_with_one_line(tmp_path, argument, expected):
  workdir = tmp_path / 'run'
  command = EXPLORE + ['--config=tiny']
  command += [argument, f'--workdir={workdir}'] if argument else []
  out = subprocess.run(command, env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
  assert out.returncode != 0
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: ') and expected in lines[0], out.stderr
  assert not workdir.exists()


def test_bad_override_of_the_default_config_fails_with_one_line(tmp_path):
  """Without --config the default file is loaded as the flag is defined, at import."""
  workdir = tmp_path / 'run'
  out = subprocess.run(EXPLORE + ['--config.world.vocab_sise=3', f'--workdir={workdir}'],
                       cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
  lines = out.stderr.strip().splitlines()
  assert out.returncode != 0 and len(lines) == 1 and 'vocab_sise' in lines[0], out.stderr
  assert not workdir.exists()


def test_existing_workdir_of_another_config_is_not_overwritten(tmp_path):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  (workdir / 'config.json').write_text('{"other": 1}')
  with pytest.raises(SystemExit) as exit_info:
    _run_explore(workdir)
  assert 'different config' in str(exit_info.value.code)
  assert (workdir / 'config.json').read_text() == '{"other": 1}'
  (workdir / 'config.json').unlink()
  (workdir / 'notes.txt').write_text('mine')  # A non-empty directory without a config.json.
  with pytest.raises(SystemExit) as exit_info:
    _run_explore(workdir)
  assert 'not empty' in str(exit_info.value.code)
  assert sorted(os.listdir(workdir)) == ['notes.txt']


def test_pretrain_then_explore_on_one_workdir_from_any_directory(tiny_run, tmp_path):
  """`python -m experiments.pretrain` then explore on the same --workdir (pretrain's promise), run
  from a directory outside the repository; then the plot binary."""
  workdir = tmp_path / 'pt'
  pretrain = [sys.executable, '-m', 'experiments.pretrain', '--config=tiny',
              conftest.TINY_RUN_STRATEGIES_FLAG, f'--workdir={workdir}']
  out = subprocess.run(pretrain, capture_output=True, text=True, cwd=tmp_path, check=True).stdout
  report = json.loads(out[out.index('{'):])
  assert report['kl_to_majority'] < report['kl_to_pstar']
  assert os.path.isdir(workdir / 'pretrained')
  bad = subprocess.run(pretrain, capture_output=True, text=True, cwd=tmp_path)
  assert bad.returncode != 0 and 'already holds' in bad.stderr
  _run_explore(workdir, experiment__strategies=STRATEGIES)  # Loads the pre-trained LM.
  for name in ('results.csv', 'summary.json', 'pretrain.json'):
    assert _read(workdir / name) == _read(os.path.join(tiny_run, name)), name
  bad = subprocess.run([sys.executable, '-m', 'experiments.plot',
                        f'--workdir={tmp_path / "missing"}'],
                       capture_output=True, text=True, cwd=tmp_path)
  assert bad.returncode != 0 and bad.stderr.strip().startswith('error: --workdir')
  good = subprocess.run([sys.executable, '-m', 'experiments.plot', f'--workdir={workdir}'],
                        capture_output=True, text=True, cwd=tmp_path, check=True)
  assert 'kl_vs_queries.png' in good.stdout


def test_compare_writes_one_table_and_figure_for_several_workdirs(tiny_run, tmp_path):
  out = tmp_path / 'comparison'
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.compare', f'--workdirs={tiny_run},{tiny_run}',
       '--names=first,second', f'--out={out}'], cwd=ROOT, capture_output=True, text=True,
      timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  table = (out / 'comparison.md').read_text()
  assert table.count('| first | joint |') == 2 and table.count('| second | joint |') == 2
  with open(out / 'comparison.csv') as f:
    rows = list(csv.DictReader(f))
  summary = json.loads(_read(os.path.join(tiny_run, 'summary.json')))
  assert len(rows) == 4 and {r['strategy'] for r in rows} == set(STRATEGIES)
  for row in rows:
    assert float(row['final_kl']) == pytest.approx(
        summary['joint'][row['strategy']]['final_kl']['mean'], rel=1e-9)
  assert (out / 'kl_vs_queries.png').stat().st_size > 0
  refused = subprocess.run([sys.executable, '-m', 'experiments.compare', f'--workdirs={tmp_path}',
                            f'--out={out}'], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
  assert refused.returncode == 1 and refused.stderr.strip().count('\n') == 0
  assert refused.stderr.startswith('error: --workdirs')
