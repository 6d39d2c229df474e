"""`python -m bench`: the benchmark run (`bench.run`); see docs/performance.md."""

import sys

from bench.run import main

sys.exit(main())
