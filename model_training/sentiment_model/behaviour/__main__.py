"""``python -m sentiment_model.behaviour MODEL``: the behavioural suite's report for one model."""

import sys

from sentiment_model.behaviour.runner import main

sys.exit(main())
