r"""How much of the pre-trained LM's gap to `p*` is the majority's, per structured base scale.

  python experiments/analysis/pretrained_gap.py --base_scales=1,0.5,0.25,0.15,0.1,0

For each `world.base_scale`, on one world (`structured:ceiling`'s, `--world_seed`) and its first
`world.num_eval_prompts` prompts: `KL(p*||q_0)` (what an LM that knew the majority's taste exactly
would still miss), and the pre-trained LM's KL to `q_0` and to `p*` (pre-trained as the config
says, `lmrl.pipeline.pretrained_lm`, no cache). The share `KL(q_0||p_0) / KL(p*||p_0)` is the part
of the gap that is the pre-trained LM's own error on the majority's taste, which human choices
are not for: experiments/structured/README.md chose `base_scale` from it.
"""

import time

from absl import app
from absl import flags
from absl import logging

from experiments.structured import config as structured_config
from lmrl import loop
from lmrl import metrics
from lmrl import pipeline

_SCALES = flags.DEFINE_list('base_scales', ['1', '0.5', '0.25', '0.15', '0.1', '0'],
                            'world.base_scale values to measure.')
_WORLD_SEED = flags.DEFINE_integer('world_seed', 0, 'world.seed of the one world measured.')


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  print('| base_scale | KL(p*||q_0) | pre-trained LM: KL to q_0 | KL to p* | share | seconds |')
  for scale in map(float, _SCALES.value):
    config = structured_config.get_config('ceiling')
    config.world.num_worlds, config.world.seed, config.world.base_scale = 1, _WORLD_SEED.value, scale
    spec, lm_spec, world = pipeline.build_world(config)
    prompts = loop.eval_prompt_index(config, spec)
    missed = float(metrics.kl_divergence(world.log_pstar_PxN[prompts],
                                         world.log_q_GxPxN[0, prompts]))
    started = time.perf_counter()
    _, report = pipeline.pretrained_lm(config, spec, lm_spec, world, log=lambda line: None)
    to_majority, to_pstar = report['kl_to_majority'], report['kl_to_pstar']
    print(f'| {scale:g} | {missed:.3f} | {to_majority:.3f} | {to_pstar:.3f} | '
          f'{to_majority / to_pstar:.1%} | {time.perf_counter() - started:.0f} |', flush=True)


if __name__ == '__main__':
  app.run(main)
