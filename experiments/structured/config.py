"""The structured world family (#26): tastes shared across prompts, many worlds at once.

  python -m experiments.study --study=structured --variants=ceiling --runs=runs/studies
  python -m experiments.explore --config=structured:ceiling \
      --workdir=runs/studies/structured/ceiling

The world (`world.kind='structured'`, docs/worlds.md): 64 two-token prompts (V = 8, Lx = 2),
4,096 four-token responses per prompt (Ly = 4), a 90/10 population whose minority's taste opposes
the majority's, the corpus the majority's alone. 8 worlds x 2 seeds = 16 lanes, each world with its
own teachers and pre-trained LM; every strategy runs on the same (world, seed) pairs. The exact
metrics enumerate the first 8 prompts (`world.num_eval_prompts`, stated: the agent's exact tables
over all 64 prompts cost 4 GB and ~8 s per lane and evaluation on a CPU, docs/worlds.md).

Variants:
  ceiling   passive, uniform and the oracle design (K distinct responses drawn from p*^(1/2)):
            what any design could buy here, measured before any learner-side strategy is read.
  headline  the same world, learner and budget with every contender: passive, uniform,
            boltzmann (tau 2), BALD infomax, epig (Y drawn from the members, 16 per member:
            exact Y would score 4,096 responses per prompt and member), epig's control (a random
            tuple of epig's own pool: does the score or the pool do the work?) and the oracle.
  headline_<strategy>  the headline's config with that one strategy: a run that fits a sitting
            on a 2-core CPU (the whole headline takes ~10 hours there); then
              python -m experiments.combine --study=structured --name=headline_combined \
                  --variants=headline_epig,headline_epig_random,...,headline_oracle
            gives the headline's summary, paired over the shared lanes.
  headline_<strategy>_worlds0-3, _worlds4-7  that strategy on world seeds 0-3 or 4-7 alone (8
            lanes: the whole run's lanes of those worlds), for a strategy whose 16 lanes do not
            fit a sitting (epig); combine joins the halves with the whole-world variants.
  epig_greedy_worlds0-3, _worlds4-7  headline_epig's halves with tuples grown greedily
            (`experiment.epig_tuples='greedy'`, ~11x cheaper selection) instead of every tuple of
            the pool: does the cheaper search lose anything in choices, on the same lanes? Not a
            contender (combine refuses it beside the headline: its config differs).
  epig_by_prompt_worlds0-3, _worlds4-7  headline_epig's halves with each query conditioned only
            on the earlier queries of its own prompt (`experiment.epig_batch='prompt'`): the
            headline's batch collapses the ensemble's weights within a round's first 4-16
            queries, so most of its queries are random tuples of the pool
            (experiments/analysis/epig_diagnostic.py). Not a contender either.
  epinet_worlds0-3, _worlds4-7  epig and its control (one sweep) on those halves with the epinet
            (`agent.epistemic='epinet'`) instead of the ensemble, its prior scale
            `EPINET_PRIOR_SCALE`: #25's "the epinet with epig, measured the same way".

The family's fields were written here, from the docs/worlds.md table of what the world's
parameters do (a minority's favourites ~20-5,000x rarer under the majority's teacher), before
any run of this study; they are changed only on the pre-trained LM and the oracle-vs-passive
measurement (README: why `base_scale` 0.1 and 32 steps a round, both decided before any
learner-side strategy was run on the family).
"""

import experiments
from lmrl.configs import default

HEADLINE_STRATEGIES = ('epig', 'epig_random', 'infomax', 'boltzmann', 'passive', 'uniform',
                       'oracle')
# A literal (lmrl.flags reads it without running this file); after 'ceiling' and 'headline', the
# headline one strategy a run, then one strategy on half the worlds a run (each fits a sitting;
# `experiments.combine` joins them).
VARIANTS = ('ceiling', 'headline', 'headline_epig', 'headline_epig_random', 'headline_infomax',
            'headline_boltzmann', 'headline_passive', 'headline_uniform', 'headline_oracle',
            'headline_epig_worlds0-3', 'headline_epig_random_worlds0-3',
            'headline_infomax_worlds0-3', 'headline_boltzmann_worlds0-3',
            'headline_passive_worlds0-3', 'headline_uniform_worlds0-3',
            'headline_oracle_worlds0-3', 'headline_epig_worlds4-7',
            'headline_epig_random_worlds4-7', 'headline_infomax_worlds4-7',
            'headline_boltzmann_worlds4-7', 'headline_passive_worlds4-7',
            'headline_uniform_worlds4-7', 'headline_oracle_worlds4-7',
            'epig_greedy_worlds0-3', 'epig_greedy_worlds4-7', 'epig_by_prompt_worlds0-3',
            'epig_by_prompt_worlds4-7', 'epinet_worlds0-3', 'epinet_worlds4-7')
ONE_STRATEGY = VARIANTS[2:9]
HALF_WORLDS = {'_worlds0-3': 0, '_worlds4-7': 4}  # Suffix: the first of its 4 world seeds.
assert ONE_STRATEGY == tuple(f'headline_{s}' for s in HEADLINE_STRATEGIES)
assert VARIANTS[9:23] == tuple(v + half for half in HALF_WORLDS for v in ONE_STRATEGY)
assert VARIANTS[23:27] == tuple(f'epig_{change}{half}' for change in ('greedy', 'by_prompt')
                               for half in HALF_WORLDS)
assert VARIANTS[27:] == tuple(f'epinet{half}' for half in HALF_WORLDS)
EPINET_PRIOR_SCALE = 3.0  # The smallest of (1, 2, 3, 5) whose predicted KL before any choice
#   (0.817, mean of the headline's 16 lanes) reaches the ensemble's (0.743): chosen at round 0,
#   no strategy run, before epig ran with it (README, "The epinet with epig").


def structured_world(c) -> None:
  """The family's world and sizes, shared by every variant (edits `c` in place)."""
  c.world.kind = 'structured'  # Shared base LM + each group's token/bigram taste.
  c.world.vocab_size = 8  # V = 8.
  c.world.prompt_length = 2  # Lx = 2: 64 prompts.
  c.world.response_length = 4  # Ly = 4: 4,096 responses per prompt.
  c.world.group_weights = (0.9, 0.1)  # A 10% minority.
  c.world.num_eval_prompts = 8  # Exact metrics on the first 8 prompts (cost, above).
  c.world.num_worlds = 8  # 8 worlds ...
  c.experiment.num_seeds = 2  # ... x 2 seeds = 16 lanes.
  c.experiment.eval_every = 10  # Exact metrics every 10 rounds (640 rankings).
  c.experiment.rounds = 50  # 3,200 rankings: the pilot's oracle closed ~80% at 2,560 (README).
  c.world.base_scale = 0.1  # The largest of (1, 0.5, 0.25, 0.1, 0) at which the pre-trained LM
  #                           knows the majority's taste (its KL to q_0 <= 10% of its KL to p*):
  #                           the gap left is the minority's, what choices are for (README).
  c.finetune.steps_per_round = 32  # The learner keeps up with the oracle's data (README: 8 steps
  #                                  lag; replay of the latest round and lr 3e-3 did not help).
  c.finetune.rows = 'uniform'  # Sampled batches: the full-buffer step's tables over 64 prompts
  #                              would need ~316 GB at 16 lanes (lmrl.checks refuses 'all' here).


def get_config(arg=None):
  experiments.check_variant('structured', arg, VARIANTS)
  c = default.get_config()
  structured_world(c)
  if arg.startswith('epig_greedy'):  # headline_epig's half, the search changed alone.
    c = get_config('headline_epig' + arg.removeprefix('epig_greedy'))
    c.experiment.epig_tuples = 'greedy'
    return c
  if arg.startswith('epig_by_prompt'):  # headline_epig's half, the batch's conditioning alone.
    c = get_config('headline_epig' + arg.removeprefix('epig_by_prompt'))
    c.experiment.epig_batch = 'prompt'
    return c
  if arg.startswith('epinet'):  # headline_epig's half and its control, with the epinet.
    c = get_config('headline_epig' + arg.removeprefix('epinet'))
    c.experiment.strategies = ('epig', 'epig_random')
    c.agent.epistemic = 'epinet'
    c.agent.prior_scale = EPINET_PRIOR_SCALE
    return c
  if arg.startswith('headline'):
    # The contenders first: passive, uniform and the oracle repeat the ceiling's lanes exactly
    # (a lane's randomness does not depend on the strategy's position).
    variant = arg
    for half, first_world in HALF_WORLDS.items():
      if arg.endswith(half):  # World seeds first_world .. first_world + 3: the lanes the whole
        variant = arg.removesuffix(half)  # run gives them (lmrl.pipeline.lane_keys).
        c.world.seed, c.world.num_worlds = first_world, 4
    c.experiment.strategies = (HEADLINE_STRATEGIES if variant == 'headline'
                               else (variant.removeprefix('headline_'),))
    c.experiment.epig_samples = 16  # Monte-Carlo Y, stratified over the members (lmrl.epig).
    c.experiment.rounds = 80  # 5,120 rankings, from the ceiling's oracle alone (README): at
    #                           3,200 it was 0.297 against f = 80%'s 0.272, falling ~0.03 per 640.
  else:
    c.experiment.strategies = ('passive', 'uniform', 'oracle')  # The ceiling's three designs.
  return c
