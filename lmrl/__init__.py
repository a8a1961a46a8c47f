"""lmrl: fine-tuning an LM from human choices, where the LM is policy, reward and transition."""
