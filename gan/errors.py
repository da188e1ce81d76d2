"""Errors a user can cause and fix.

Binaries catch `UserError` and print its message as one line (no traceback):
the message names the problem and the fix.
"""


class UserError(Exception):
  """A problem with the user's input (file, flag, config, data)."""


def exit_on_user_error(fn):
  """Decorates an absl `main` so a `UserError` exits with its one-line message."""
  import functools
  import sys

  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    try:
      return fn(*args, **kwargs)
    except UserError as e:
      sys.exit(f"error: {e}")

  return wrapped


def _config_file(argv) -> str | None:
  for arg in argv:
    if arg.startswith("--config="):
      return arg[len("--config="):]
  return None


def _override_of(argv, field: str) -> str | None:
  """The `--config.a.b=...` argument that names `field` ('b')."""
  for arg in argv:
    name = arg.split("=", 1)[0]
    if name.startswith("--config.") and field in name[2:].split(".")[1:]:
      return name
  return None


def config_flag_error(error: Exception, argv) -> str:
  """One line for a config file or override that absl/ml_collections
  rejected with a traceback-shaped exception."""
  import os
  import re
  while error.args and isinstance(error.args[0], Exception):
    error = error.args[0]  # AttributeError(KeyError(message)).
  text = str(error.args[0] if error.args else error)
  if isinstance(error, OSError):  # The file failed to load, at first access.
    path = _config_file(argv) or "?"
    if not os.path.isfile(path):
      return (f"config file {path} does not exist; pass one of the files in "
              f"configs/ (e.g. --config=configs/mri_demo.py)")
    cause = error.__cause__ or error.__context__
    while cause is not None and (cause.__cause__ or cause.__context__):
      cause = cause.__cause__ or cause.__context__
    reason = f"{type(cause).__name__}: {cause}" if cause else text
    reason = " ".join(reason.split())[:200]
    return (f"config file {path} failed to load ({reason}); fix it, or "
            f"start from configs/default.py")
  missing = re.match(r"'?([^'\n]+)'?", text)
  field = missing.group(1) if missing else text
  suggestion = re.search(r'Did you mean "([^"]+)" instead of', text)
  flag = _override_of(argv, field)
  nearest = ""
  if suggestion and flag:
    parts = flag.split(".")
    parts[parts.index(field, 1)] = suggestion.group(1)
    nearest = f"did you mean {'.'.join(parts)}?"
  elif suggestion:
    nearest = f"did you mean {suggestion.group(1)}?"
  flag = flag or f"a --config override"
  return (f"{flag}: the config has no field {field!r}; {nearest}"
          f"{' ' if nearest else ''}configs/default.py lists every field")


def parse_flags(argv):
  """absl's flags parser for binaries with a `--config` file: a mistyped
  field, a value of the wrong type or a missing or broken config file exit
  with one line (`error: ...`) naming it and the nearest valid name, not a
  traceback. Use as `app.run(main, flags_parser=errors.parse_flags)`."""
  import sys
  from absl import flags
  try:
    parsed = flags.FLAGS(argv)
    if "config" in flags.FLAGS and flags.FLAGS["config"].present:
      # A file that failed to load only raises when the config is used.
      flags.FLAGS.config.keys()
    return parsed
  except flags.Error as e:  # absl's own message names the flag.
    sys.exit(f"error: {' '.join(str(e).split())}")
  except (KeyError, AttributeError, OSError) as e:
    sys.exit(f"error: {config_flag_error(e, argv)}")
  except Exception as e:  # pylint: disable=broad-except
    # The config file's own code raised (a syntax error, a bad import...).
    path = _config_file(argv)
    if path is None:
      raise
    where = f", line {e.lineno}" if getattr(e, "lineno", None) else ""
    message = " ".join(str(getattr(e, "msg", e)).split())[:200]
    sys.exit(f"error: config file {path} failed to load ({type(e).__name__}"
             f"{where}: {message}); fix it, or start from configs/default.py")
