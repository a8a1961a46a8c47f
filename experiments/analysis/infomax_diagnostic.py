r"""What does infomax's tuple draw look like, early and late? (a diagnostic, not a benchmark)

  python experiments/analysis/infomax_diagnostic.py WORKDIR STRATEGY

Restores the last checkpoint of `WORKDIR/checkpoints/joint_STRATEGY` (of a finished or
interrupted run of `python -m experiments.explore --workdir=WORKDIR`, with the config it saved in
`WORKDIR/config.json`; each point of a hyper-parameter sweep separately), and for the agent of
every seed there and for the agent before any choice, draws infomax's candidate pool for every prompt (C samples of the deployed LM
at the pool temperature), scores every K-tuple by the information its ranking's first choice
carries about the member index, and prints, averaged over prompts and seeds:

  max I / mean I      the best tuple's information and the pool's average (nats);
  tuples drawn among  exp(entropy) of infomax's draw p(u) ~ exp(I_u / tau): how many tuples it
                      effectively chooses among (out of U = C choose K), for tau in nats and
                      in units of the best tuple's I (`strategies.tuple_logits`);
  E_tau[I] / max I    the information the draw gets, relative to the best tuple's.

If the members agree more as choices accumulate, I shrinks, and a fixed tau (in nats) makes the
draw close to uniform over the pool's tuples: infomax then shows random 4-tuples of the pool.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np

from lmrl import errors
from lmrl import hyperparams
from lmrl import loop as loop_lib
from lmrl import runner
from lmrl import strategies
from lmrl import world as world_lib


TAUS = [('nats', 0.1), ('best', 0.05), ('best', 0.1), ('best', 0.2)]  # Draws to compare.


def draw_statistics(explorer, key, prompts_PxLx, p: strategies.StrategyParams):
  """Per draw of `TAUS`: [max I, mean I, effective tuples, E_tau[I] / max I], float32[D, 4, P]."""
  _, _, info_PxU = strategies.pool_information(key, explorer, prompts_PxLx, p)
  best_P = info_PxU.max(-1)
  out = []
  for units, tau in TAUS:
    log_q_PxU = jax.nn.log_softmax(strategies.tuple_logits(info_PxU, tau, units), axis=-1)
    q_PxU = jnp.exp(log_q_PxU)
    out.append(jnp.stack([best_P, info_PxU.mean(-1),
                          jnp.exp(-jnp.sum(q_PxU * log_q_PxU, axis=-1)),
                          jnp.sum(q_PxU * info_PxU, -1) / best_P]))
  return jnp.stack(out)


def main(argv):
  workdir, strategy = argv[1], argv[2]
  try:
    run = runner.restore_joint_sweep(workdir, strategy)
  except errors.UserError as error:
    raise SystemExit(f'error: {error}') from None
  config, spec, agent, fresh, restored = run.config, run.spec, run.agent, run.fresh, run.state
  e = config.experiment
  S = e.num_seeds
  grid = hyperparams.grid(config)  # Lanes as the runner makes them: grid points x seeds.
  L = S * grid.size
  prompts_PxLx = jnp.asarray(world_lib.all_prompts(spec))

  @jax.jit
  def statistics(state, key):  # -> float32[L, D, 4]: each lane's means over prompts.
    def one(agent_state, h, key):
      p = loop_lib.strategy_params(config, h)
      return draw_statistics(agent.explorer(agent_state, h), key, prompts_PxLx, p).mean(-1)
    return jax.vmap(one)(state.agent, state.hparams, jax.random.split(key, L))

  print(f'{strategy}: pools of {e.pool_size} at the pool temperature, '
        f'U = {len(strategies.tuples(e.pool_size, e.responses_per_prompt))} tuples; means over '
        f'{spec.num_prompts} prompts x {S} seeds')
  for label, state in [('before any choice', fresh),
                       (f'after {run.rankings} rankings', restored)]:
    stats_LxDx4 = np.asarray(statistics(state, jax.random.key(7)))
    for j in range(grid.size):
      point = f' [{grid.label(j)}]' if grid.names else ''
      stats_Dx4 = stats_LxDx4[j * S:(j + 1) * S].mean(0)
      print(f'  {label}{point}: max I {stats_Dx4[0, 0]:.4f}  mean I {stats_Dx4[0, 1]:.4f}')
      for (units, tau), (_, _, effective, share) in zip(TAUS, stats_Dx4):
        print(f'    tau {tau} ({units}): tuples drawn among {effective:7.1f}  '
              f'E_tau[I] / max I {share:.2f}')

if __name__ == '__main__':
  main(sys.argv)
