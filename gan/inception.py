"""The FID Inception v3 network in Flax (Linen), ported from pytorch-fid 0.3.0.

This is the network behind the de-facto standard FID: TensorFlow's
`inception-2015-12-05` graph as ported to PyTorch by pytorch-fid
(`pt_inception-2015-12-05-6726825d.pth`), with its 1008-way classifier.
With those weights (read by `gan.inception_weights`), `FIDInceptionV3`
gives the same pool3 features as `pytorch_fid.inception.InceptionV3` to
float32 precision (see tests/test_inception.py). `with_logits=False` is the
same network up to pool3, for weights without the fc layer (fid-helper-
pytorch's archive of the TF graph; tests/test_inception_real_weights.py).

Differences from torchvision's Inception v3 that pytorch-fid keeps (and so do
we): the pool branches of the A, C and first E blocks average over a 3x3
window *without* counting the zero padding; the second E block's pool branch
is a 3x3 *max* pool; 1008 classes; no `transform_input`.

Input convention (`PREPROCESSING`, named in every result):
  images [N, H, W, C] float32 in [-1, 1], C = 1 (grayscale) or 3 (RGB)
  -> bilinear resize to 299 x 299 (half-pixel centres, i.e. PyTorch
     `align_corners=False`, no antialiasing; PyTorch's interpolation weights
     bit for bit)
  -> grayscale treated as RGB with 3 equal channels.
pytorch-fid resizes images in [0, 1] and then maps them to [-1, 1]; bilinear
weights sum to one, so resizing in [-1, 1] directly is the same map.

Speed notes (XLA:CPU, see BENCHMARKS.md): 1x1 convolutions are written as
matrix products, which XLA:CPU runs several times faster than the equivalent
convolution; the 1x1 convolutions of an Inception block that read the same
input are one matrix product; BatchNorm is folded into the convolution
weights; a pool branch's average pool is applied *after* its 1x1 convolution
(both are linear, so they commute) so that its convolution joins the block's
fused product and the pool runs on fewer channels; on CPU, `apply` loops over
the images of a batch, since XLA:CPU runs the large early convolutions faster
per image one image at a time.
"""
from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


INPUT_SIZE = 299
POOL3_DIMS = 2048
NUM_CLASSES = 1008
BATCH_NORM_EPSILON = 1e-3

PREPROCESSING = (
    "pytorch-fid: grayscale repeated to 3 channels; bilinear resize to "
    "299x299 (half-pixel centres, align_corners=False, no antialias); "
    "values scaled to [-1, 1]")

# Convolutions and products run at full float32 precision on every backend
# (on GPUs the default is TF32, ~1e-3 relative error per product, far above
# the 1e-4 parity with pytorch-fid).
_PRECISION = jax.lax.Precision.HIGHEST


# ---------------------------------------------------------------------------
# Preprocessing.


def bilinear_resize_matrix(in_size: int, out_size: int) -> np.ndarray:
  """[out_size, in_size] float32 matrix of PyTorch's bilinear interpolation.

  Bit-for-bit the weights of `F.interpolate(mode='bilinear',
  align_corners=False, antialias=False)` on x86 CPUs: half-pixel centres,
  src = scale * (dst + 0.5) - 0.5 with scale = float32(in) / float32(out),
  evaluated as PyTorch's build does, as one fused multiply-add (a single
  rounding to float32; computed here exactly in float64, then rounded);
  clamped at 0 below and at in - 1 above; weights 1 - frac and frac in
  float32. Each row sums to one.
  """
  f32 = np.float32
  scale = f32(in_size) / f32(out_size)
  dst = np.arange(out_size, dtype=np.float64)
  src = (np.float64(scale) * (dst + 0.5) - 0.5).astype(f32)
  src = np.maximum(src, f32(0))
  lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
  hi = np.minimum(lo + 1, in_size - 1)
  frac = np.clip(src - lo.astype(f32), f32(0), f32(1)).astype(f32)
  matrix = np.zeros((out_size, in_size), f32)
  rows = np.arange(out_size)
  np.add.at(matrix, (rows, lo), (f32(1) - frac).astype(f32))
  np.add.at(matrix, (rows, hi), frac)
  return matrix


def resize_bilinear(images: jax.Array, size: int = INPUT_SIZE) -> jax.Array:
  """Bilinear resize as PyTorch computes it, as two matrix products.

  Args:
    images: [N, H, W, C] float32.
    size: output height and width.
  Returns:
    [N, size, size, C] float32 (the input itself when it is already that size).
  """
  _, height, width, _ = images.shape
  if (height, width) == (size, size):
    return images
  rows = jnp.asarray(bilinear_resize_matrix(height, size), images.dtype)
  cols = jnp.asarray(bilinear_resize_matrix(width, size), images.dtype)
  images = jnp.einsum("oh,nhwc->nowc", rows, images, precision=_PRECISION)
  return jnp.einsum("pw,nowc->nopc", cols, images, precision=_PRECISION)


def preprocess(images: jax.Array) -> jax.Array:
  """Images in [-1, 1] -> network input, following pytorch-fid.

  Args:
    images: [N, H, W, C] float32 in [-1, 1], C = 1 or 3.
  Returns:
    [N, 299, 299, C] float32 in [-1, 1]. Grayscale stays one channel here: the
    network applies the sum of its first kernel over RGB to it, which is the
    same as repeating it to three channels.
  """
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"expected [N, H, W, 1 or 3] images, got {images.shape}")
  if not jnp.issubdtype(images.dtype, jnp.floating):
    images = images.astype(jnp.float32)
  return resize_bilinear(images, INPUT_SIZE)


# ---------------------------------------------------------------------------
# Layers.


def _pad(padding: Sequence[int]) -> list[tuple[int, int]]:
  return [(p, p) for p in padding]


def conv(x: jax.Array, kernel: jax.Array, strides: int = 1,
         padding: Sequence[int] = (0, 0)) -> jax.Array:
  """NHWC x HWIO convolution; 1x1 stride-1 kernels run as a matrix product."""
  if kernel.shape[:2] == (1, 1) and strides == 1 and tuple(padding) == (0, 0):
    return jnp.einsum("nhwc,cd->nhwd", x, kernel[0, 0], precision=_PRECISION)
  return jax.lax.conv_general_dilated(
      x, kernel, window_strides=(strides, strides), padding=_pad(padding),
      dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=_PRECISION)


def max_pool(x: jax.Array, window: int = 3, strides: int = 2,
             padding: int = 0) -> jax.Array:
  """PyTorch `max_pool2d` (padding never wins the max)."""
  pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max,
                               (1, window, window, 1), (1, strides, strides, 1),
                               pad)


def avg_pool_exclude_padding(x: jax.Array) -> jax.Array:
  """3x3, stride 1, padding 1 average that does not count the padding.

  PyTorch's `avg_pool2d(..., count_include_pad=False)`, TensorFlow's
  'SAME' average pool: border windows divide by the number of real pixels.
  """
  _, height, width, _ = x.shape
  pad = ((0, 0), (1, 1), (1, 1), (0, 0))
  sums = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 3, 3, 1),
                               (1, 1, 1, 1), pad)
  def window_lengths(size):  # 3 inside, 2 at a border (1 if size == 1)
    i = np.arange(size)
    return np.minimum(i + 1, size - 1) - np.maximum(i - 1, 0) + 1

  counts = np.outer(window_lengths(height), window_lengths(width))
  inverse = (1.0 / counts).astype(np.float32)
  return sums * jnp.asarray(inverse)[None, :, :, None]


class BasicConv(nn.Module):
  """pytorch-fid's BasicConv2d: conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU.

  Parameters mirror the PyTorch state dict: `kernel` [kh, kw, in, out] (HWIO),
  BatchNorm `scale` and `bias` [out] in `params`; `mean` and `var` [out] in
  `batch_stats`. The BatchNorm is folded into the kernel at apply time.
  """
  in_features: int
  features: int
  kernel_size: tuple[int, int] = (1, 1)
  strides: int = 1
  padding: tuple[int, int] = (0, 0)

  def setup(self):
    shape = (*self.kernel_size, self.in_features, self.features)
    out = (self.features,)
    f32 = jnp.float32
    self.kernel = self.param("kernel", nn.initializers.lecun_normal(), shape,
                             f32)
    self.scale = self.param("scale", nn.initializers.ones, out, f32)
    self.bias = self.param("bias", nn.initializers.zeros, out, f32)
    self.mean = self.variable("batch_stats", "mean", jnp.zeros, out, f32)
    self.var = self.variable("batch_stats", "var", jnp.ones, out, f32)

  def folded(self) -> tuple[jax.Array, jax.Array]:
    """(kernel, bias) of the convolution with the BatchNorm folded in."""
    factor = self.scale * jax.lax.rsqrt(self.var.value + BATCH_NORM_EPSILON)
    return self.kernel * factor, self.bias - self.mean.value * factor

  def __call__(self, x: jax.Array) -> jax.Array:
    kernel, bias = self.folded()
    return nn.relu(conv(x, kernel, self.strides, self.padding) + bias)


def fused_pointwise(x: jax.Array, convs: Sequence[BasicConv],
                    pooled: BasicConv | None = None) -> list[jax.Array]:
  """Applies several 1x1 `BasicConv`s that read the same input as one product.

  Args:
    x: [N, H, W, C] block input.
    convs: 1x1 convolutions of `x`; their outputs are returned in order.
    pooled: optional 1x1 convolution of `avg_pool_exclude_padding(x)`. Pooling
      and the convolution are both linear, so it is computed as the pool of
      the (pre-bias) product: the pool runs on its output channels, not C.
  Returns:
    The activations of `convs` (and of `pooled` last), each [N, H, W, out].
  """
  members = list(convs) + ([pooled] if pooled is not None else [])
  folded = [c.folded() for c in members]
  kernel = jnp.concatenate([k[0, 0] for k, _ in folded], axis=-1)
  y = jnp.einsum("nhwc,cd->nhwd", x, kernel, precision=_PRECISION)
  splits = np.cumsum([c.features for c in members])[:-1]
  outputs = jnp.split(y, splits, axis=-1)
  if pooled is not None:
    outputs[-1] = avg_pool_exclude_padding(outputs[-1])
  return [nn.relu(out + b) for out, (_, b) in zip(outputs, folded)]


# ---------------------------------------------------------------------------
# Blocks (names and channel counts are torchvision's, for the state dict).


class InceptionA(nn.Module):
  """FIDInceptionA (Mixed_5b/c/d): 35x35, pool branch averages without pad."""
  in_features: int
  pool_features: int

  def setup(self):
    c = self.in_features
    self.branch1x1 = BasicConv(c, 64)
    self.branch5x5_1 = BasicConv(c, 48)
    self.branch5x5_2 = BasicConv(48, 64, (5, 5), padding=(2, 2))
    self.branch3x3dbl_1 = BasicConv(c, 64)
    self.branch3x3dbl_2 = BasicConv(64, 96, (3, 3), padding=(1, 1))
    self.branch3x3dbl_3 = BasicConv(96, 96, (3, 3), padding=(1, 1))
    self.branch_pool = BasicConv(c, self.pool_features)

  def __call__(self, x):
    b1, b5, b3, bp = fused_pointwise(
        x, [self.branch1x1, self.branch5x5_1, self.branch3x3dbl_1],
        pooled=self.branch_pool)
    b5 = self.branch5x5_2(b5)
    b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(b3))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """torchvision InceptionB (Mixed_6a): 35x35 -> 17x17."""
  in_features: int

  def setup(self):
    c = self.in_features
    self.branch3x3 = BasicConv(c, 384, (3, 3), strides=2)
    self.branch3x3dbl_1 = BasicConv(c, 64)
    self.branch3x3dbl_2 = BasicConv(64, 96, (3, 3), padding=(1, 1))
    self.branch3x3dbl_3 = BasicConv(96, 96, (3, 3), strides=2)

  def __call__(self, x):
    b3 = self.branch3x3(x)
    bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
    return jnp.concatenate([b3, bd, max_pool(x)], axis=-1)


class InceptionC(nn.Module):
  """FIDInceptionC (Mixed_6b..6e): 17x17 with factorised 7x7 convolutions.

  Note `branch7x7dbl_5` outputs 192 channels, not `channels_7x7`.
  """
  in_features: int
  channels_7x7: int

  def setup(self):
    c, c7 = self.in_features, self.channels_7x7
    self.branch1x1 = BasicConv(c, 192)
    self.branch7x7_1 = BasicConv(c, c7)
    self.branch7x7_2 = BasicConv(c7, c7, (1, 7), padding=(0, 3))
    self.branch7x7_3 = BasicConv(c7, 192, (7, 1), padding=(3, 0))
    self.branch7x7dbl_1 = BasicConv(c, c7)
    self.branch7x7dbl_2 = BasicConv(c7, c7, (7, 1), padding=(3, 0))
    self.branch7x7dbl_3 = BasicConv(c7, c7, (1, 7), padding=(0, 3))
    self.branch7x7dbl_4 = BasicConv(c7, c7, (7, 1), padding=(3, 0))
    self.branch7x7dbl_5 = BasicConv(c7, 192, (1, 7), padding=(0, 3))
    self.branch_pool = BasicConv(c, 192)

  def __call__(self, x):
    b1, b7, bd, bp = fused_pointwise(
        x, [self.branch1x1, self.branch7x7_1, self.branch7x7dbl_1],
        pooled=self.branch_pool)
    b7 = self.branch7x7_3(self.branch7x7_2(b7))
    bd = self.branch7x7dbl_2(bd)
    bd = self.branch7x7dbl_3(bd)
    bd = self.branch7x7dbl_4(bd)
    bd = self.branch7x7dbl_5(bd)
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """torchvision InceptionD (Mixed_7a): 17x17 -> 8x8."""
  in_features: int

  def setup(self):
    c = self.in_features
    self.branch3x3_1 = BasicConv(c, 192)
    self.branch3x3_2 = BasicConv(192, 320, (3, 3), strides=2)
    self.branch7x7x3_1 = BasicConv(c, 192)
    self.branch7x7x3_2 = BasicConv(192, 192, (1, 7), padding=(0, 3))
    self.branch7x7x3_3 = BasicConv(192, 192, (7, 1), padding=(3, 0))
    self.branch7x7x3_4 = BasicConv(192, 192, (3, 3), strides=2)

  def __call__(self, x):
    b3, b7 = fused_pointwise(x, [self.branch3x3_1, self.branch7x7x3_1])
    b3 = self.branch3x3_2(b3)
    b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(b7)))
    return jnp.concatenate([b3, b7, max_pool(x)], axis=-1)


class InceptionE(nn.Module):
  """FIDInceptionE_1 (Mixed_7b, `pool='avg'`) and _2 (Mixed_7c, `pool='max'`).

  The second block's max pool is a quirk of the TensorFlow graph that FID is
  defined by; it does not commute with the convolution, so that branch runs
  its own product.
  """
  in_features: int
  pool: str  # 'avg' (padding not counted) or 'max'

  def setup(self):
    c = self.in_features
    self.branch1x1 = BasicConv(c, 320)
    self.branch3x3_1 = BasicConv(c, 384)
    self.branch3x3_2a = BasicConv(384, 384, (1, 3), padding=(0, 1))
    self.branch3x3_2b = BasicConv(384, 384, (3, 1), padding=(1, 0))
    self.branch3x3dbl_1 = BasicConv(c, 448)
    self.branch3x3dbl_2 = BasicConv(448, 384, (3, 3), padding=(1, 1))
    self.branch3x3dbl_3a = BasicConv(384, 384, (1, 3), padding=(0, 1))
    self.branch3x3dbl_3b = BasicConv(384, 384, (3, 1), padding=(1, 0))
    self.branch_pool = BasicConv(c, 192)

  def __call__(self, x):
    pointwise = [self.branch1x1, self.branch3x3_1, self.branch3x3dbl_1]
    if self.pool == "avg":
      b1, b3, bd, bp = fused_pointwise(x, pointwise, pooled=self.branch_pool)
    else:
      b1, b3, bd = fused_pointwise(x, pointwise)
      bp = self.branch_pool(max_pool(x, 3, strides=1, padding=1))
    b3 = jnp.concatenate([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], -1)
    bd = self.branch3x3dbl_2(bd)
    bd = jnp.concatenate([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)],
                         -1)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


# ---------------------------------------------------------------------------
# The network.


class FIDInceptionV3(nn.Module):
  """pytorch-fid's FID Inception v3, returning pool3 features and logits.

  Call on preprocessed images (`preprocess`): [N, 299, 299, C] float32 in
  [-1, 1], C = 1 or 3. Returns a dict of
    'pool3': [N, 2048] float32, the final average pool (FID, KID);
    'logits': [N, 1008] float32, pool3 @ fc.weight.T + fc.bias;
    'logits_unbiased': [N, 1008] float32, the logits without the fc bias
      (what torch-fidelity's Inception Score uses).
  Variables: `params` and `batch_stats` (BatchNorm running statistics); the
  network has no training mode. With `with_logits=False` there is no fc
  layer and only 'pool3' is returned.
  """
  with_logits: bool = True

  def setup(self):
    self.Conv2d_1a_3x3 = BasicConv(3, 32, (3, 3), strides=2)
    self.Conv2d_2a_3x3 = BasicConv(32, 32, (3, 3))
    self.Conv2d_2b_3x3 = BasicConv(32, 64, (3, 3), padding=(1, 1))
    self.Conv2d_3b_1x1 = BasicConv(64, 80)
    self.Conv2d_4a_3x3 = BasicConv(80, 192, (3, 3))
    self.Mixed_5b = InceptionA(192, pool_features=32)
    self.Mixed_5c = InceptionA(256, pool_features=64)
    self.Mixed_5d = InceptionA(288, pool_features=64)
    self.Mixed_6a = InceptionB(288)
    self.Mixed_6b = InceptionC(768, channels_7x7=128)
    self.Mixed_6c = InceptionC(768, channels_7x7=160)
    self.Mixed_6d = InceptionC(768, channels_7x7=160)
    self.Mixed_6e = InceptionC(768, channels_7x7=192)
    self.Mixed_7a = InceptionD(768)
    self.Mixed_7b = InceptionE(1280, pool="avg")
    self.Mixed_7c = InceptionE(2048, pool="max")
    if self.with_logits:
      self.fc = nn.Dense(NUM_CLASSES, precision=_PRECISION)

  def input_conv(self, x: jax.Array) -> jax.Array:
    """Conv2d_1a_3x3; a grayscale input uses the kernel summed over RGB."""
    kernel, bias = self.Conv2d_1a_3x3.folded()
    if x.shape[-1] == 1:
      kernel = kernel.sum(axis=2, keepdims=True)
    return nn.relu(conv(x, kernel, strides=2) + bias)

  def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
    if x.shape[1:3] != (INPUT_SIZE, INPUT_SIZE) or x.shape[-1] not in (1, 3):
      raise ValueError(f"expected [N, 299, 299, 1 or 3] input (see "
                       f"`preprocess`), got {x.shape}")
    x = self.input_conv(x)             # 149 x 149 x 32
    x = self.Conv2d_2a_3x3(x)          # 147 x 147 x 32
    x = self.Conv2d_2b_3x3(x)          # 147 x 147 x 64
    x = max_pool(x)                    # 73 x 73 x 64
    x = self.Conv2d_3b_1x1(x)          # 73 x 73 x 80
    x = self.Conv2d_4a_3x3(x)          # 71 x 71 x 192
    x = max_pool(x)                    # 35 x 35 x 192
    x = self.Mixed_5b(x)               # 35 x 35 x 256
    x = self.Mixed_5c(x)               # 35 x 35 x 288
    x = self.Mixed_5d(x)               # 35 x 35 x 288
    x = self.Mixed_6a(x)               # 17 x 17 x 768
    x = self.Mixed_6b(x)
    x = self.Mixed_6c(x)
    x = self.Mixed_6d(x)
    x = self.Mixed_6e(x)               # 17 x 17 x 768
    x = self.Mixed_7a(x)               # 8 x 8 x 1280
    x = self.Mixed_7b(x)               # 8 x 8 x 2048
    x = self.Mixed_7c(x)               # 8 x 8 x 2048
    pool3 = jnp.mean(x, axis=(1, 2))   # 2048
    if not self.with_logits:
      return {"pool3": pool3}
    logits = self.fc(pool3)
    unbiased = jnp.dot(pool3, self.fc.variables["params"]["kernel"],
                       precision=_PRECISION)
    return {"pool3": pool3, "logits": logits, "logits_unbiased": unbiased}


def init_variables(rng: jax.Array | int = 0, with_logits: bool = True) -> dict:
  """Randomly initialised variables {'params', 'batch_stats'} (for shapes)."""
  if isinstance(rng, int):
    rng = jax.random.key(rng)
  dummy = jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32)
  # (Variables are float32 whatever jax_enable_x64 says.)
  return FIDInceptionV3(with_logits=with_logits).init(rng, dummy)


@functools.lru_cache(maxsize=2)
def variable_shapes(with_logits: bool = True) -> dict:
  """The shapes and dtypes of the variables, without allocating them."""
  return jax.eval_shape(lambda: init_variables(0, with_logits))


def apply(variables: dict, images: jax.Array,
          images_per_step: int | None = None) -> dict[str, jax.Array]:
  """Preprocesses `images` and runs the network on them.

  Args:
    variables: {'params', 'batch_stats'} of `FIDInceptionV3`, with or
      without the fc layer (then only 'pool3' is returned).
    images: [N, H, W, C] float32 in [-1, 1], C = 1 or 3, any H and W.
    images_per_step: how many images the network sees at once. On CPU the
      default is 1: XLA:CPU runs the large early convolutions of this network
      up to 2x faster per image on one image than on a batch, so the batch is
      looped over (`lax.map`), which also keeps memory small. Elsewhere the
      default is the whole batch.
  Returns:
    {'pool3': [N, 2048], 'logits': [N, 1008], 'logits_unbiased': [N, 1008]},
    float32.
  """
  module = FIDInceptionV3(with_logits="fc" in variables["params"])
  num = images.shape[0]
  if images_per_step is None:
    images_per_step = 1 if jax.default_backend() == "cpu" else num
  if images_per_step >= num:
    return module.apply(variables, preprocess(images))
  pad = -num % images_per_step
  if pad:
    images = jnp.concatenate([images, jnp.repeat(images[-1:], pad, 0)])
  steps = images.reshape((-1, images_per_step) + images.shape[1:])
  outputs = jax.lax.map(lambda x: module.apply(variables, preprocess(x)),
                        steps)
  return jax.tree.map(lambda y: y.reshape((-1,) + y.shape[2:])[:num], outputs)
