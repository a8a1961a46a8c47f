r"""Two strategies on their shared (world, seed) lanes: the paired difference of their KLs.

  python experiments/analysis/paired_difference.py RESULTS_A.csv:STRATEGY_A RESULTS_B.csv:STRATEGY_B

For two runs' `results.csv` (or one run's, twice) that share lanes (the same world seeds and
seeds: e.g. two variants of a study split by strategy), prints the mean KL(p*||p) of each at
every evaluated ranking count, then B - A of the final KL and of the mean log KL over the budget
(trapezoid, as `summary.auc_log_kl`), each with a 90% interval that resamples the shared lanes
paired (worlds, then seeds within them: `lmrl.bootstrap.resample_indices`), and the share of
worlds in which A ends lower. For when `experiments.combine` cannot pair them yet (a strategy run
on half the worlds so far); once it can, its summary is the reference.
"""

import csv
import sys

import numpy as np

from lmrl import bootstrap


def read_kl(path: str, strategy: str) -> dict[tuple[int, int, int], float]:
  """{(world, seed, queries): kl} of one strategy's rows (world 0 where there is no column)."""
  with open(path) as f:
    rows = [r for r in csv.DictReader(f) if r['strategy'] == strategy]
  if not rows:
    raise SystemExit(f'error: no rows of strategy {strategy!r} in {path}')
  return {(int(r.get('world') or 0), int(r['seed']), int(r['queries'])): float(r['kl'])
          for r in rows}


def paired_difference(kl_a: dict, kl_b: dict, num_bootstrap: int = 2000, seed: int = 0) -> dict:
  """B - A on the lanes both have, at the ranking counts both evaluated: see the module doc."""
  lanes = sorted({k[:2] for k in kl_a} & {k[:2] for k in kl_b})
  queries = sorted({k[2] for k in kl_a} & {k[2] for k in kl_b})
  if len(lanes) < 2 or len(queries) < 2:
    raise SystemExit('error: the two runs share fewer than 2 lanes or 2 evaluated ranking counts')
  a_LxQ = np.array([[kl_a[(w, s, q)] for q in queries] for w, s in lanes])
  b_LxQ = np.array([[kl_b[(w, s, q)] for q in queries] for w, s in lanes])
  world_L = np.array([w for w, _ in lanes])
  idx_BxL = bootstrap.resample_indices(np.random.default_rng(seed), len(lanes), num_bootstrap,
                                       world_L if len(set(world_L)) > 1 else None)

  def stats(d_L):
    means_B = d_L[idx_BxL].mean(-1)
    worlds = sorted(set(world_L))
    return {'mean': float(d_L.mean()), 'ci90': bootstrap.percentiles(means_B),
            'worlds_a_lower': sum(d_L[world_L == w].mean() > 0 for w in worlds) / len(worlds)}

  auc = lambda kl_LxQ: np.trapezoid(np.log(kl_LxQ), queries, axis=-1) / queries[-1]
  return {'lanes': lanes, 'queries': queries, 'mean_a_Q': a_LxQ.mean(0), 'mean_b_Q': b_LxQ.mean(0),
          'final_kl': stats(b_LxQ[:, -1] - a_LxQ[:, -1]),
          'auc_log_kl': stats(auc(b_LxQ) - auc(a_LxQ))}


def main(argv):
  if len(argv) != 3 or any(':' not in a for a in argv[1:]):
    raise SystemExit(f'usage: {argv[0]} RESULTS_A.csv:STRATEGY_A RESULTS_B.csv:STRATEGY_B')
  (path_a, name_a), (path_b, name_b) = (a.rsplit(':', 1) for a in argv[1:])
  d = paired_difference(read_kl(path_a, name_a), read_kl(path_b, name_b))
  worlds = len({w for w, _ in d['lanes']})
  print(f"{len(d['lanes'])} shared lanes over {worlds} world(s); mean KL at each ranking count:")
  print('| strategy | ' + ' | '.join(f'{q:,}' for q in d['queries']) + ' |')
  print('| --- |' + ' --- |' * len(d['queries']))
  for name, mean_Q in ((name_a, d['mean_a_Q']), (name_b, d['mean_b_Q'])):
    print(f'| {name} | ' + ' | '.join(f'{m:.3f}' for m in mean_Q) + ' |')
  for key, what in (('final_kl', 'final KL'), ('auc_log_kl', 'mean log KL over the budget')):
    st = d[key]
    print(f"{what}: {name_b} - {name_a} = {st['mean']:+.4f} (paired 90%: {st['ci90'][0]:+.4f} to "
          f"{st['ci90'][1]:+.4f}); {name_a} lower in {st['worlds_a_lower']:.0%} of worlds")


if __name__ == '__main__':
  main(sys.argv)
