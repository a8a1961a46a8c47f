"""The agent kinds are one table: 'both' is every registered kind, and the config check and
`pipeline.make_agent` accept exactly its names."""

import pytest

from lmrl import agent
from lmrl import checks
from lmrl import classic
from lmrl import errors
from lmrl import pipeline
from lmrl import registry
from lmrl.configs import tiny


def test_agent_kinds_come_from_the_registry():
  assert registry.AGENT_KINDS == {'joint': agent.make_joint_agent,
                                  'classic': classic.make_classic_agent}
  config = tiny.get_config()
  assert registry.agent_kinds(config) == ('joint',)
  config.agent.kind = 'both'
  assert registry.agent_kinds(config) == ('joint', 'classic')
  checks.validate(config)
  config.agent.kind = 'reinforce'
  with pytest.raises(errors.ConfigError, match=r"config.agent.kind must be one of \('joint', "
                                               r"'classic', 'both'\), got 'reinforce'"):
    checks.validate(config)
  with pytest.raises(ValueError, match='agent kind must be one of'):
    pipeline.make_agent(config, None, None, 'reinforce')
