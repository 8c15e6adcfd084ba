"""A behavioural test suite for the model, in the CheckList style (Ribeiro et al., 2020).

:mod:`~sentiment_model.behaviour.suite` holds the cases, written by hand from templates and word lists:
minimum functionality (a text and the label it must get), invariance (a change that must not move the
answer) and directional (a change that must move one label's probability the expected way), grouped by
capability. :mod:`~sentiment_model.behaviour.runner` scores them with a model folder, as the server loads
it, and reports the pass rate per capability and per test type, with failures.

The suite is an outside measuring set: it is never trained on. No training path imports this package, and
its texts appear in neither the base nor the golden data (``tests/unit/test_behaviour_suite.py`` checks both).

    python -m sentiment_model.behaviour build/model
"""
