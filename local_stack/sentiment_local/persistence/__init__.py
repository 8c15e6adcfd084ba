"""What outlives a restart: the journal of every change, and the stack as CloudFormation would describe it."""
