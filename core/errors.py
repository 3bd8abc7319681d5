"""Errors a user can fix: the message names the input and the reason."""


class UserInputError(Exception):
    """Bad input (data, configuration, paths). The CLI prints it as one line and exits 2."""

    def __init__(self, message: str, *args):
        super().__init__(_one_line(message), *args)


def _one_line(message: str) -> str:
    """The message with what a terminal would not show as text escaped: a file
    name may hold a line break, an escape sequence or bytes that are not UTF-8."""
    if not isinstance(message, str):
        return message
    return ''.join(c if c.isprintable() or c == ' ' else repr(c)[1:-1] for c in message)
