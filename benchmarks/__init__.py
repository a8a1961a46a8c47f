"""Benchmarks, each `python -m benchmarks.<name> --out=<file>.json` from the repository root:

  performance        matmul peak, the joint update, a compiled sweep and compilation
  profile            each phase of one experiment round, timed alone
  compile            one program for every strategy vs. one per strategy, cold vs. cached
  sampling           the ensemble's mixture: every member on every row vs. each on its own rows
  classic_vs_joint   FLOPs and time per round of the joint agent vs. the classic pipeline
  peer               lmrl's joint update vs. the same update in PyTorch (`torch_joint`; [bench])

`common` holds what they share (FLOP counting, a full buffer of random choices, the machine).
"""
