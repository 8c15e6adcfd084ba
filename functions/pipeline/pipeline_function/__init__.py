"""The retraining pipeline's functions: the feedback trigger and the state machine's steps."""
