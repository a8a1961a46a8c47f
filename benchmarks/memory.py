r"""A long run's memory and pace, chunk by chunk: flat, or growing with the rounds?

  python -m benchmarks.memory --out=/tmp/memory.json
  python -m benchmarks.memory --config=tiny --config.experiment.rounds=40 --out=/tmp/m.json
  python -m benchmarks.memory --malloc=trim,glibc --config.experiment.rounds=80  # side by side

Runs `lmrl.run` on the config (by default: the default world, passive only, 4 seeds, 160 rounds
of 64 rankings = 10,240 rankings, chunks of 10 rounds, exact metrics every 40 rounds) in a fresh
temporary work directory, and prints, per chunk: this process's resident memory after the chunk
(`timing.json`'s `resident_mb_per_chunk`, `lmrl.progress`), the chunk's seconds (from its
progress line), and the choices the buffer then holds. The buffer is allocated at the run's full
capacity before the first round (`lmrl.buffer`), so its data never adds memory as rounds go by:
a flat run's memory after the first chunk stays within a few MB, and its pace per chunk stays
flat if a round's cost follows what is in the buffer rather than its capacity. Prints the growth
from the first chunk to the last (MB, and seconds per chunk late / early, a ratio in one run),
and writes every number as JSON to `--out`.

`--malloc` chooses the host allocator's settings (`lmrl.host_memory`, `MALLOC`): `glibc` (its
defaults, the binaries' default), `arenas` (two glibc arenas: the binaries' `--malloc_arena_max=2`),
`limited` (two arenas and a fixed trim threshold), `trim` (the threshold only).
Several (`--malloc=trim,glibc`) run one after another, each in a fresh process of its own, then
their memory and seconds per chunk side by side, as ratios to the last.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

from benchmarks import common
from lmrl import flags as lmrl_flags
from lmrl import host_memory
from lmrl import runner

_CONFIG = lmrl_flags.define_config_flag('default')
_OUT = flags.DEFINE_string('out', None, 'Where to write the JSON of every number.')
# The host allocator's settings: (glibc's arena limit, 0 = its own; trim threshold), or None for
# glibc's defaults throughout.
MALLOC = {'limited': (host_memory.ARENA_MAX, host_memory.TRIM_THRESHOLD_BYTES),
          'trim': (0, host_memory.TRIM_THRESHOLD_BYTES), 'arenas': (host_memory.ARENA_MAX, None),
          'glibc': None}
_MALLOC = flags.DEFINE_list(
    'malloc', ['glibc'],
    f"The host allocator's settings, of {sorted(MALLOC)} (arenas: --malloc_arena_max=2): several "
    'run one after another, each in a process of its own, then side by side.')

LONG_RUN = {  # The long run: each field unless the command line sets it (--config.x=...).
    'experiment.strategies': ('passive',), 'experiment.num_seeds': 4,
    'experiment.rounds': 160, 'experiment.rounds_per_chunk': 10, 'experiment.eval_every': 40}


def _chunk_seconds(lines: list[str]) -> list[float]:
  return [float(m.group(1)) for line in lines if (m := re.search(r'\(([\d.]+)s, ETA', line))]


def _ratio(a: float, b: float) -> str:
  """`a / b` as '1.23x', or why not (the progress lines give a chunk's seconds to 0.1 s)."""
  return f'{a / b:.2f}x' if b else 'n/a: chunks under 0.1 s'


def _side_by_side(argv: list[str], settings: list[str]) -> None:
  """Runs this benchmark once per allocator setting, each in a fresh process; prints each
  against the last setting as ratios."""
  passed = [arg for arg in argv[1:] if not arg.startswith(('--malloc', '--out'))]
  runs = {}
  with tempfile.TemporaryDirectory() as tmp:
    for setting in settings:
      out = os.path.join(tmp, f'{setting}.json')
      print(f'--- --malloc={setting}', flush=True)
      subprocess.run([sys.executable, '-m', 'benchmarks.memory', f'--malloc={setting}',
                      f'--out={out}', *passed], check=True)
      with open(out) as f:
        runs[setting] = json.load(f)
  reference = settings[-1]
  print(f'side by side (each / {reference}):')
  for setting in settings[:-1]:
    for name, run in runs[setting]['strategies'].items():
      ref = runs[reference]['strategies'][name]
      mb = [run['resident_mb'][-1], ref['resident_mb'][-1]]
      seconds = [float(np.mean(r['seconds'][1:])) for r in (run, ref)]
      print(f'  {setting} vs {reference}, {name}: resident after the last chunk {mb[0]:.0f} vs '
            f'{mb[1]:.0f} MB ({mb[0] / mb[1]:.2f}x); growth {run["growth_mb"]:+.1f} vs '
            f'{ref["growth_mb"]:+.1f} MB; seconds per chunk after the first {seconds[0]:.1f} vs '
            f'{seconds[1]:.1f} ({_ratio(seconds[0], seconds[1])})')
  if _OUT.value:
    common.write_out(_OUT.value, runs)


def main(argv):
  unknown = sorted(set(_MALLOC.value) - set(MALLOC))
  if unknown or not _MALLOC.value:
    raise SystemExit(f'error: --malloc: {", ".join(unknown) or "empty"}; known: {sorted(MALLOC)}')
  if len(_MALLOC.value) > 1:
    _side_by_side(sys.argv, _MALLOC.value)
    return
  del argv
  if MALLOC[_MALLOC.value[0]] is not None:
    host_memory.limit_malloc_arenas(*MALLOC[_MALLOC.value[0]])
  logging.set_verbosity(logging.WARNING)
  config = _CONFIG.value
  overridden = {arg.split('=')[0][len('--config.'):] for arg in sys.argv[1:]
                if arg.startswith('--config.')}
  for field, value in LONG_RUN.items():  # The long run, where the command line says nothing.
    if field not in overridden:
      section, name = field.split('.')
      config[section][name] = value
  common.validate_or_exit(config)
  lines = []
  with tempfile.TemporaryDirectory() as workdir:
    started = time.perf_counter()
    runner.run(config, os.path.join(workdir, 'run'), log=lines.append, pretrained_cache=None)
    wall = time.perf_counter() - started
    with open(os.path.join(workdir, 'run', 'timing.json')) as f:
      timing = json.load(f)
  e = config.experiment
  per_round = e.prompts_per_round
  out = {'machine': common.machine(), 'wall_seconds': wall, 'malloc': _MALLOC.value[0],
         'strategies': {}}
  for kind, entry in timing.items():
    if not isinstance(entry, dict) or 'compile_seconds' not in entry:
      continue
    seconds_all = _chunk_seconds([line for line in lines if line.startswith(f'{kind}/')])
    chunks = e.rounds // e.rounds_per_chunk
    for i, strategy in enumerate(e.strategies):
      resident = entry[strategy]['resident_mb_per_chunk']
      seconds = seconds_all[i * chunks:(i + 1) * chunks]
      choices = [(c + 1) * e.rounds_per_chunk * per_round for c in range(len(resident))]
      print(f'{kind}/{strategy}: chunk, choices in the buffer, resident MB, seconds')
      for c, (n, mb, s) in enumerate(zip(choices, resident, seconds)):
        print(f'  {c + 1:3d}  {n:7d}  {mb:8.1f}  {s:6.1f}')
      half = max(len(seconds) // 4, 1)
      early, late = float(np.mean(seconds[1:1 + half])), float(np.mean(seconds[-half:]))
      growth = resident[-1] - resident[0]
      print(f'{kind}/{strategy}: resident memory {resident[0]:.0f} MB after chunk 1 -> '
            f'{resident[-1]:.0f} MB after chunk {len(resident)} ({growth:+.1f} MB over '
            f'{choices[-1] - choices[0]:,} more choices); seconds per chunk, last quarter / '
            f'first quarter (after the first chunk): {_ratio(late, early)}')
      out['strategies'][f'{kind}/{strategy}'] = {
          'choices': choices, 'resident_mb': resident, 'seconds': seconds,
          'growth_mb': growth, 'late_over_early_seconds': late / early if early else None}
  print(f'wall {wall:.0f}s, load average {os.getloadavg()[0]:.1f}')
  if _OUT.value:
    common.write_out(_OUT.value, out)


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
