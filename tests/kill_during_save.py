"""`python -m gan.main`, killed by SIGKILL in the middle of writing the
checkpoint of step $KILL_AT_STEP: what a power cut or the OOM killer does.

The kill comes from a thread that watches for the save's temporary
directory, so it lands while the arrays are being written; the test then
checks that the temporary directory was indeed left behind.
"""
import glob
import os
import signal
import threading
import time

import orbax.checkpoint as ocp
from absl import app

from gan import errors
from gan import main

_KILL_AT = int(os.environ["KILL_AT_STEP"])
_save = ocp.CheckpointManager.save


def _save_then_die(self, step, *args, **kwargs):
  if step == _KILL_AT:
    pattern = os.path.join(str(self.directory), f"{step}.orbax-checkpoint-tmp*")

    def kill_once_writing():
      while not glob.glob(pattern):
        time.sleep(0.0002)
      os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=kill_once_writing, daemon=True).start()
  return _save(self, step, *args, **kwargs)


ocp.CheckpointManager.save = _save_then_die

if __name__ == "__main__":
  app.run(main.main, flags_parser=errors.parse_flags)
