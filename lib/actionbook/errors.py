"""The one error type every entry point turns into a one-line message (notebook, CLI, runner)."""


class ConfigError(ValueError):
    """Invalid user input: the message names the field, the bad value and what is accepted."""
