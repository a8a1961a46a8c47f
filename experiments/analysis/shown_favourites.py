r"""How often a strategy's queries held a favourite of each group, round block by round block.

  python experiments/analysis/shown_favourites.py WORKDIR STRATEGY [ROUNDS_PER_BLOCK]

Reads what the joint agent's `STRATEGY` showed in the run at `WORKDIR`: a finished strategy's
`results/joint_STRATEGY_shown.npz` (`lmrl.rows.shown_queries`, written at the end of its sweep),
or, for an interrupted one, its last checkpoint's choice buffer (`runner.restore_joint_sweep`,
one world or several), passed through the same `rows.shown_queries`. Prints, for each block of
ROUNDS_PER_BLOCK rounds (default 10) and for the whole run, the share of the block's queries
(every lane, every valid row) whose shown responses include a favourite of group g, and how many
queries that is. The summary's `queries_showing_a_favourite_of_group` is the whole run's row.
A run with a hyper-parameter sweep (several grid points) is refused: its points' lanes would pool.
Read an interrupted run while it is not running: a checkpoint step that cannot be read (one being
written) is moved aside, as a resume would.

A score that stops showing what every member already agrees on (e.g. the majority's favourites)
shows here as a falling share; experiments/structured/README.md reads the per-prompt epig pilot
against epig, its control and infomax this way.
"""

import os
import sys

import jax
import numpy as np

from lmrl import errors
from lmrl import hyperparams
from lmrl import rows as rows_lib
from lmrl import runner
from lmrl import sweep as sweep_lib
from lmrl import workdir as workdir_lib

SHOWN_FIELDS = ('shows_favourite_SxHxG', 'valid_SxH', 'round_H')  # What is read of the queries.

def shown_arrays(workdir: str, strategy: str, from_checkpoint: bool = False
                 ) -> dict[str, np.ndarray]:
  """`rows.shown_queries`' `shows_favourite_SxHxG`, `valid_SxH` and `round_H` of the strategy:
  from its finished `_shown.npz`, else (or if `from_checkpoint`) its last checkpoint's buffer."""
  path = os.path.join(workdir, 'results', f'joint_{strategy}_shown.npz')
  if os.path.exists(path) and not from_checkpoint:
    with np.load(path) as arrays:
      return {k: arrays[k] for k in SHOWN_FIELDS}
  if not os.path.isdir(os.path.join(workdir, 'checkpoints', f'joint_{strategy}')):
    raise errors.UserError(f'{workdir} has neither results/joint_{strategy}_shown.npz nor '
                           f'checkpoints/joint_{strategy}: did the run have strategy {strategy!r}?')
  restored = runner.restore_joint_sweep(workdir, strategy, many_worlds=True)
  buffer = jax.tree_util.tree_map(sweep_lib.to_host, restored.state.buffer)
  shown = rows_lib.shown_queries(buffer, sweep_lib.to_host(restored.world.favourites_GxPxN),
                                 restored.spec.vocab_size,
                                 restored.config.experiment.prompts_per_round)
  return {k: shown[k] for k in SHOWN_FIELDS}


def favourite_shares(shown: dict[str, np.ndarray], rounds_per_block: int
                     ) -> list[tuple[int, int, np.ndarray, int]]:
  """[(first round, last round, float[G] shares, queries)] per block of rounds that holds any
  valid query, then the whole run's (the rounds of its first and last valid query)."""
  favourite_SxHxG, valid_SxH = shown['shows_favourite_SxHxG'], shown['valid_SxH']
  round_H = shown['round_H']
  rounds_with_data = np.unique(round_H[valid_SxH.any(0)])
  if rounds_with_data.size == 0:
    raise SystemExit('error: the run showed no queries yet')
  out = []
  last = int(rounds_with_data.max())
  blocks = [(lo, min(lo + rounds_per_block - 1, last))
            for lo in range(1, last + 1, rounds_per_block)]
  for lo, hi in blocks + [(int(rounds_with_data.min()), last)]:
    in_block_SxH = valid_SxH & ((round_H >= lo) & (round_H <= hi))[None, :]
    count = int(in_block_SxH.sum())
    if count:
      out.append((lo, hi, favourite_SxHxG[in_block_SxH].mean(0), count))
  return out


def main(argv):
  if len(argv) not in (3, 4):
    raise SystemExit(__doc__.split('\n\n')[1])
  workdir, strategy = argv[1], argv[2]
  text = argv[3] if len(argv) == 4 else '10'
  if not text.isdigit() or int(text) < 1:
    raise SystemExit(f'error: ROUNDS_PER_BLOCK must be an integer >= 1, got {text!r}')
  rounds_per_block = int(text)
  if not os.path.isfile(os.path.join(workdir, 'config.json')):
    raise SystemExit(f'error: {workdir} is not a run directory (it has no config.json)')
  if hyperparams.grid_size(workdir_lib.saved_config(workdir)) > 1:
    raise SystemExit(f'error: {workdir} is a hyper-parameter sweep; its grid points\' lanes '
                     'would pool (read each point\'s lanes with lmrl.hyperparams.point_lanes)')
  try:
    shown = shown_arrays(workdir, strategy)
  except errors.UserError as error:
    raise SystemExit(f'error: {error}') from None
  shares = favourite_shares(shown, rounds_per_block)
  groups = len(shares[0][2])
  print('| rounds | ' + ' | '.join(f'holding a favourite of group {g}' for g in range(groups))
        + ' | queries |')
  print('| --- ' * (groups + 2) + '|')
  for i, (lo, hi, share_G, count) in enumerate(shares):
    label = f'{lo}-{hi}' + (' (all)' if i == len(shares) - 1 else '')
    print(f'| {label} | ' + ' | '.join(f'{x:.3f}' for x in share_G) + f' | {count} |')


if __name__ == '__main__':
  main(sys.argv)
