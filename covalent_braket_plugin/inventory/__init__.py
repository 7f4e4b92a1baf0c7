"""Day-to-day operations on what the executor leaves in an account: its Braket jobs and its job images."""
