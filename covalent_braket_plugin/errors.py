"""The plugin's configuration error, shared by the settings and the AWS access layer."""


class ExecutorConfigError(ValueError):
    """One or more executor settings are invalid; the message lists each with its fix."""
