"""Input pipeline: padding/resizing, value range, sampling, process sharding."""
import collections
import jax
import ml_collections
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from gan import input_pipeline
from gan import pixels
from gan.errors import UserError
from tests import helpers


def test_pad_to_square_keeps_aspect_and_fills_background():
  image = tf.fill([208, 176, 1], tf.constant(255, tf.uint8))  # H x W, white
  out = pixels.pad_to_square_and_resize(image, 52, background=0).numpy()
  assert out.shape == (52, 52, 1) and out.dtype == np.uint8
  # 208 wide after padding 16 + 16 columns: 4 of 52 output columns per side.
  assert out[:, :3].max() == 0 and out[:, -3:].max() == 0
  assert out[:, 5:-5].min() == 255
  assert out[0].min() == 0 and out[0, 26] == 255  # rows are not padded


def test_to_float_range():
  x = pixels.to_float(np.array([0, 255], np.uint8))
  np.testing.assert_array_equal(x, [-1.0, 1.0])


def test_sampler_is_a_pure_function_of_seed_and_step():
  labels = np.arange(10) % 2
  a = input_pipeline.BatchSampler(labels, 4, seed=3, random_flip=True)
  b = input_pipeline.BatchSampler(labels, 4, seed=3, random_flip=True)
  for step in (0, 7, 2):
    np.testing.assert_array_equal(a.indices(step)[0], b.indices(step)[0])
    np.testing.assert_array_equal(a.indices(step)[1], b.indices(step)[1])
  c = input_pipeline.BatchSampler(labels, 4, seed=4)
  assert not np.array_equal(a.indices(0)[0], c.indices(0)[0])


def test_sampler_visits_every_example_once_per_epoch():
  labels = np.zeros(12, np.int32)
  sampler = input_pipeline.BatchSampler(labels, 4, seed=0)
  epoch = np.concatenate([sampler.indices(s)[0] for s in range(3)])
  assert sorted(epoch) == list(range(12))
  # A batch crossing an epoch boundary (12 = 5 x 2 + 2) still works.
  odd = input_pipeline.BatchSampler(labels, 5, seed=0)
  first = np.concatenate([odd.indices(s)[0] for s in range(2)])
  assert len(set(first)) == 10


def test_class_balanced_sampling():
  labels = np.array([0] * 95 + [1] * 5)
  sampler = input_pipeline.BatchSampler(labels, 1000, seed=0, class_balanced=True)
  idx, _ = sampler.indices(0)
  share = labels[idx].mean()
  assert 0.45 < share < 0.55
  plain = input_pipeline.BatchSampler(labels, 100, seed=0)
  assert labels[plain.indices(0)[0]].mean() == pytest.approx(0.05)


def test_processes_split_the_global_batch(monkeypatch):
  split = helpers.synthetic_split(n=20)
  config = helpers.tiny_config(**{"train.batch_size": 8})
  whole = next(input_pipeline.train_batches(split, config, start_step=5))
  parts = []
  for index in range(2):
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    monkeypatch.setattr(jax, "process_index", lambda i=index: i)
    parts.append(next(input_pipeline.train_batches(split, config, start_step=5)))
  np.testing.assert_array_equal(
      np.concatenate([p["image"] for p in parts]), whole["image"])
  np.testing.assert_array_equal(
      np.concatenate([p["label"] for p in parts]), whole["label"])


def test_flip_mirrors_images():
  split = helpers.synthetic_split(n=4)
  split.images[:, :, :5] = 255  # a bright left edge
  config = helpers.tiny_config(**{"train.batch_size": 64,
                                  "data.random_flip": True})
  batch = next(input_pipeline.train_batches(split, config))
  left = batch["image"][:, :, :5].mean(axis=(1, 2, 3))
  right = batch["image"][:, :, -5:].mean(axis=(1, 2, 3))
  assert ((left == 1.0) ^ (right == 1.0)).all()
  assert 10 < (right == 1.0).sum() < 54


def test_mni152_split_loads_at_config_resolution(tmp_path):
  data = helpers.tiny_config().data
  data.data_dir = str(tmp_path)
  split = input_pipeline.load_split(data)
  assert split.images.shape == (137, 32, 32, 1)
  assert split.class_names == ["mni152"]
  assert split.images[:, 0, 0].max() == 0       # corners are background
  assert split.images.max() > 200                 # brain is bright


@pytest.mark.parametrize("override,message", [
    ({"name": "imagenet"}, "unknown dataset 'imagenet'"),
    ({"name": "mri_folder"}, "needs a folder"),
    ({"name": "mri_folder", "folder": "/no/such/dir"}, "does not exist"),
    ({"split": "validation"}, "has no split 'validation'"),
    ({"name": "alzheimers_mri", "manual_dir": "EMPTY_DIR"},
     "archive.zip"),
])
def test_bad_data_config_one_line_errors(tmp_path, override, message):
  data = helpers.tiny_config().data
  data.data_dir = str(tmp_path)
  for k, v in override.items():
    data[k] = str(tmp_path) if v == "EMPTY_DIR" else v
  with pytest.raises(UserError, match=message) as info:
    input_pipeline.load_split(data)
  assert "\n" not in str(info.value)


def test_corrupt_and_empty_folders(tmp_path):
  folder = tmp_path / "images"
  (folder / "a").mkdir(parents=True)
  data = helpers.tiny_config().data
  data.update(name="mri_folder", folder=str(folder), data_dir=str(tmp_path / "tfds"))
  with pytest.raises(UserError, match="empty|no readable|no class"):
    input_pipeline.load_split(data)
  (folder / "a" / "broken.png").write_bytes(b"not a png")
  (folder / "b").mkdir()
  from PIL import Image
  Image.fromarray(np.full((20, 30), 128, np.uint8)).save(folder / "b" / "ok.png")
  with pytest.raises(UserError, match="broken.png") as info:
    input_pipeline.load_split(data)
  assert "\n" not in str(info.value)
  data.skip_corrupt = True  # Skipped, class "a" would have no image left:
  with pytest.raises(UserError, match=r"class folder\(s\) .*/a hold no "
                     r"readable image \(their files were unreadable"):
    input_pipeline.load_split(data)
  (folder / "a").rename(folder / ".a")  # The fix it names.
  split = input_pipeline.load_split(data)
  assert len(split) == 1 and split.class_names == ["b"]


def test_upscaled_and_extreme_images_are_counted_once(tmp_path, caplog):
  from PIL import Image
  folder = tmp_path / "images"
  (folder / "scan").mkdir(parents=True)
  sizes = {"tiny.png": (8, 8), "wide.png": (40, 200), "ok_1.png": (48, 48),
           "ok_2.png": (40, 36)}
  for name, (h, w) in sizes.items():  # Dark (30): padding draws no bars.
    Image.fromarray(np.full((h, w), 30, np.uint8)).save(folder / "scan" / name)
  data = helpers.tiny_config().data  # 32 px.
  data.update(name="mri_folder", folder=str(folder),
              data_dir=str(tmp_path / "tfds"))
  with caplog.at_level("WARNING"):
    split = input_pipeline.load_split(data)
  assert len(split) == 4
  warnings = [r.getMessage() for r in caplog.records
              if r.levelname == "WARNING" and "mri_folder/train" in r.getMessage()]
  assert len(warnings) == 2, warnings
  assert warnings[0].startswith("mri_folder/train: 1 of 4 images are smaller "
                                "than 32 px and are upscaled (e.g. 8x8)")
  assert warnings[1].startswith("mri_folder/train: 1 of 4 images are more "
                                "than 1.5:1 wide or tall (e.g. 200x40)")


def test_a_changed_folder_is_rebuilt_and_its_old_copy_removed(tmp_path, caplog):
  from PIL import Image
  folder = tmp_path / "images"
  (folder / "scan").mkdir(parents=True)
  for i in range(3):
    Image.fromarray(np.full((40, 40), 50 + i, np.uint8)).save(
        folder / "scan" / f"p{i}.png")
  data = helpers.tiny_config().data
  data.update(name="mri_folder", folder=str(folder),
              data_dir=str(tmp_path / "tfds"))
  assert len(input_pipeline.load_split(data)) == 3
  with caplog.at_level("WARNING"):
    assert len(input_pipeline.load_split(data)) == 3  # Unchanged: reused.
  assert not [r for r in caplog.records if "changed since" in r.getMessage()]

  (folder / "scan" / "p1.png").unlink()  # A patient withdraws ...
  Image.fromarray(np.full((40, 40), 99, np.uint8)).save(folder / "scan" / "new.png")
  with caplog.at_level("WARNING"):
    split = input_pipeline.load_split(data)
  assert len(split) == 3
  message = [r.getMessage() for r in caplog.records
             if "changed since" in r.getMessage()]
  assert len(message) == 1 and "(1 files added, 1 removed, 0 changed)" in message[0]
  builds = list((tmp_path / "tfds" / "mri_folder").iterdir())
  assert len(builds) == 1  # ... and no copy of their image is left.
  filenames = {ex["filename"].decode() for ex in tfds.as_numpy(
      input_pipeline.get_builder(data).as_dataset(split="train"))}
  assert filenames == {"scan/p0.png", "scan/p2.png", "scan/new.png"}
  # A new class folder gives another build name; the old copy goes too.
  (folder / "lesion").mkdir()
  Image.fromarray(np.full((40, 40), 7, np.uint8)).save(folder / "lesion" / "l.png")
  with caplog.at_level("WARNING"):
    assert input_pipeline.load_split(data).class_names == ["lesion", "scan"]
  assert [p.name for p in (tmp_path / "tfds" / "mri_folder").iterdir()] != [
      builds[0].name]
  assert len(list((tmp_path / "tfds" / "mri_folder").iterdir())) == 1
  assert any(r.getMessage().startswith(f"Removed {builds[0]}, an earlier copy")
             for r in caplog.records)


def test_flat_folder_holds_out_a_stratified_seeded_test_split(tmp_path):
  from PIL import Image
  folder = tmp_path / "images"
  counts = {"healthy": 10, "tumour": 5}
  for name, n in counts.items():
    (folder / name).mkdir(parents=True)
    for i in range(n):
      Image.fromarray(np.full((40, 40), 10 * i, np.uint8)).save(
          folder / name / f"{i}.png")
  data = helpers.tiny_config().data
  data.update(name="mri_folder", folder=str(folder),
              data_dir=str(tmp_path / "tfds"))
  with pytest.raises(UserError, match=(
      r"^dataset 'mri_folder' has no split 'test' \(its splits: \['train'\]\); "
      r".*--config.data.test_fraction=0.2$")):
    input_pipeline.load_split(data, "test")
  data.test_fraction = 0.2
  train, test = input_pipeline.load_train_and_test(data, "test")
  assert np.bincount(test.labels).tolist() == [2, 1]  # 20% of each class.
  assert np.bincount(train.labels).tolist() == [8, 4]
  # Disjoint, and together the whole folder (by pixel value per class).
  key = lambda s: sorted((int(l), int(im.mean())) for im, l in zip(s.images, s.labels))
  assert not set(key(train)) & set(key(test))
  assert len(set(key(train)) | set(key(test))) == 15
  # Same seed, same split; another seed, another one.
  assert key(input_pipeline.load_split(data, "test")) == key(test)
  data.split_seed = 1
  assert key(input_pipeline.load_split(data, "test")) != key(test)
  # A test split equal to the training split is refused.
  with pytest.raises(UserError, match=r"^the test split is the training "
                     r"split \('train'\): accuracy on it is training accuracy"):
    input_pipeline.load_train_and_test(data, "train")


def test_prepared_folder_as_an_evaluation_source_without_its_hash(tmp_path):
  """`tfds:mri_folder/train` finds the one prepared folder and streams its
  mixed sizes in batches of one size each; two prepared folders are an
  error naming both."""
  from PIL import Image
  from gan import image_sources
  folder = tmp_path / "images"
  (folder / "scan").mkdir(parents=True)
  for i, (h, w) in enumerate([(40, 40), (40, 40), (50, 30), (40, 40)]):
    Image.fromarray(np.full((h, w), 20 * i, np.uint8)).save(
        folder / "scan" / f"{i}.png")
  data = helpers.tiny_config().data
  data.update(name="mri_folder", folder=str(folder),
              data_dir=str(tmp_path / "tfds"))
  input_pipeline.load_split(data)
  source = image_sources.parse_source("tfds:mri_folder/train",
                                      data_dir=str(tmp_path / "tfds"))
  totals = collections.Counter()
  for batch in source.batches(batch_size=2):  # Stored order is TFDS's.
    assert len(batch) <= 2
    totals[batch.shape[1:]] += len(batch)
  assert totals == {(40, 40, 1): 3, (50, 30, 1): 1}

  other = tmp_path / "other"
  (other / "scan").mkdir(parents=True)
  Image.fromarray(np.zeros((40, 40), np.uint8)).save(other / "scan" / "a.png")
  Image.fromarray(np.ones((40, 40), np.uint8)).save(other / "scan" / "b.png")
  data.folder = str(other)
  input_pipeline.load_split(data)
  with pytest.raises(UserError, match=(
      r"^2 user folders are prepared in .*: mri_folder/images_\w+ \(.*images\), "
      r"mri_folder/other_\w+ \(.*other\); name one, e.g. tfds:mri_folder/")):
    image_sources.parse_source("tfds:mri_folder/train",
                               data_dir=str(tmp_path / "tfds"))


def test_crop_to_content_before_padding():
  image = np.zeros((60, 200, 1), np.uint8)
  image[10:50, 80:120] = 200  # A 40x40 "brain" in a wide dark screenshot.
  image[30, 150] = 20  # Within the threshold of the background: not content.
  cropped = pixels.crop_to_content(tf.constant(image), 0).numpy()
  assert cropped.shape == (40, 40, 1) and (cropped == 200).all()
  blank = np.full((8, 8, 1), 3, np.uint8)  # Nothing to crop to: unchanged.
  np.testing.assert_array_equal(
      pixels.crop_to_content(tf.constant(blank), 0).numpy(), blank)
  # In the pipeline: the brain fills the square instead of a thin strip.
  out = pixels.pad_to_square_and_resize(tf.constant(cropped), 32, 0)
  assert (out.numpy() > 150).mean() > 0.9


def test_bright_borders_are_warned_and_padded_with_their_own_colour(
    tmp_path, caplog):
  from PIL import Image
  folder = tmp_path / "images"
  (folder / "scan").mkdir(parents=True)
  for i in range(2):
    image = np.full((40, 60), 230, np.uint8)  # A white-framed scan ...
    image[8:32, 12:48] = 60                    # ... around a dark brain.
    Image.fromarray(image).save(folder / "scan" / f"{i}.png")
  data = helpers.tiny_config().data
  data.update(name="mri_folder", folder=str(folder),
              data_dir=str(tmp_path / "tfds"))
  with caplog.at_level("WARNING"):
    barred = input_pipeline.load_split(data)
  assert any(r.getMessage().startswith(
      "mri_folder/train: 2 of 2 non-square images have a border unlike the "
      "padding value 0 (e.g. 230)") for r in caplog.records)
  assert barred.images[0, 0, 0, 0] == 0          # A black bar on top.
  data.pad_with_edge = True
  padded = input_pipeline.load_split(data)
  assert padded.images[0, 0, 0, 0] == 230        # The frame's colour instead.
  assert padded.images[0, 16, 16, 0] < 100       # The brain is still there.
