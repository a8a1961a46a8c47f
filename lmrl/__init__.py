"""lmrl: fine-tuning an LM from human choices, where the LM is policy, reward and transition.

`import lmrl` gives every module as `lmrl.<module>` and re-exports the most used names;
`lmrl.run(config, workdir)` runs a whole experiment (`lmrl.runner`); configs are in
`lmrl.configs` (`from lmrl.configs import tiny`). The modules that run an experiment or bring
orbax, matplotlib, absl flags or TensorBoard (runner, progress, sweep, pipeline, workdir,
checkpoints, plotting, tensorboard, flags) are imported on first use: `import lmrl` stays light.

Shape legend: array names end in their shape, one letter per dimension (`logits_BxLxV`).

  S seeds of a sweep (its lanes: J hyper-parameter grid points x S seeds)
  T rounds of a run         R rounds of a chunk / evaluated rounds
  B batch rows (prompts of a round, sequences of a step)  E expanded rows (B*K, P*A, ...)
  K responses shown per prompt   C infomax candidates per prompt   U K-tuples of candidates
  M epistemic members (mixture / train indices)   I any set of epistemic indices
  P prompts (all, or the evaluation prompts)   N responses per prompt (V**Ly)
  A response prefixes (V**(Ly-1))   H buffer rows   Q held-out choices   G groups
  L sequence length [BOS, x, y]; Lx, Ly prompt and response length   V vocabulary (no BOS)
  D model width   Z epinet index dimension   O epinet outputs per position (V, or 1 for a reward)
"""

__version__ = '0.2.0'  # The one version string (setup.py reads it from this file).

import importlib

from lmrl import agent
from lmrl import bootstrap
from lmrl import buffer
from lmrl import checks
from lmrl import choices
from lmrl import classic
from lmrl import configs
from lmrl import epig
from lmrl import epistemic
from lmrl import errors
from lmrl import files
from lmrl import hyperparams
from lmrl import lm
from lmrl import loop
from lmrl import metrics
from lmrl import pretraining
from lmrl import registry
from lmrl import rows
from lmrl import strategies
from lmrl import summary
from lmrl import update
from lmrl import world
from lmrl.agent import Agent, make_joint_agent
from lmrl.epistemic import EpistemicNet, make_ensemble, make_epinet, make_epistemic_lm
from lmrl.loop import make_experiment
from lmrl.strategies import STRATEGIES
from lmrl.update import make_joint_update, plackett_luce_nll
from lmrl.world import World, WorldSpec, make_world

# Imported on first access (`lmrl.runner`, `lmrl.run`): they load orbax, matplotlib or absl.
_LAZY_MODULES = ('checkpoints', 'flags', 'pipeline', 'pretrained_cache', 'plotting', 'progress',
                 'runner', 'sweep', 'tensorboard', 'workdir')
_LAZY_NAMES = {'run': 'runner', 'make_sweep': 'sweep', 'run_strategy': 'sweep'}


def __getattr__(name: str):
  if name in _LAZY_MODULES:
    return importlib.import_module(f'lmrl.{name}')
  if name in _LAZY_NAMES:
    return getattr(importlib.import_module(f'lmrl.{_LAZY_NAMES[name]}'), name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__() -> list[str]:
  return sorted({*globals(), *_LAZY_MODULES, *_LAZY_NAMES})
