"""The cost guard: a Lambda handler that cancels queued Braket work past a daily limit, and its deployment."""
