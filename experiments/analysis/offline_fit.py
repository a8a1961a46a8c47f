r"""How many uniformly shown rankings does the joint fit need to reach p*? (the statistical limit)

  python experiments/analysis/offline_fit.py CAPACITY K STEPS LM_LOSS_TOKENS LAMBDA_LM LAMBDA_L2 N1,N2,...

On the default world and its pre-trained LM, one LM (no prior) is fitted with STEPS joint
updates of 128 rankings to a fixed buffer of N rankings of K uniformly drawn responses (the first
N of CAPACITY), for each N; prints the final KL(p*||p) and each group's coverage over p*'s. The
rows of experiments/analysis/README.md:

  python experiments/analysis/offline_fit.py 20480 4 2000 prompt 1.0 0.01 1280,5120,20480
  python experiments/analysis/offline_fit.py 20480 4 2000 prompt 1.0 0.0 1280,5120,20480
"""
import json, sys, time
import numpy as np, jax, jax.numpy as jnp
from lmrl import pipeline, hyperparams, update, epistemic, buffer as buffer_lib, world as world_lib, choices, metrics, lm as lm_lib, runner
from lmrl.configs import default
runner.use_compilation_cache(runner.DEFAULT_COMPILATION_CACHE)
config = default.get_config()
spec, lm_spec, world = pipeline.build_world(config)
params, report = pipeline.pretrained_lm(config, spec, lm_spec, world, '/tmp/lmrl_study/pt', log=lambda s: None)
prompts = jnp.asarray(world_lib.all_prompts(spec))
tgt = metrics.target_coverage(world, jnp.arange(spec.num_prompts))
cap = int(sys.argv[1]); K = int(sys.argv[2]); full = K > 2
steps = int(sys.argv[3]); lm_tokens = sys.argv[4]; lam_lm = float(sys.argv[5]); lam_l2 = float(sys.argv[6])
batch = 128
with config.agent.unlocked():
  config.agent.num_members = 1
epi = epistemic.make_epistemic_lm(config.agent, lm_spec)
step = update.make_joint_update(epi, spec, full_ranking=full, rows=update.FitRows(batch_size=batch),
                                lm_term=update.NextTokenTerm(32, (1.0, 0.0), lm_tokens))
def make_buffer(key, n):
  kx, ky, kc = jax.random.split(key, 3)
  x = world_lib.sample_prompts(kx, world, cap)
  y = jax.random.randint(ky, (cap, K, spec.response_length), 0, spec.vocab_size, dtype=jnp.int32)
  r = choices.simulate_rankings(kc, world, spec, x, y)
  b = buffer_lib.empty(cap, spec.prompt_length, K, spec.response_length, 1)
  b = buffer_lib.append(b, world_lib.prompt_tokens(x, spec), y, r, jnp.ones((cap, 1)))
  return b._replace(valid_H=jnp.arange(cap) < n)
@jax.jit
def fit(key, n):
  b = make_buffer(key, n)
  st = update.init_agent_state(key, epi, params, prior_scale=0.0)
  hparams = dict(hyperparams.as_arrays(hyperparams.values(config)), learning_rate=3e-3,
                 lambda_lm=lam_lm, lambda_l2=lam_l2, l2_prior_choices=0.0)
  def body(s, i):
    return step(jax.random.fold_in(key, i), s, b, world, hparams)[0], None
  out = []
  s = st
  s, _ = jax.lax.scan(body, s, jnp.arange(steps))
  lp = epistemic.member_exact_log_probs(epi, s.params, prompts, spec)[0]
  return metrics.kl_divergence(world.log_pstar_PxN, lp), metrics.coverage(lp, world.favourites_GxPxN) / tgt
ns = [int(v) for v in sys.argv[7].split(',')]
t = time.time()
res = [fit(jax.random.key(i), n) for i, n in enumerate(ns)]
print(f'K={K} steps={steps} lm={lm_tokens} lam_lm={lam_lm} lam_l2={lam_l2} pretrained KL {report["kl_to_pstar"]:.3f}  ({time.time()-t:.0f}s)')
for n, (kl, cov) in zip(ns, res):
  print(f'   N={n:6d}  KL {float(kl):.3f}  coverage/target {np.round(np.asarray(cov), 2)}')
