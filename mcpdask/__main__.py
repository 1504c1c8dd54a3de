"""`python -m mcpdask` runs the command line."""

import sys

from mcpdask.cli import main

sys.exit(main())
