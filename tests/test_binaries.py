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


# (an argument, or None for none; what the one line names). Each is a process of its own, all
# started at once: most of each one's ~3 s is importing, which two cores halve.
BAD_FLAGS = [
    ('--config.world.vocab_size=2.5', '--config.world.vocab_size'),
    ('--config.world.vocab_sise=3', 'vocab_sise'),
    ('--config.world.iia=maybe', '--config.world.iia'),
    ('--config=missing_config.py', 'missing_config.py'),
    ('--config=small', "unknown config 'small'; known: default, tiny"),
    ('--workdri=x', 'workdri'),
    (None, '--workdir is required'),
]


def _start(command, **kwargs):
  return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          **kwargs)


def _finish(process):
  """(returncode, stderr) of a process started by `_start`."""
  _, stderr = process.communicate(timeout=120)
  return process.returncode, stderr


def test_bad_flags_fail_with_one_line(tmp_path):
  """Every BAD_FLAGS case, and a bad override of the default config (without --config the
  default file is loaded as the flag is defined, at import)."""
  started = []
  for i, (argument, expected) in enumerate(BAD_FLAGS):
    workdir = tmp_path / f'run{i}'
    command = EXPLORE + ['--config=tiny']
    command += [argument, f'--workdir={workdir}'] if argument else []
    started.append((argument, expected, workdir,
                    _start(command, env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT)))
  default_workdir = tmp_path / 'run_default'
  default = _start(EXPLORE + ['--config.world.vocab_sise=3', f'--workdir={default_workdir}'],
                   cwd=ROOT)
  for argument, expected, workdir, process in started:
    returncode, stderr = _finish(process)
    assert returncode != 0, argument
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and expected in lines[0], (
        argument, stderr)
    assert not workdir.exists(), argument
  returncode, stderr = _finish(default)
  lines = stderr.strip().splitlines()
  assert returncode != 0 and len(lines) == 1 and 'vocab_sise' in lines[0], stderr
  assert not default_workdir.exists()


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
  # The refusals run beside the in-process work (most of their time is importing).
  bad_plot = _start([sys.executable, '-m', 'experiments.plot',
                     f'--workdir={tmp_path / "missing"}'], cwd=tmp_path)
  pretrain = [sys.executable, '-m', 'experiments.pretrain', '--config=tiny',
              conftest.TINY_RUN_STRATEGIES_FLAG, f'--workdir={workdir}']
  out = subprocess.run(pretrain, capture_output=True, text=True, cwd=tmp_path, check=True).stdout
  report = json.loads(out[out.index('{'):])
  assert report['kl_to_majority'] < report['kl_to_pstar']
  assert os.path.isdir(workdir / 'pretrained')
  bad_pretrain = _start(pretrain, cwd=tmp_path)  # Refuses before it writes anything.
  _run_explore(workdir, experiment__strategies=STRATEGIES)  # Loads the pre-trained LM.
  returncode, stderr = _finish(bad_pretrain)
  assert returncode != 0 and 'already holds' in stderr
  for name in ('results.csv', 'summary.json', 'pretrain.json'):
    assert _read(workdir / name) == _read(os.path.join(tiny_run, name)), name
  returncode, stderr = _finish(bad_plot)
  assert returncode != 0 and stderr.strip().startswith('error: --workdir')
  good = subprocess.run([sys.executable, '-m', 'experiments.plot', f'--workdir={workdir}'],
                        capture_output=True, text=True, cwd=tmp_path, check=True)
  assert 'kl_vs_queries.png' in good.stdout


def test_compare_writes_one_table_and_figure_for_several_workdirs(tiny_run, tmp_path):
  out = tmp_path / 'comparison'
  refused = _start([sys.executable, '-m', 'experiments.compare', f'--workdirs={tmp_path}',
                    f'--out={tmp_path / "refused"}'], cwd=ROOT)  # Beside the good one.
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
  returncode, stderr = _finish(refused)
  assert returncode == 1 and stderr.strip().count('\n') == 0
  assert stderr.startswith('error: --workdirs')
