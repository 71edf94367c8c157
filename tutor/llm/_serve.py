"""Runs the embedded LLM server as a child and takes it down when the tutor process goes away.

`python -m tutor.llm._serve PARENT_PID -- COMMAND...`: started by `LocalServer` so that a tutor killed
without a chance to clean up (SIGKILL, a crash) does not leave a server holding the model in memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    parent = int(argv[0])
    cmd = argv[argv.index("--") + 1 :]
    child = subprocess.Popen(cmd)

    def stop(*_):
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        code = child.poll()
        if code is not None:
            return code
        if os.getppid() != parent:  # the tutor died: we were re-parented
            stop()
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
