"""A run SIGKILLed at random instants, then resumed by the same command, ends in the same files.

Each trial starts `python -m experiments.explore` on the tiny config (passive + infomax, the
session's `tiny_run`) with a fresh pre-trained-LM cache of its own, so that pre-training and the
cache write happen inside the window; kills it after a delay drawn over an uninterrupted
run's duration (seeded, stratified: one instant in each of `NUM_INSTANTS` equal slices); reruns the same command to the end;
and checks every file a finished run is compared by is byte-identical to the uninterrupted
run's. Each kill is labelled by the phase its process was in (from its last printed line):
pre-training (and the cache write after it), compiling, a sweep's chunk (computation and
checkpoint writes), or the export (results, summary, plots). The killed-run test in
tests/test_runner.py is the fast sample of this one (one instant, after a checkpoint).

Slow: ~25 s a trial on 2 cores. Run before resolving with
`python -m pytest -q -s -m slow tests/test_kill_anywhere.py` (it prints one line of counts).
"""

import collections
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests import conftest

pytestmark = pytest.mark.slow

NUM_INSTANTS = 24  # Kill instants drawn (>= 20, issue #24).
COMPARED = ('results.csv', 'summary.json', 'config.json', 'pretrain.json')


def _command(workdir, cache):
  return [sys.executable, '-u', '-m', 'experiments.explore', '--config=tiny',
          f'--workdir={workdir}', conftest.TINY_RUN_STRATEGIES_FLAG, f'--pretrained_cache={cache}']


def _phase(output: str) -> str:
  """The phase a run was in when its output ended."""
  if 'compiled in' not in output:
    return 'compiling' if 'pre-trained LM:' in output else 'pre-training or its cache write'
  if 'strategy 2/2) round 4/4' in output:
    return 'export'
  return 'a sweep chunk or its checkpoint'


def _read(path) -> bytes:
  with open(path, 'rb') as f:
    return f.read()


def test_killed_at_random_instants_every_run_resumes_to_identical_files(tiny_run, tmp_path):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  timed = subprocess.run(_command(tmp_path / 'timed', tmp_path / 'timed_cache'), env=env,
                         cwd=conftest.REPO_ROOT, capture_output=True, text=True, timeout=600)
  assert timed.returncode == 0, timed.stderr[-3000:]
  started = time.time()
  subprocess.run(_command(tmp_path / 'timed2', tmp_path / 'timed2_cache'), env=env,
                 cwd=conftest.REPO_ROOT, capture_output=True, timeout=600, check=True)
  duration = time.time() - started  # A run with warm compilation cache: what a trial kills.
  # Stratified: one instant drawn uniformly in each of NUM_INSTANTS equal slices of the run.
  delays = (np.arange(NUM_INSTANTS) + np.random.default_rng(0).uniform(size=NUM_INSTANTS)) * (
      duration / NUM_INSTANTS)
  phases = collections.Counter()
  for trial, delay in enumerate(delays):
    workdir, cache = tmp_path / f'run{trial}', tmp_path / f'cache{trial}'
    log_path = tmp_path / f'killed{trial}.log'
    with open(log_path, 'w') as log:
      process = subprocess.Popen(_command(workdir, cache), env=env, cwd=conftest.REPO_ROOT,
                                 stdout=log, stderr=subprocess.STDOUT)
      try:
        process.wait(timeout=delay)
        phases['finished before the kill'] += 1
      except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        phases[_phase(log_path.read_text())] += 1
    resumed = subprocess.run(_command(workdir, cache), env=env, cwd=conftest.REPO_ROOT,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, (trial, delay, resumed.stdout[-2000:], resumed.stderr[-3000:])
    for name in COMPARED:
      assert _read(workdir / name) == _read(os.path.join(tiny_run, name)), (trial, delay, name)
    for name in sorted(os.listdir(os.path.join(tiny_run, 'results'))):
      assert _read(workdir / 'results' / name) == _read(
          os.path.join(tiny_run, 'results', name)), (trial, delay, name)
    assert not [n for n in os.listdir(workdir) if '.tmp' in n], trial  # No half-written file.
  print(f'\nkill anywhere: {NUM_INSTANTS} SIGKILLs drawn over a {duration:.0f} s run, every one '
        'resumed to byte-identical files; phases hit: '
        + ', '.join(f'{phase} {count}' for phase, count in sorted(phases.items())))
  # The draws must reach the phases the issue names, or the test proves less than it says.
  assert phases['pre-training or its cache write'] + phases['compiling'] >= 1, phases
  assert phases['a sweep chunk or its checkpoint'] >= 1 and phases['export'] >= 1, phases
