"""The joint update written plainly in PyTorch: the peer a researcher would write instead of lmrl.

Only benchmarks.peer imports this (PyTorch is the optional `[bench]` extra). It does the work of
one `lmrl.update.make_joint_update` step of an ensemble with centred randomized priors, the way a
PyTorch user would: a Python loop over the M members, each its own `nn.Module` and Adam, eager
mode. The architecture is lmrl's (`lmrl.lm.Transformer`: token and learned position embeddings,
pre-LayerNorm blocks of causal multi-head attention and a GELU MLP, a final LayerNorm and a
linear read-out to V logits); each member adds `beta * (prior_m - mean prior)` of frozen prior
transformers evaluated on every row, as lmrl's centred priors do. Per member and step:

  Plackett-Luce NLL of the K responses' summed log-probs under the member, bootstrap-weighted
  + lambda_lm * next-token NLL of the corpus sequences' prompt tokens
  + lambda_l2 * ||theta_m - theta_0||^2

Values are random: neither FLOPs nor time depend on them.
"""

import time

import torch
from torch import nn
import torch.nn.functional as F


class Block(nn.Module):
  """Pre-LayerNorm causal self-attention + GELU MLP (as lmrl.lm.Block)."""

  def __init__(self, width: int, num_heads: int, mlp_ratio: int):
    super().__init__()
    self.num_heads = num_heads
    self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
    self.qkv = nn.Linear(width, 3 * width)
    self.out = nn.Linear(width, width)
    self.up, self.down = nn.Linear(width, mlp_ratio * width), nn.Linear(mlp_ratio * width, width)

  def forward(self, h_BxLxD: torch.Tensor) -> torch.Tensor:
    B, L, D = h_BxLxD.shape
    q, k, v = self.qkv(self.ln1(h_BxLxD)).split(D, dim=-1)
    heads = lambda x: x.view(B, L, self.num_heads, D // self.num_heads).transpose(1, 2)
    a = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
    h_BxLxD = h_BxLxD + self.out(a.transpose(1, 2).reshape(B, L, D))
    return h_BxLxD + self.down(F.gelu(self.up(self.ln2(h_BxLxD)), approximate='tanh'))


class Transformer(nn.Module):
  """tokens int64[B, L] (ids 0..V, V = BOS) -> next-token logits float32[B, L, V]."""

  def __init__(self, vocab_size: int, sequence_length: int, width: int, depth: int,
               num_heads: int, mlp_ratio: int):
    super().__init__()
    self.embed = nn.Embedding(vocab_size + 1, width)
    self.position = nn.Parameter(0.02 * torch.randn(sequence_length, width))
    self.blocks = nn.ModuleList(Block(width, num_heads, mlp_ratio) for _ in range(depth))
    self.ln = nn.LayerNorm(width)
    self.head = nn.Linear(width, vocab_size)

  def forward(self, tokens_BxL: torch.Tensor) -> torch.Tensor:
    h = self.embed(tokens_BxL) + self.position[:tokens_BxL.shape[1]]
    for block in self.blocks:
      h = block(h)
    return self.head(self.ln(h))


def token_log_probs(logits_BxLxV: torch.Tensor, tokens_BxL: torch.Tensor) -> torch.Tensor:
  """float32[B, L-1]: log-prob of each token after the first."""
  log_p = F.log_softmax(logits_BxLxV[:, :-1], dim=-1)
  return log_p.gather(-1, tokens_BxL[:, 1:, None])[..., 0]


def plackett_luce_nll(log_u_BxK: torch.Tensor, ranking_BxK: torch.Tensor) -> torch.Tensor:
  """float32[B]: -log P(ranking) under Plackett-Luce with utilities `log_u`."""
  u = log_u_BxK.gather(-1, ranking_BxK)
  lse_rest = torch.logcumsumexp(u.flip(-1), dim=-1).flip(-1)
  return (lse_rest - u).sum(-1)


class JointEnsemble:
  """M members, their frozen priors and anchors, an Adam per member, and a random buffer."""

  def __init__(self, *, vocab_size, prompt_length, response_length, width, depth, num_heads,
               mlp_ratio, num_members, prior_width, prior_depth, prior_scale, batch_size,
               lm_batch_size, num_shown, learning_rate, lambda_lm, lambda_l2,
               buffer_size=2560, seed=0):
    torch.manual_seed(seed)
    L = 1 + prompt_length + response_length
    self.V, self.Lx, self.Ly, self.K = vocab_size, prompt_length, response_length, num_shown
    self.B, self.Bc, self.beta = batch_size, lm_batch_size, prior_scale
    self.lambda_lm, self.lambda_l2 = lambda_lm, lambda_l2
    lm = lambda w, d, h: Transformer(vocab_size, L, w, d, h, mlp_ratio)
    self.members = [lm(width, depth, num_heads) for _ in range(num_members)]
    prior_heads = min(num_heads, prior_width)
    self.priors = [lm(prior_width, prior_depth, prior_heads).requires_grad_(False)
                   for _ in range(num_members)]
    self.anchors = [[p.detach().clone() for p in m.parameters()] for m in self.members]
    self.optimizers = [torch.optim.Adam(m.parameters(), lr=learning_rate) for m in self.members]
    H = buffer_size
    self.prompts_HxLx = torch.randint(0, vocab_size, (H, prompt_length))
    self.responses_HxKxLy = torch.randint(0, vocab_size, (H, num_shown, response_length))
    self.ranking_HxK = torch.argsort(torch.rand(H, num_shown), dim=-1)
    self.weights_HxM = torch.distributions.Exponential(1.0).sample((H, num_members))
    self.corpus_NxL = torch.cat([torch.full((H, 1), vocab_size),
                                 torch.randint(0, vocab_size, (H, L - 1))], dim=1)

  def num_params_per_member(self) -> int:
    return sum(p.numel() for p in self.members[0].parameters())

  def step(self) -> float:
    """One joint-update step of every member; returns the mean loss."""
    B, K, V = self.B, self.K, self.V
    rows = torch.randint(0, self.prompts_HxLx.shape[0], (B,))
    prompts, responses = self.prompts_HxLx[rows], self.responses_HxKxLy[rows]
    bos = torch.full((B * K, 1), V)
    shown_ExL = torch.cat([bos, prompts.repeat_interleave(K, 0),
                           responses.reshape(B * K, self.Ly)], dim=1)
    corpus_BxL = self.corpus_NxL[torch.randint(0, self.corpus_NxL.shape[0], (self.Bc,))]
    with torch.no_grad():  # Centred priors: every prior on every row, minus their mean.
      prior_shown = torch.stack([p(shown_ExL) for p in self.priors])
      prior_corpus = torch.stack([p(corpus_BxL) for p in self.priors])
      prior_shown = self.beta * (prior_shown - prior_shown.mean(0))
      prior_corpus = self.beta * (prior_corpus - prior_corpus.mean(0))
    total = 0.0
    for m, (member, opt) in enumerate(zip(self.members, self.optimizers)):
      logits = member(shown_ExL) + prior_shown[m]
      log_u_BxK = token_log_probs(logits, shown_ExL)[:, -self.Ly:].sum(-1).view(B, K)
      choice = (self.weights_HxM[rows, m] * plackett_luce_nll(log_u_BxK, self.ranking_HxK[rows])
                ).mean()
      lm_logits = member(corpus_BxL) + prior_corpus[m]
      lm = -token_log_probs(lm_logits, corpus_BxL)[:, :self.Lx].mean()
      l2 = sum(((p - a) ** 2).sum() for p, a in zip(member.parameters(), self.anchors[m]))
      loss = choice + self.lambda_lm * lm + self.lambda_l2 * l2
      opt.zero_grad(set_to_none=True)
      loss.backward()
      opt.step()
      total += float(loss.detach())
    return total / len(self.members)


def matmul_seconds(n: int, repeats: int) -> list[float]:
  """Seconds of `repeats` fp32 `n x n` matmuls (after a warm-up), one by one."""
  a, b = torch.randn(n, n), torch.randn(n, n)
  torch.matmul(a, b)
  out = []
  for _ in range(repeats):
    start = time.perf_counter()
    torch.matmul(a, b)
    out.append(time.perf_counter() - start)
  return out


def version() -> str:
  return f'{torch.__version__} ({torch.get_num_threads()} threads)'

