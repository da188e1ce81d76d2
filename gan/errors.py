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
