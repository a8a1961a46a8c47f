import numpy as np
def test_peek(choice_fits, world):
  f = choice_fits('ensemble')
  np.set_printoptions(precision=2, suppress=True, linewidth=150)
  print('pstar', np.exp(world.log_pstar_PxN[0]))
  for name in ['large_0', 'large_2']:
    i = f.lanes[name]
    print(name, 'init\n', np.asarray(f.initial[i, :, 0]), '\nfit\n', np.asarray(f.fitted[i, :, 0]))
    print('fit probs\n', np.exp(np.asarray(f.fitted[i, :, 0])))
