"""`python -m keel.sim --help`."""

import os
import sys
import warnings

from keel.sim.config import parse_args
from keel.sim.run import main_flow

if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=FutureWarning)  # brownie's rpc.* notices
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main_flow(parse_args()))
