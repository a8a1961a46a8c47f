"""Tiny config for tests and smoke runs (seconds): a 3-token world, a 1-block LM, few rounds.

  python -m experiments.explore --config=tiny --workdir=/tmp/lmrl_tiny
"""

from lmrl.configs import default


def get_config():
  c = default.get_config()
  c.world.vocab_size = 3  # 9 responses of 2 tokens per prompt.
  c.world.response_length = 2  # Ly.
  c.lm.width = 16  # A 1-block, 16-wide transformer.
  c.lm.depth = 1  # Blocks.
  c.pretrain.steps = 100  # Pre-training steps.
  c.pretrain.batch_size = 32  # Corpus sequences per step.
  c.agent.num_members = 3  # M.
  c.agent.prior_width = 8  # Prior transformer width.
  c.finetune.batch_size = 8  # Choices per update step.
  c.finetune.lm_batch_size = 4  # Corpus sequences per update step.
  c.finetune.steps_per_round = 2  # S.
  c.classic.policy_steps_per_round = 2  # REINFORCE steps per round.
  c.classic.policy_batch_size = 8  # Samples per REINFORCE step.
  c.experiment.num_seeds = 2  # Seeds per strategy.
  c.experiment.responses_per_prompt = 2  # K (pairs keep the tests' compilations small).
  c.experiment.rounds = 4  # T.
  c.experiment.prompts_per_round = 4  # B.
  c.experiment.pool_size = 4  # Infomax pool.
  c.experiment.num_held_out = 16  # Held-out choices.
  c.experiment.rounds_per_chunk = 2  # Two chunks: exercises checkpointing.
  c.experiment.eval_every = 1  # Exact metrics every round.
  c.experiment.num_bootstrap = 20  # Bootstrap resamples.
  return c
