"""StyleGAN2-ADA hyper-parameter presets: `apply(config, name, num_gpus=1)`.

auto:     the reference's `auto` (batch max(min(gpus * min(4096 / res, 32),
          64), gpus), gamma 0.0002 res^2 / batch, EMA batch * 10 / 32 kimg with
          ramp-up 0.05, 2 mapping layers, channel_base 16384 below 512 px).
paper256: batch 64, gamma 1, EMA 20 kimg (no ramp-up), 8 mapping layers,
          channel_base 16384, minibatch-std groups of 8.
lowdata:  `auto` for a few hundred to a few thousand images: ADA p capped at
          0.8 (leaks were reported above it), path length off (noisy at small
          batches and 40% of a CPU step), channels capped at 256.
All use Adam (0, 0.99), eps 1e-8, lr 0.0025 (0.002 at 1024 px), style mixing
0.9, R1 every 16 steps, ADA target 0.6, and mapping lr x0.01.
"""

PRESETS = ("auto", "paper256", "lowdata")


def apply(config, name: str, num_gpus: int = 1):
  """Overrides `config` (a default.get_config()) in place; returns it."""
  if name not in PRESETS:
    raise ValueError(f"unknown StyleGAN2 preset {name!r}; one of {PRESETS}")
  res = config.data.resolution
  m, s, t, a = config.model, config.model.stylegan2, config.train, config.augment
  m.name = "stylegan2"
  m.latent_dim = s.w_dim = 512
  s.channel_max = 512
  s.mapping_lr_mul = 0.01
  t.loss = "nonsaturating"
  t.adam_b1, t.adam_b2 = 0.0, 0.99
  t.g_learning_rate = t.d_learning_rate = 0.002 if res >= 1024 else 0.0025
  t.r1_interval, t.pl_interval, t.pl_batch_shrink = 16, 4, 2
  t.pl_weight = 2.0
  t.style_mixing_prob = 0.9
  a.kind = "ada"
  a.ada_target, a.ada_interval, a.ada_kimg = 0.6, 4, 500.0
  if name in ("auto", "lowdata"):
    batch = max(min(num_gpus * min(4096 // res, 32), 64), num_gpus)
    t.batch_size = batch
    s.mbstd_group_size = min(batch // num_gpus, 4)
    s.channel_base = 32768 if res >= 512 else 16384
    s.mapping_layers = 2
    t.r1_gamma = 0.0002 * res ** 2 / batch
    t.ema_kimg = batch * 10 / 32
    t.ema_rampup = 0.05
  else:
    t.batch_size = 64
    s.mbstd_group_size = 8
    s.channel_base = 16384
    s.mapping_layers = 8
    t.r1_gamma = 1.0
    t.ema_kimg = 20.0
    t.ema_rampup = 0.0
  if name == "lowdata":
    a.ada_max_p = 0.8
    t.pl_weight = 0.0
    s.channel_max = 256
  return config
