"""Two processes of one `jax.distributed` job on this machine, the seed axis sharded across them.

Each process of `python -m experiments.explore ... --coordinator_address=localhost:PORT
--num_processes=2 --process_id=i` owns one CPU device (CPU collectives through gloo); only
process 0 writes files. The job must give the same files as one process that lays the same
seeds over two (forced host) devices, and a job killed mid-sweep (every process) must resume,
restarted, to the same files. Slow (three cold two-process compilations): run before resolving
with `python -m pytest -q -m slow tests/test_multiprocess.py`.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests import conftest

pytestmark = pytest.mark.slow

NUM_PROCESSES = 2
SHARDED = ['--config=tiny', '--config.experiment.shard_seeds=True',
           conftest.TINY_RUN_STRATEGIES_FLAG]
RESULTS = ('results.csv', 'summary.json', 'config.json', 'pretrain.json')


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _start_job(workdir, logs_dir, *extra) -> list[subprocess.Popen]:
  port = _free_port()
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  env.pop('XLA_FLAGS', None)  # One device per process.
  processes = []
  for i in range(NUM_PROCESSES):
    with open(os.path.join(logs_dir, f'process{i}.log'), 'w') as log:
      processes.append(subprocess.Popen(
          [sys.executable, '-m', 'experiments.explore', *SHARDED, f'--workdir={workdir}',
           '--config.experiment.distributed=True', f'--coordinator_address=localhost:{port}',
           f'--num_processes={NUM_PROCESSES}', f'--process_id={i}', *extra],
          env=env, cwd=conftest.REPO_ROOT, stdout=log, stderr=subprocess.STDOUT))
  return processes


def _wait(processes, logs_dir, timeout=600) -> None:
  try:
    for process in processes:
      process.wait(timeout=timeout)
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  for i, process in enumerate(processes):
    with open(os.path.join(logs_dir, f'process{i}.log')) as f:
      assert process.returncode == 0, f.read()[-3000:]


def _read(path) -> str:
  with open(path) as f:
    return f.read()


@pytest.fixture(scope='module')
def two_process_run(tmp_path_factory):
  """(work directory, logs directory) of one uninterrupted two-process job."""
  root = tmp_path_factory.mktemp('two_processes')
  workdir = str(root / 'run')
  _wait(_start_job(workdir, str(root)), str(root))
  return workdir, str(root)


def test_two_processes_equal_one_process_over_two_devices(two_process_run, tmp_path):
  workdir, logs = two_process_run
  # Only process 0 reports (and writes); process 1 computes silently.
  assert 'joint/infomax (strategy 2/2) round 4/4' in _read(os.path.join(logs, 'process0.log'))
  assert 'round 4/4' not in _read(os.path.join(logs, 'process1.log'))
  one = tmp_path / 'one'
  env = dict(os.environ, JAX_PLATFORMS='cpu',
             XLA_FLAGS=f'--xla_force_host_platform_device_count={NUM_PROCESSES}')
  result = subprocess.run([sys.executable, '-m', 'experiments.explore', *SHARDED,
                           f'--workdir={one}'], env=env, cwd=conftest.REPO_ROOT,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  for name in RESULTS:
    if name != 'config.json':  # Which differs in `distributed`.
      assert _read(os.path.join(workdir, name)) == _read(one / name), name


def _wait_for_first_infomax_chunk(workdir, processes) -> None:
  checkpoint = workdir / 'checkpoints' / 'joint_infomax' / '2'  # After 2 of 4 rounds.
  deadline = time.time() + 500
  while (not checkpoint.exists() and all(p.poll() is None for p in processes)
         and time.time() < deadline):
    time.sleep(0.02)
  assert checkpoint.exists(), 'the job ended or timed out before its first infomax chunk'


def test_a_killed_job_resumes_to_the_same_results(two_process_run, tmp_path):
  workdir = tmp_path / 'run'
  processes = _start_job(str(workdir), str(tmp_path))
  try:
    _wait_for_first_infomax_chunk(workdir, processes)
    for process in processes:
      process.send_signal(signal.SIGKILL)
    for process in processes:
      process.wait(timeout=60)
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  assert not (workdir / 'results.csv').exists()  # Killed mid-sweep.
  _wait(_start_job(str(workdir), str(tmp_path)), str(tmp_path))
  assert 'joint/passive: already done' in _read(tmp_path / 'process0.log')
  for name in RESULTS:
    assert _read(workdir / name) == _read(os.path.join(two_process_run[0], name)), name


def test_a_lost_process_stops_the_other_in_one_line_and_a_restart_resumes(two_process_run,
                                                                          tmp_path):
  """Process 1 SIGKILLed mid-sweep: process 0 exits 1 within the heartbeat timeout (10 s here)
  plus a margin, its last line one `error:` line, no traceback and no C++ abort log; both
  restarted with the same command resume to the uninterrupted job's files."""
  workdir, heartbeat = tmp_path / 'run', '--config.experiment.heartbeat_seconds=10'
  processes = _start_job(str(workdir), str(tmp_path), heartbeat)
  try:
    _wait_for_first_infomax_chunk(workdir, processes)
    processes[1].send_signal(signal.SIGKILL)
    lost_at = time.time()
    processes[0].wait(timeout=120)
    waited = time.time() - lost_at
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  log = _read(tmp_path / 'process0.log')
  assert processes[0].returncode == 1, log[-3000:]
  assert waited < 10 + 30, waited
  last = log.strip().splitlines()[-1]
  assert last.startswith('error: a process of the jax.distributed job was lost'), log[-3000:]
  assert 'Traceback' not in log and 'Check failure' not in log, log[-3000:]
  _wait(_start_job(str(workdir), str(tmp_path), heartbeat), str(tmp_path))
  for name in RESULTS:
    if name != 'config.json':  # Which differs in `heartbeat_seconds`.
      assert _read(workdir / name) == _read(os.path.join(two_process_run[0], name)), name
