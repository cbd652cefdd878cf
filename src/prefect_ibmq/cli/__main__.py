"""``python -m prefect_ibmq.cli``: the console script (how tests and benchmarks start ``prefect-ibmq server``)."""

import sys

from prefect_ibmq.cli import main

sys.exit(main())
