"""Default config: the headline exploration experiment, sized for a 2-core CPU (minutes).

  python -m experiments.explore --config=default --workdir=/tmp/lmrl
  python -m experiments.pretrain --config=default --workdir=/tmp/lmrl_pt

Override any field with `--config.section.field=value`, e.g. `--config.experiment.num_seeds=4`.
"""

import ml_collections

from lmrl import hyperparams


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0  # Root seed of agents, data and choices: seed s of a sweep uses split(key(seed))[s]
  #             (many worlds: keyed by world seed too, lmrl.pipeline.lane_keys).

  c.world = w = ml_collections.ConfigDict()
  w.seed = 0  # Seed of the world itself (teachers, prompt distribution); fixed across a sweep.
  w.num_worlds = 1  # W: worlds (seeds world.seed .. world.seed + W - 1), each with its own
  #                   pre-trained LM, as a lane axis of one sweep (W x num_seeds lanes).
  w.vocab_size = 6  # V: ordinary tokens (BOS is extra).
  w.prompt_length = 1  # Lx: tokens per prompt.
  w.response_length = 3  # Ly: tokens per response; V**Ly responses per prompt are enumerated.
  w.group_weights = (0.7, 0.3)  # w_g of each group; group 0 is the majority. Must sum to 1.
  w.teacher_temperature = 0.5  # Temperature of the random teachers; lower = peakier tastes.
  w.prompt_logit_scale = 0.5  # rho(x) = softmax(scale * N(0,1)); 0 = uniform prompts.
  w.favourite_mass = 0.5  # A group's favourites: its top responses holding this much of q_g.
  w.kind = 'tabular'  # Teachers: 'tabular' (independent logits per prompt and prefix) or
  #                     'structured' (a shared base LM + each group's token/bigram taste).
  w.taste_scale = 1.0  # Structured: std of a group's taste logit relative to the base's (1).
  w.minority_opposition = 1.0  # Structured: minus the correlation of each minority's taste with
  #                              the majority's: 1 = opposite tastes, 0 = independent.
  w.base_scale = 1.0  # Structured: std of the shared base LM's tabular logits (0 = no base).
  w.num_eval_prompts = 0  # Evaluate on the first n prompts; 0 = every prompt.
  w.corpus_group_mix = (1.0, 0.0)  # Group mix of the pre-training corpus (majority only).
  w.iia = True  # True: Luce choices on p*; False: each chooser uses their group's q_g (non-IIA).
  w.full_ranking = True  # True: humans rank all K shown responses (Plackett-Luce).

  c.lm = m = ml_collections.ConfigDict()
  m.width = 32  # D: residual width of the transformer.
  m.depth = 2  # Transformer blocks.
  m.num_heads = 2  # Attention heads (must divide width).
  m.mlp_ratio = 4  # MLP hidden width = mlp_ratio * width.

  c.pretrain = p = ml_collections.ConfigDict()
  p.steps = 1500  # Pre-training steps.
  p.batch_size = 128  # Corpus sequences per step.
  p.learning_rate = 3e-3  # Peak Adam learning rate (warmup + cosine decay).

  c.agent = a = ml_collections.ConfigDict()
  a.kind = 'joint'  # 'joint' (LM = its own reward), 'classic' (RM + REINFORCE) or 'both'.
  a.epistemic = 'ensemble'  # 'ensemble' (randomized priors) or 'epinet'.
  a.num_members = 8  # M: ensemble members, or epistemic indices averaged by the epinet.
  a.prior_scale = 1.0  # beta: scale of the frozen additive prior network's logits.
  a.center_prior = True  # Ensemble: subtract the members' mean prior (mixture starts at the LM).
  a.deploy = 'mixture'  # The deployed LM: 'mixture' (mean of the members' probabilities) or
  #                        'mean_logits' (softmax of their mean logits; centred priors cancel).
  a.prior_width = 16  # Width of each member's prior transformer (ensemble).
  a.prior_depth = 1  # Depth of each member's prior transformer (ensemble).
  a.bootstrap = 'exponential'  # Per-example member weights: 'exponential', 'poisson' or 'none'.
  a.index_dim = 4  # Epinet: dimension of the Gaussian epistemic index z.
  a.epinet_hidden = 32  # Epinet: hidden width of its MLP.

  c.finetune = u = ml_collections.ConfigDict()
  u.learning_rate = 1e-3  # Adam learning rate of the joint update (traced: sweepable).
  u.lambda_lm = 1.0  # Weight of the next-token loss on pre-training data (traced).
  u.lambda_l2 = 0.01  # Weight of ||theta - theta_0||^2 before any choice (traced).
  u.l2_prior_choices = 1000.0  # n0: the L2 weight is lambda_l2 n0/(n0 + choices); 0 = constant.
  u.shown_mass_weight = 0.0  # Holds each shown set's total mass at the member's initial LM's
  #                            (lmrl.update: the direction a ranking does not identify); 0 = off.
  u.batch_size = 32  # Choices per member per sampled step (rows 'uniform'/'recent'; classic).
  u.rows = 'all'  # Rows a joint step fits: 'all' (every ranking, exactly, through the members'
  #                 tables: experiments/learner), 'uniform' batches or 'recent' (half from the
  #                 latest round); where the tables would not fit, lmrl.checks refuses 'all'.
  u.lm_batch_size = 16  # Corpus sequences per update step for the next-token loss.
  u.lm_loss_tokens = 'prompt'  # Next-token loss on 'sequence' ([x, y]) or 'prompt' (x only).
  u.steps_per_round = 8  # S: joint-update steps after each round of queries.
  u.stop = 'none'  # Joint agent, rows 'all': stop a round's steps where the loss on held-out
  #                  rankings rises: 'newest' (the latest round's, fitted from the next on) or
  #                  'every_k' (every stop_every-th, never fitted); 'none': S steps (lmrl.agent).
  u.stop_every = 10  # k of stop='every_k'.
  u.ema_decay = 0.0  # Joint agent: deploy (and explore with) the Polyak average of its parameters,
  #                    ema <- d ema + (1 - d) theta after every step; 0 = the parameters as they are.

  c.classic = k = ml_collections.ConfigDict()  # Read by the classic agent ('classic', 'both').
  k.reward_rows = 'uniform'  # Rows a reward-model step fits: 'uniform' or 'recent' batches (a
  #                            reward model has no tables to look every ranking up in).
  k.policy_steps_per_round = 8  # REINFORCE steps on the policy after each round's reward fit.
  k.policy_batch_size = 64  # Responses sampled from the policy per REINFORCE step.
  k.policy_learning_rate = 1e-3  # Adam learning rate of the policy stage.
  k.entropy_weight = 1.0  # Weight of H(pi) in E[r] + H(pi); 1 makes the optimum pi ~ exp(r).

  c.experiment = e = ml_collections.ConfigDict()
  e.strategies = ('passive', 'uniform', 'boltzmann', 'thompson', 'infomax')  # To compare.
  e.num_seeds = 16  # Seeds per strategy (vmapped).
  e.rounds = 40  # T: rounds of queries.
  e.prompts_per_round = 64  # B: prompts (= human choices, here rankings of K) per round.
  e.responses_per_prompt = 4  # K >= 2: responses shown per prompt (ranked: world.full_ranking).
  e.temperature = 2.0  # tau of the boltzmann strategy.
  e.pool_size = 16  # Infomax: candidates per prompt; every K-tuple among them is scored.
  e.pool_temperature = 3.0  # Infomax: per-token temperature of the candidate pool (see README).
  e.info_temperature = 0.1  # Infomax: tuples drawn with prob. ~ exp(information / tau)
  #                            (batch-aware: a recurring prompt gets other queries); 0 = best.
  e.info_units = 'nats'  # Infomax: tau in 'nats', or in units of each prompt's best tuple's
  #                        information ('best': the draw keeps its shape as members agree).
  e.epig_target = 'prompt'  # Epig's Y: the query's 'prompt', or every evaluation prompt
  #                           ('population', weighed as the kl metric weighs them).
  e.epig_samples = 0  # Epig: Monte-Carlo draws of Y per member; 0 = every response, exactly.
  e.epig_top = 1  # Epig: each member's most probable responses among its pool_size candidates
  #                 (the rest are samples at pool_temperature).
  e.epig_tuples = 'all'  # Epig: the best of every K-tuple of the pool ('all'), or a tuple grown
  #                       one slot at a time ('greedy': C(C,2) + (K-2) C tuples scored, not C(C,K)).
  e.epig_batch = 'round'  # Epig: a round's queries are chosen one after another, each conditioned
  #                        on the simulated outcomes of every earlier one ('round'), or only of
  #                        the earlier ones on its own prompt ('prompt'; the round's: the
  #                        ensemble's weights collapse within its first 4-16 queries).
  e.epig_tables = True  # Epig (and epig_random): each member's exact table over every response
  #                      (True), or only draws: each member's greedy response for the pool and
  #                      epig_samples draws of Y per member, scored by every member (False; the
  #                      joint agent, epig_target 'prompt', epig_top <= 1; a cost that does not
  #                      grow with the response space).
  e.num_held_out = 256  # Held-out choices (uniform responses) for the choice log-loss metric.
  e.eval_every = 5  # Exact metrics every n rounds (and at the last round).
  e.rounds_per_chunk = 10  # Rounds per compiled chunk: progress and a checkpoint after each.
  e.num_bootstrap = 500  # Bootstrap resamples of seeds for error bars in summary.json.
  e.refit_rounds = ()  # Rounds (evaluated ones) at which each lane's data is refitted from the
  #                      pre-trained LM to convergence (`lmrl.refit`: learner_lag); () = none.
  e.refit_steps = 300  # Exact full-buffer steps of each refit (at most, with a held-out set).
  e.refit_holdout_every = 10  # The refit's stopping rule: every k-th row held out of a first fit,
  #                             whose lowest held-out loss sets the steps; 0 = refit_steps, no rule.
  e.refit_check_every = 25  # Steps between the first fit's held-out losses.
  e.shard_seeds = False  # Shard the seed axis across all local devices (jax.sharding).
  e.distributed = False  # Call jax.distributed.initialize() first (multi-host).
  e.heartbeat_seconds = 100  # Distributed: a process silent this long counts as lost, and the
  #                            others stop (jax.distributed's heartbeat timeout; 100 = jax's).

  # Hyper-parameter sweep (`lmrl.hyperparams`): values to try for each traced hyper-parameter
  # (one field per name of `hyperparams.TRACED`, each the field of the same name above), vmapped
  # next to the seeds in the one compilation; the grid is the product of the non-empty fields,
  # e.g. --config.sweep.learning_rate="(3e-4,1e-3)".
  # Empty (every field's default): the value above is used.
  c.sweep = hyperparams.empty_sweep()
  return c
