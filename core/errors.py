"""Errors a user can fix: the message names the input and the reason."""


class UserInputError(Exception):
    """Bad input (data, configuration, paths). The CLI prints it as one line and exits 2."""
