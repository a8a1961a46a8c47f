r"""Where a run's pre-trained LM misses `p*`, world by world, and which designs can find it.

  python experiments/analysis/pretrained_holes.py WORKDIR [POOL_TEMPERATURE]

For a run's work directory (its `config.json` and `pretrained/` LM; one world or many), on the
run's evaluation prompts (`loop.eval_prompt_index`), per world:

  KL            `KL(p* || p_0)` of the pre-trained LM `p_0` (its `pretrain.json` figure);
  hole          the responses `p_0` gives less than 1% of a uniform draw's probability
                (`p_0(y) < 0.01 / N`): the share of the KL they hold, and `p*`'s mass on them;
  depth         `p*`-weighted mean of `log(p*(y) / p_0(y))` over the hole (nats);
  peak          the fewest responses per prompt that hold half of `p*`'s mass in the hole;
  reach         the chance that one draw lands on the peak: of the pre-trained LM at the pool
                temperature (default `experiment.pool_temperature`: what infomax's and epig's
                candidates are), of a uniform draw, and `p_0`'s own mass there.

A design that draws from the LM can only show the peak as often as `reach` says; `KL(p*||.)`
weighs the peak by `log(p*/p)`, so lifting it from `p_0` to a uniform draw's level removes most
of a deep hole's KL even with no mass on the minority's favourites.

Then, for each strategy whose queries the run saved (`results/<agent>_<strategy>_shown.npz`), per
world: how often it did show the peak, as the share of its queries on the evaluation prompts that
hold a peak response (mean over the world's seeds), and the first ranking that did (the earliest
over its seeds).
"""

import glob
import os
import sys

import jax
import numpy as np

from lmrl import checkpoints
from lmrl import lm as lm_lib
from lmrl import loop as loop_lib
from lmrl import pipeline
from lmrl import workdir as workdir_lib
from lmrl import world as world_lib

HOLE = 1e-2  # A response is in the hole if p_0 gives it less than this share of 1 / N.


def peak(log_p0_PxN, log_pstar_PxN) -> np.ndarray:
  """bool[P, N]: each prompt's fewest responses that hold half of `p*`'s mass in the hole."""
  hole = log_p0_PxN < np.log(HOLE / log_p0_PxN.shape[-1])
  mass_PxN = np.exp(log_pstar_PxN) * hole
  order_PxN = np.argsort(-mass_PxN, axis=-1)
  sorted_PxN = np.take_along_axis(mass_PxN, order_PxN, -1)
  share_PxN = np.cumsum(sorted_PxN, -1) / sorted_PxN.sum(-1, keepdims=True)
  size_P = (share_PxN < 0.5).sum(-1) + 1
  peak_PxN = np.zeros_like(hole)
  for x, size in enumerate(size_P):
    peak_PxN[x, order_PxN[x, :size]] = True
  return peak_PxN


def world_holes(log_p0_PxN, log_pool_PxN, log_pstar_PxN) -> dict:
  """The docstring's figures for one world's evaluation prompts (NumPy arrays, float64)."""
  N = log_p0_PxN.shape[-1]
  pstar = np.exp(log_pstar_PxN)
  kl_PxN = pstar * (log_pstar_PxN - log_p0_PxN)
  hole = log_p0_PxN < np.log(HOLE / N)
  mass_PxN = pstar * hole
  depth_P = (mass_PxN * (log_pstar_PxN - log_p0_PxN)).sum(-1) / mass_PxN.sum(-1)
  peak_PxN = peak(log_p0_PxN, log_pstar_PxN)
  size_P = peak_PxN.sum(-1)
  kl = kl_PxN.sum(-1).mean()
  return {
      'kl': kl, 'hole_kl_share': (kl_PxN * hole).sum(-1).mean() / kl,
      'hole_pstar_mass': mass_PxN.sum(-1).mean(), 'depth': depth_P.mean(),
      'peak_size': size_P.mean(), 'pool_reach': (np.exp(log_pool_PxN) * peak_PxN).sum(-1).mean(),
      'uniform_reach': peak_PxN.mean(), 'p0_reach': (np.exp(log_p0_PxN) * peak_PxN).sum(-1).mean()}


def peak_shown(peak_PxN, eval_P, prompt_index_SxH, response_index_SxHxK, valid_SxH
               ) -> tuple[float, int | None]:
  """How one world's lanes showed its peak, from their queries in the order asked: (the share of
  their valid queries on the evaluation prompts `eval_P` that hold a peak response, mean over
  lanes; the earliest such query's ranking count over lanes, 1-based, or None if none did)."""
  position_X = np.full(max(int(prompt_index_SxH.max()), int(np.max(eval_P))) + 1, -1)
  position_X[np.asarray(eval_P)] = np.arange(len(eval_P))
  position_SxH = position_X[prompt_index_SxH]
  asked_SxH = valid_SxH & (position_SxH >= 0)
  hits_SxH = asked_SxH & peak_PxN[np.maximum(position_SxH, 0)[..., None],
                                  response_index_SxHxK].any(-1)
  share_S = hits_SxH.sum(-1) / np.maximum(asked_SxH.sum(-1), 1)
  first = [int(h.argmax()) + 1 for h in hits_SxH if h.any()]
  return float(share_S.mean()), (min(first) if first else None)


def main(argv):
  workdir = argv[1]
  config = workdir_lib.saved_config(workdir)
  temperature = float(argv[2]) if len(argv) > 2 else config.experiment.pool_temperature
  spec, lm_spec, world = pipeline.build_world(config)
  W = config.world.num_worlds
  like = jax.tree_util.tree_map(lambda x: x if W == 1 else np.broadcast_to(x, (W,) + x.shape),
                                lm_lib.init_lm(jax.random.key(0), lm_spec))
  params = checkpoints.load_params(f'{workdir}/pretrained', like)
  eval_P = loop_lib.eval_prompt_index(config, spec)
  prompts_PxLx = world_lib.all_prompts(spec)[np.asarray(eval_P)]

  @jax.jit
  def tables(params_w):
    def logits(scale):
      return lambda seqs: lm_lib.lm_logits(params_w, seqs, lm_spec) / scale
    log_p0 = lm_lib.exact_log_probs(logits(1.0), prompts_PxLx, spec)
    # Per-token temperature, as `lm.sample_responses` draws: the tempered chain's exact table.
    log_pool = lm_lib.exact_log_probs(logits(temperature), prompts_PxLx, spec)
    return log_p0, log_pool

  print(f'{workdir}: {W} world(s), {len(eval_P)} evaluation prompts, pool temperature '
        f'{temperature:g}, hole: p_0 < {HOLE:g} / N')
  print('| world | KL(p*‖p_0) | hole: share of KL | p* mass in hole | depth (nats) | peak '
        '(responses per prompt) | pool draw on peak | uniform draw on peak | p_0 on peak |')
  print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  peaks = []
  for w in range(W):
    params_w = params if W == 1 else jax.tree_util.tree_map(lambda x, w=w: x[w], params)
    log_pstar_PxN = (world.log_pstar_PxN if W == 1 else world.log_pstar_PxN[w])[eval_P]
    log_p0, log_pool = (np.asarray(t, np.float64) for t in tables(params_w))
    h = world_holes(log_p0, log_pool, np.asarray(log_pstar_PxN, np.float64))
    peaks.append(peak(log_p0, np.asarray(log_pstar_PxN, np.float64)))
    print(f"| {config.world.seed + w} | {h['kl']:.3f} | {h['hole_kl_share']:.0%} | "
          f"{h['hole_pstar_mass']:.3f} | {h['depth']:.1f} | {h['peak_size']:.0f} | "
          f"{h['pool_reach']:.1e} | {h['uniform_reach']:.1e} | {h['p0_reach']:.1e} |", flush=True)
  shown_files = sorted(glob.glob(os.path.join(workdir, 'results', '*_shown.npz')))
  if shown_files:
    print('\n| run | world | queries on the evaluation prompts that show the peak | first such '
          'ranking |')
    print('| --- | --- | --- | --- |')
  S = config.experiment.num_seeds
  for path in shown_files:
    shown = np.load(path)
    for w in range(W):
      lanes = slice(w * S, (w + 1) * S)  # `pipeline.world_lanes`: world w's seeds, in order.
      share, first = peak_shown(peaks[w], eval_P, shown['prompt_index_SxH'][lanes],
                                shown['response_index_SxHxK'][lanes], shown['valid_SxH'][lanes])
      name = os.path.basename(path).removesuffix('_shown.npz')
      print(f'| {name} | {config.world.seed + w} | {share:.2%} | '
            f"{'never' if first is None else first} |")


if __name__ == '__main__':
  main(sys.argv)
