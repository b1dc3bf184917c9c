"""`python starter.py ...` is the `incidentflow` command line (see `python starter.py --help`)."""

from __future__ import annotations

from incidentflow.cli import main

if __name__ == "__main__":
    main()
