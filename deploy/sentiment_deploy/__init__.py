"""Deploying the system to AWS and taking it down: what ``make deploy``, ``make destroy``, ``make smoke``
and ``make publish-web`` run around ``sam deploy``. The first model's bootstrap (data, archive,
registry) is shared with the local stack, which sets itself up the same way."""
