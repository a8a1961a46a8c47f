"""Paper scale, for one GPU: every strategy, 32 seeds, a larger world and LM (not yet run).

  python -m experiments.explore --config=paper --workdir=runs/paper
  python -m experiments.study --study=paper --runs=runs/studies

With several devices add `--config.experiment.shard_seeds=True` (seeds must divide evenly).
"""

import experiments
from lmrl.configs import default

VARIANTS = ()  # One run.


def get_config(arg=None):
  experiments.check_variant('paper', arg, VARIANTS)
  c = default.get_config()
  c.world.vocab_size = 8  # V.
  c.world.response_length = 4  # Ly: 4096 responses per prompt, all enumerated.
  c.lm.width = 64  # D.
  c.lm.depth = 3  # Blocks.
  c.lm.num_heads = 4  # Heads.
  c.pretrain.steps = 4000  # Pre-training steps.
  c.pretrain.batch_size = 256  # Corpus sequences per step.
  c.agent.num_members = 10  # M.
  c.agent.prior_width = 32  # Prior transformer width.
  c.finetune.batch_size = 64  # Choices per update step.
  c.finetune.lm_batch_size = 32  # Corpus sequences per update step.
  c.finetune.steps_per_round = 16  # S.
  c.finetune.rows = 'uniform'  # Sampled batches: the full-buffer step would need ~169 GB here.
  c.experiment.num_seeds = 32  # Seeds per strategy.
  c.experiment.rounds = 100  # T.
  c.experiment.prompts_per_round = 32  # B.
  c.experiment.pool_size = 20  # Infomax pool (4845 4-tuples scored per prompt).
  c.experiment.num_held_out = 1024  # Held-out choices.
  c.experiment.eval_every = 5  # Exact metrics every 5 rounds (4096 responses x 8 prompts x M).
  c.experiment.rounds_per_chunk = 20  # Progress and a checkpoint every 20 rounds.
  return c
