"""The package: `import lmrl` is light, the version is written once, and the install files agree
with setup.py (constraints pin every requirement of every extra; requirements.txt is `-e .`)."""

import ast
import os
import re
import subprocess
import sys

import lmrl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ('orbax', 'orbax.checkpoint', 'matplotlib', 'tensorboardX', 'lmrl.runner', 'lmrl.sweep',
         'lmrl.checkpoints', 'lmrl.plotting')


def test_import_lmrl_loads_neither_orbax_nor_matplotlib():
  code = ('import sys, lmrl, lmrl.checks, lmrl.registry; '
          f'print([m for m in {HEAVY!r} if m in sys.modules])')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, JAX_PLATFORMS='cpu'), timeout=120, check=True)
  assert out.stdout.strip() == '[]', out.stdout
  # ... and every module is still there when asked for.
  assert lmrl.runner.run is lmrl.run and lmrl.sweep.make_sweep is lmrl.make_sweep
  modules = {name[:-3] for name in os.listdir(os.path.join(ROOT, 'lmrl'))
             if name.endswith('.py') and name != '__init__.py'}
  assert modules <= set(dir(lmrl))
  for name in modules:
    assert getattr(lmrl, name).__name__ == f'lmrl.{name}'


def _setup_keywords() -> dict:
  """The literal keyword arguments of setup.py's `setuptools.setup(...)` call, unexecuted."""
  with open(os.path.join(ROOT, 'setup.py')) as f:
    tree = ast.parse(f.read())
  call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
              and getattr(node.func, 'attr', None) == 'setup')
  out = {}
  for keyword in call.keywords:
    try:
      out[keyword.arg] = ast.literal_eval(keyword.value)
    except ValueError:
      pass  # Not a literal (the version, read from lmrl/__init__.py).
  return out


def _name(requirement: str) -> str:
  return re.split(r'[<>=!\[; ]', requirement, maxsplit=1)[0].lower().replace('_', '-')


def test_one_version_and_constraints_pin_every_extra():
  with open(os.path.join(ROOT, 'lmrl', '__init__.py')) as f:
    assert len(re.findall(r'^__version__ = ', f.read(), re.MULTILINE)) == 1
  version = subprocess.run([sys.executable, 'setup.py', '--version'], capture_output=True,
                           text=True, cwd=ROOT, timeout=120, check=True).stdout.split()[-1]
  assert version == lmrl.__version__
  with open(os.path.join(ROOT, 'CITATION.cff')) as f:
    assert not re.search(r'^version:', f.read(), re.MULTILINE)  # setup.py's is the one.
  setup = _setup_keywords()
  required = {_name(r) for r in setup['install_requires']}
  required |= {_name(r) for extra, reqs in setup['extras_require'].items() if extra != 'bench'
               for r in reqs}  # [bench]'s torch is pinned in setup.py itself.
  with open(os.path.join(ROOT, 'constraints.txt')) as f:
    pinned = {_name(line) for line in f if '==' in line and not line.startswith('#')}
  assert required <= pinned, sorted(required - pinned)
  with open(os.path.join(ROOT, 'requirements.txt')) as f:
    assert [line.strip() for line in f if not line.startswith('#')] == ['-e .']
