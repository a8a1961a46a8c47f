"""lmrl: fine-tuning an LM from human choices, where the LM is policy, reward and transition.

`import lmrl` gives every module; the most used names are re-exported here, and
`lmrl.run(config, workdir)` runs a whole experiment (`lmrl.runner`); configs are in
`lmrl.configs` (`from lmrl.configs import tiny`).
"""

from lmrl import agent
from lmrl import buffer
from lmrl import checks
from lmrl import choices
from lmrl import classic
from lmrl import configs
from lmrl import epistemic
from lmrl import experiment
from lmrl import lm
from lmrl import metrics
from lmrl import pipeline
from lmrl import plotting
from lmrl import pretraining
from lmrl import results
from lmrl import runner
from lmrl import strategies
from lmrl import sweep
from lmrl import update
from lmrl import world
from lmrl.agent import Agent, make_joint_agent
from lmrl.epistemic import EpistemicNet, make_ensemble, make_epinet, make_epistemic_lm
from lmrl.experiment import make_experiment
from lmrl.runner import run
from lmrl.strategies import STRATEGIES
from lmrl.sweep import make_sweep, run_strategy
from lmrl.update import make_joint_update, plackett_luce_nll
from lmrl.world import World, WorldSpec, make_world
