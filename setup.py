"""Install with `pip install -e .` (add `[test]` for the test suite)."""

import os
import re

import setuptools


def _version() -> str:
  """`lmrl.__version__`, read from lmrl/__init__.py (the one place it is written) unimported."""
  with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lmrl', '__init__.py')) as f:
    return re.search(r"^__version__ = '([^']+)'", f.read(), re.MULTILINE).group(1)


setuptools.setup(
    name='lmrl',
    version=_version(),
    license='Apache-2.0',
    description='Fine-tuning language models from human choices with efficient exploration.',
    # experiments: the binaries (`python -m experiments.explore`) and the studies' configs.
    packages=setuptools.find_packages(include=['lmrl', 'lmrl.*', 'experiments', 'experiments.*']),
    python_requires='>=3.10',
    install_requires=[
        'jax>=0.4.30', 'flax>=0.8', 'optax>=0.2', 'chex>=0.1.86', 'orbax-checkpoint>=0.5',
        'ml_collections>=0.1.1', 'absl-py>=2.0', 'numpy>=1.26', 'matplotlib>=3.8',
    ],
    extras_require={# The suite: TensorBoard files, the notebook's re-execution (and its pandas
                    # table), property-based bad-input tests, two test processes (xdist).
                    'test': ['pytest>=8', 'tensorboardX>=2.6', 'pandas>=2', 'nbformat>=5',
                             'nbclient>=0.9', 'ipykernel>=6', 'hypothesis>=6',
                             'pytest-xdist>=3'],
                    'analysis': ['pandas>=2'],  # lmrl.rows.to_dataframe, the notebook's tables.
                    'tensorboard': ['tensorboardX>=2.6'],  # lmrl.tensorboard's event files.
                    # benchmarks.peer's PyTorch peer; pinned: this version's CPU build.
                    'bench': ['torch==2.13.0']},
)
