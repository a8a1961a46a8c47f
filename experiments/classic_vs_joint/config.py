"""The joint agent (the LM is its own reward) vs the classic pipeline (reward model + REINFORCE).

  python -m experiments.explore --config=classic_vs_joint --workdir=runs/classic_vs_joint
  python -m experiments.study --study=classic_vs_joint --runs=runs/studies

Passive exploration, both agents on the same seeds and world, in the setting of the measurement
(commit 5bf62f5, the previous default: pairs, next-token loss on whole sequences, constant L2
anchor, uncentred priors, 8 seeds x 40 rounds x 32 choices). The code has changed since (seed
keys, sampling by member), so a rerun measures the same setting, not the same numbers.
"""

import experiments
from lmrl.configs import default

VARIANTS = ()  # One run.


def get_config(arg=None):
  experiments.check_variant('classic_vs_joint', arg, VARIANTS)
  c = default.get_config()
  c.agent.kind = 'both'  # The joint agent and the classic pipeline, side by side.
  c.experiment.strategies = ('passive',)  # Passive exploration only.
  c.experiment.num_seeds = 8  # The previous default's 8 seeds.
  c.experiment.prompts_per_round = 32  # Its 32 choices a round (1,280 in 40 rounds).
  c.experiment.responses_per_prompt = 2  # Its K = 2: pairs.
  c.experiment.eval_every = 1  # Its metrics every round.
  c.world.full_ranking = False  # Its single choice per query.
  c.agent.center_prior = False  # Its uncentred priors.
  c.finetune.lm_loss_tokens = 'sequence'  # Its next-token loss on whole sequences.
  c.finetune.l2_prior_choices = 0.0  # Its constant L2 anchor.
  c.finetune.rows = 'uniform'  # Its sampled batches, as the classic reward model's.
  return c
