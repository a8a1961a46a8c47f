"""The agent kinds: `config.agent.kind` names one of `AGENT_KINDS` (or 'both', every one of them).

  AGENT_KINDS['joint'](config, spec, lm_spec) -> Agent   the LM is its own reward (lmrl.agent)
  AGENT_KINDS['classic'](...)                             reward model + REINFORCE (lmrl.classic)

A new kind is one entry here (a factory `(config, spec, lm_spec) -> agent.Agent`); the config
check (`lmrl.checks`), `lmrl.pipeline.make_agent` and the runner read this table. Nothing here
imports orbax or matplotlib.
"""

from lmrl import agent
from lmrl import classic

AGENT_KINDS = {'joint': agent.make_joint_agent, 'classic': classic.make_classic_agent}
BOTH = 'both'  # `config.agent.kind` for every kind of `AGENT_KINDS`, side by side.
KIND_NAMES = (*AGENT_KINDS, BOTH)  # What `config.agent.kind` may be.


def agent_kinds(config) -> tuple[str, ...]:
  """The agent kinds a run sweeps: `config.agent.kind`, with 'both' as every registered kind."""
  return tuple(AGENT_KINDS) if config.agent.kind == BOTH else (config.agent.kind,)
