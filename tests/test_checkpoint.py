"""Which config changes block resuming a checkpoint (pure dict logic)."""
from configs import default
from configs import stylegan2_test
from gan import steps as families


def test_other_family_fields_do_not_block_resume():
  saved = default.get_config().to_dict()          # A DCGAN run.
  now = default.get_config()
  now.model.stylegan2.channel_base = 1024          # Not read by DCGAN.
  assert families.config_differences(saved, now.to_dict()) == []
  now.model.g_base_channels = 32                   # Read by DCGAN.
  assert families.config_differences(saved, now.to_dict()) == [
      "model.g_base_channels: 64 in checkpoint, 32 now"]


def test_stylegan2_ignores_dcgan_widths_but_not_its_own():
  saved = stylegan2_test.get_config().to_dict()
  now = stylegan2_test.get_config()
  now.model.d_base_channels = 7
  assert families.config_differences(saved, now.to_dict()) == []
  now.model.stylegan2.channel_max = 8
  diffs = families.config_differences(saved, now.to_dict())
  assert len(diffs) == 1 and diffs[0].startswith("model.stylegan2.channel_max")


def test_changing_the_model_name_is_always_a_difference():
  saved = default.get_config().to_dict()
  now = stylegan2_test.get_config().to_dict()
  diffs = families.config_differences(saved, now)
  assert any(d.startswith("model.name") for d in diffs)
  assert any(d.startswith("model.stylegan2.") for d in diffs)
