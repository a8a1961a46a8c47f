"""Install with `pip install -e .` (add `[test]` for the test suite)."""

import setuptools

setuptools.setup(
    name='lmrl',
    version='0.2.0',
    license='Apache-2.0',
    description='Fine-tuning language models from human choices with efficient exploration.',
    packages=setuptools.find_packages(include=['lmrl', 'lmrl.*']),
    python_requires='>=3.10',
    install_requires=[
        'jax>=0.4.30', 'flax>=0.8', 'optax>=0.2', 'chex>=0.1.86', 'orbax-checkpoint>=0.5',
        'ml_collections>=0.1.1', 'absl-py>=2.0', 'numpy>=1.26', 'matplotlib>=3.8',
    ],
    extras_require={'test': ['pytest>=8', 'tensorboardX>=2.6'], 'analysis': ['pandas>=2'],
                    'tensorboard': ['tensorboardX>=2.6'],  # lmrl.tensorboard's event files.
                    # benchmarks.peer's PyTorch peer; pinned: this version's CPU build.
                    'bench': ['torch==2.13.0']},
)
