"""The binaries: `python -m lmrl.bin.explore`, `python -m lmrl.bin.pretrain`, `python -m lmrl.bin.plot`."""
