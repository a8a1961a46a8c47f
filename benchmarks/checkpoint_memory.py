r"""Where a long run's memory went: resident memory over many checkpoint saves, three ways.

  python -m benchmarks.checkpoint_memory --saves=120 --leaves=150

`benchmarks.memory` found a run's resident memory growing by a few MB a chunk; switching parts of
the run off one at a time (checkpoints, TensorBoard, metrics.jsonl) located the growth in the
checkpoint writes: orbax keeps some host memory per leaf and save. This isolates it: a pytree of
`--leaves` arrays (2 x 40 x 40 float32 each, fresh values every step, moved to the host as the
sweep does) is saved `--saves` times

* `save_progress`: as lmrl saves now (`lmrl.checkpoints.save_progress`: the leaves packed into
  one array per dtype, a new orbax manager per save, closed after),
* `tree`: the pytree itself through a new orbax manager per save (as lmrl saved before),
* `no_save`: not saved (the control),

each mode in a fresh process, and prints the resident memory every 20 saves and each mode's
growth from the 20th save to the last, and each saving mode's growth beyond the control's.
"""

import json
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

from benchmarks import common

_SAVES = flags.DEFINE_integer('saves', 120, 'Checkpoint saves per mode.')
_LEAVES = flags.DEFINE_integer('leaves', 150, 'Arrays in the saved pytree.')
_OUT = flags.DEFINE_string('out', None, 'Where to write the JSON of every number.')
_MODE = flags.DEFINE_string('mode', None, 'Internal: run one mode in this process.')

MODES = ('save_progress', 'tree', 'no_save')


def _one_mode(mode: str, saves: int, leaves: int) -> list[float]:
  """Resident MB after every 20th step of `mode`."""
  import jax  # pylint: disable=g-import-not-at-top
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  from lmrl import checkpoints, progress, sweep  # pylint: disable=g-import-not-at-top,g-multiple-import

  make = jax.jit(lambda key: {f'leaf{i}': jax.random.normal(jax.random.fold_in(key, i), (2, 40, 40))
                              for i in range(leaves)})
  resident = []
  with tempfile.TemporaryDirectory() as directory:
    for step in range(1, saves + 1):
      tree = {'state': jax.tree_util.tree_map(sweep.to_host, make(jax.random.key(step)))}
      if mode == 'save_progress':
        checkpoints.save_progress(directory, step, tree)
      elif mode == 'tree':
        manager = checkpoints._manager(directory)  # pylint: disable=protected-access
        manager.save(step, args=ocp.args.StandardSave(tree))
        manager.wait_until_finished()
        manager.close()
      if step % 20 == 0:
        resident.append(progress.resident_bytes() / 2**20)
  return resident


def main(argv):
  del argv
  if _MODE.value:
    print(json.dumps(_one_mode(_MODE.value, _SAVES.value, _LEAVES.value)))
    return
  out = {'saves': _SAVES.value, 'leaves': _LEAVES.value, 'modes': {}}
  for mode in MODES:
    result = subprocess.run([sys.executable, '-m', 'benchmarks.checkpoint_memory', f'--mode={mode}',
                             f'--saves={_SAVES.value}', f'--leaves={_LEAVES.value}'],
                            capture_output=True, text=True, check=False)
    if result.returncode:
      sys.exit(f'error: mode {mode} failed: {result.stderr.strip()[-2000:]}')
    resident = json.loads(result.stdout.strip().splitlines()[-1])
    growth = resident[-1] - resident[0]
    per_save = growth / max(1, _SAVES.value - 20)
    out['modes'][mode] = {'resident_mb_every_20': resident, 'growth_mb': growth,
                          'growth_kb_per_save': 1024 * per_save}
    print(f'{mode:<14} resident MB every 20 steps: {" ".join(f"{x:.1f}" for x in resident)}; '
          f'growth {growth:+.1f} MB ({1024 * per_save:.0f} KB a step)')
  control = out['modes']['no_save']['growth_mb']
  for mode in ('save_progress', 'tree'):
    print(f'{mode}: {out["modes"][mode]["growth_mb"] - control:+.1f} MB more than not saving, over '
          f'{_SAVES.value - 20} saves of {_LEAVES.value} leaves')
  out['machine'] = common.machine()
  if _OUT.value:
    common.write_out(_OUT.value, out)


if __name__ == '__main__':
  app.run(main)
