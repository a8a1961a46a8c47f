r"""Is the online LM short of its data, or past it? (a diagnostic, not a benchmark)

  python experiments/analysis/learner_direction.py WORKDIR STRATEGY [STEPS [EVERY]] [NAME=VALUE ...]

Restores the last checkpoint of `WORKDIR/checkpoints/joint_STRATEGY` (a run of
`python -m experiments.explore --workdir=WORKDIR` with the joint agent, one world, with the
config it saved), and from every lane's online agent state, as it was deployed there, keeps
fitting the lane's own buffer with the exact full-buffer step (`finetune.rows='all'`, the run's
traced learning rate and regularisers; Adam's moments carried on) for STEPS more steps (default
160), printing the deployed LM's exact `KL(p*||p)` every EVERY steps (default 8: one of the
default's rounds), mean +- s.e. over the lanes, and how many lanes are below their start.
NAME=VALUE sets a traced hyper-parameter of every lane for the continued steps
(`lmrl.hyperparams.TRACED`, e.g. `lambda_l2=0.05 l2_prior_choices=0`: a constant, stronger
anchor to the pre-trained LM).

`learner_lag` (online KL - refit KL, `lmrl.refit`) says how far the online LM is from what its
data can give; this says in which direction: if more steps on the same data lower the KL, the
online learner is short of its data (more steps a round, or steps that grow with the data, would
help); if they raise it at once, it is already past the held-out optimum (a stop on held-out
choices, or a stronger prior, would). The KL reads p*: this is a diagnosis of the learner, never a
rule it may use.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np

from lmrl import agent as agent_lib
from lmrl import epistemic
from lmrl import errors
from lmrl import loop as loop_lib
from lmrl import metrics as metrics_lib
from lmrl import runner
from lmrl import update as update_lib
from lmrl import world as world_lib


def continued_kl(config, spec, lm_spec, world, state, keys_L, steps: int, every: int):
  """float32[L, steps // every + 1]: each lane's deployed KL after 0, every, 2 every, ... more
  exact full-buffer steps from its online state (`state`, a `loop.RunState` over L lanes)."""
  epi = epistemic.make_epistemic_lm(config.agent, lm_spec)
  step = update_lib.joint_update_from_config(config, epi, spec, rows='all',
                                                 hold_out='none')
  eval_index_P = loop_lib.eval_prompt_index(config, spec)
  eval_prompts_PxLx = world_lib.prompt_tokens(eval_index_P, spec)

  def kl(agent_state):
    log_p_PxN, _ = agent_lib.deployed_exact_log_probs(
        epi, update_lib.deployed_params(agent_state), eval_prompts_PxLx, spec,
        config.agent.deploy)
    return metrics_lib.distribution_metrics(log_p_PxN, world, eval_index_P)['kl']

  def one_lane(key, agent_state, buffer, hparams):
    def block(agent_state, b):
      def one(s, i):
        return step(jax.random.fold_in(key, i), s, buffer, world, hparams)[0], None
      agent_state, _ = jax.lax.scan(one, agent_state, b * every + jnp.arange(every))
      return agent_state, kl(agent_state)
    _, kl_B = jax.lax.scan(block, agent_state, jnp.arange(steps // every))
    return jnp.concatenate([kl(agent_state)[None], kl_B])

  return jax.jit(jax.vmap(one_lane))(keys_L, state.agent, state.buffer, state.hparams)


def from_checkpoint(workdir: str, strategy: str, steps: int, every: int,
                    settings: dict[str, str]) -> tuple[int, np.ndarray, object]:
  """(rankings at the checkpoint, float32[L, steps // every + 1] as `continued_kl`, the config)
  for the last checkpoint of `workdir`'s joint `strategy`, its lanes' traced hyper-parameters
  replaced by `settings` ({name: value}) for the continued steps."""
  if every < 1 or steps < every or steps % every:
    raise SystemExit(f'error: STEPS ({steps}) must be a positive multiple of EVERY ({every} >= 1)')
  try:
    run = runner.restore_joint_sweep(workdir, strategy)
  except errors.UserError as error:
    raise SystemExit(f'error: {error}') from None
  config, state = run.config, run.state
  unknown = sorted(set(settings) - set(state.hparams))
  if unknown:
    raise SystemExit(f'error: {unknown} are not traced hyper-parameters ({sorted(state.hparams)})')
  state = state._replace(hparams={
      name: jnp.full_like(v, float(settings[name])) if name in settings else v
      for name, v in state.hparams.items()})
  keys_L = jax.vmap(lambda k: jax.random.fold_in(k, 0x4C444952))(run.keys_L)  # Not the run's.
  kl_LxB = np.asarray(continued_kl(config, run.spec, run.lm_spec, run.world, state, keys_L, steps,
                                   every))
  return run.rankings, kl_LxB, config


def main(argv):
  settings = dict(a.split('=', 1) for a in argv[3:] if '=' in a)
  argv = [a for a in argv if '=' not in a]
  if len(argv) not in (3, 4, 5):
    raise SystemExit(__doc__.split('\n\n')[1])
  strategy = argv[2]
  steps = int(argv[3]) if len(argv) > 3 else 160
  every = int(argv[4]) if len(argv) > 4 else 8
  rankings, kl_LxB, config = from_checkpoint(argv[1], strategy, steps, every, settings)
  L = kl_LxB.shape[0]
  print(f'{strategy} after {rankings} rankings ({L} lanes; '
        f'{config.experiment.prompts_per_round} rankings and '
        f'{config.finetune.steps_per_round} steps a round in the run): the deployed KL after '
        'more exact full-buffer steps on the same data'
        + (f', with {settings}' if settings else ''))
  for b in range(kl_LxB.shape[1]):
    kl_L = kl_LxB[:, b]
    below = int(np.sum(kl_L < kl_LxB[:, 0]))
    print(f'  +{b * every:4d} steps: KL {kl_L.mean():.4f} +- {kl_L.std(ddof=1) / np.sqrt(L):.4f}'
          f'  ({below}/{L} lanes below their start)')


if __name__ == '__main__':
  main(sys.argv)
