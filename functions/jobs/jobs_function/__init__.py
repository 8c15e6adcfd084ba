"""Bulk classification jobs: the upload starts one, the classify state machine runs its steps."""
