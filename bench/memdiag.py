"""Diagnostics: a worker that runs a probe script inside itself on SIGUSR1.

    python bench/memdiag.py [worker.py's arguments]

Runs `worker.py` unchanged, in this process, with one addition: on SIGUSR1 it reads the
Python file named by `MEMDIAG_PROBE` (default `bench/memprobe.py`) afresh and runs it in the
worker's main thread, between two steps of its event loop, with `out` (a text file under
`MEMDIAG_OUT`, default the temporary directory, one per signal) in its namespace. So a probe
can be edited and run again against the same worker, full after a storm, without a new storm:
`bench/storms.py --probe --hold 3600` starts its worker this way and keeps it up.

Set `PYTHONTRACEMALLOC=25` in the worker's environment for 25-frame allocation tracebacks
(slow: a storm takes several times as long).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT)]

import worker


def run_probe(signum: int, frame: FrameType | None) -> None:
    """Run the probe file with `out` open; any error goes to that file, never to the worker."""
    del signum, frame
    probe = Path(os.environ.get("MEMDIAG_PROBE", HERE / "memprobe.py"))
    out_dir = Path(os.environ.get("MEMDIAG_OUT", tempfile.gettempdir()))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"memprobe-{os.getpid()}-{time.strftime('%H%M%S')}.txt"
    with path.open("w") as out:
        t0 = time.perf_counter()
        try:
            code = compile(probe.read_text(), str(probe), "exec")
            exec(code, {"__name__": "memprobe", "__file__": str(probe), "out": out})
        except Exception:
            traceback.print_exc(file=out)
        print(f"# probe took {time.perf_counter() - t0:.1f} s", file=out)
    (out_dir / "latest").unlink(missing_ok=True)
    (out_dir / "latest").symlink_to(path)


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, run_probe)
    code = worker.main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
