r"""One setting of the objective study: the default world, 4 seeds, passive / uniform / infomax.

  python experiments/analysis/objective_study.py NAME '{"section.field": value, ...}'

Overrides are applied to the default config (lmrl/configs/default.py), then 4 seeds, strategies
passive/uniform/infomax and metrics every 5 rounds. The pre-trained LM is shared by every call
(`/tmp/lmrl_study/pt`). Prints the mean KL curve, the minority's mass relative to p*'s, and the
summary's choices to close 50% / 80% of the gap. The rows of experiments/analysis/README.md's
table, as overrides of the current default:

  A '{"finetune.lm_loss_tokens": "sequence", "experiment.responses_per_prompt": 2, "world.full_ranking": false, "agent.center_prior": false, "finetune.l2_prior_choices": 0.0, "experiment.prompts_per_round": 32}'
  B '{"experiment.responses_per_prompt": 2, "world.full_ranking": false, "agent.center_prior": false, "finetune.l2_prior_choices": 0.0, "experiment.prompts_per_round": 32}'
  C '{"agent.center_prior": false, "finetune.l2_prior_choices": 0.0, "experiment.prompts_per_round": 32}'
  D '{"experiment.responses_per_prompt": 2, "world.full_ranking": false, "finetune.l2_prior_choices": 0.0, "experiment.prompts_per_round": 32}'
  E '{"experiment.prompts_per_round": 32}'
  F '{}'
"""
import json, sys, time
import numpy as np, jax
from lmrl import loop, pipeline, runner, summary, sweep
from lmrl.configs import default

runner.use_compilation_cache(runner.DEFAULT_COMPILATION_CACHE)
name = sys.argv[1]
overrides = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
config = default.get_config()
config.experiment.num_seeds = 4
config.experiment.strategies = ('passive', 'uniform', 'infomax')
config.experiment.eval_every = 5
for k, v in overrides.items():
  sec, f = k.split('.')
  with config[sec].unlocked():
    config[sec][f] = tuple(v) if isinstance(v, list) else v
spec, lm_spec, world = pipeline.build_world(config)
params, report = pipeline.pretrained_lm(config, spec, lm_spec, world, '/tmp/lmrl_study/pt', log=lambda s: None)
agent = pipeline.make_agent(config, spec, lm_spec)
exp = loop.make_experiment(config, spec, agent)
e = config.experiment
lanes = sweep.make_lanes(sweep.seed_keys(config.seed, e.num_seeds), params, world)
t0 = time.perf_counter()
sw = sweep.compile_chunk(sweep.make_sweep(exp), lanes, e.rounds_per_chunk)
tc = time.perf_counter() - t0
curves = {}
tgt = np.asarray(exp.target_coverage(world))
secs = {}
for i, s in enumerate(exp.strategies):
  t = []
  out, _ = sweep.run_strategy(sw, lanes, rounds=e.rounds, rounds_per_chunk=e.rounds_per_chunk, strategy=i,
                              on_chunk=lambda d, l, sec: t.append(sec))
  secs[s] = sum(t) / e.rounds
  curves[('joint', s)] = summary.curves_from_metrics(out, e.prompts_per_round, list(exp.evaluated_rounds))
summ = summary.summarize(curves, pretrained_kl=report['kl_to_pstar'], target_coverage_G=tgt, num_bootstrap=200)
print(f'== {name} {overrides}  compile {tc:.0f}s  s/round {secs}  pretrained KL {report["kl_to_pstar"]:.3f}')
for s in exp.strategies:
  c = curves[('joint', s)]
  kl = c.kl_SxR.mean(0)
  cov = c.coverage_SxRxG.mean(0)[:, 1] / tgt[1]
  sm = summ['joint'][s]
  print(f'  {s:9s} KL ' + ' '.join(f'{x:.3f}' for x in kl[::max(1,len(kl)//8)]) + f' | final {kl[-1]:.3f}  minority ratio {cov[0]:.2f}->{cov[-1]:.2f}  c50 {sm["close_50"]["text"]}  c80 {sm["close_80"]["text"]}')
sys.stdout.flush()
