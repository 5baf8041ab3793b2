"""python -m deepinit.bench: the same as deepinit-bench."""

import sys

from deepinit.bench.cli import main

sys.exit(main())
