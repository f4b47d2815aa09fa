"""Old names that keep working for one release, with a DeprecationWarning naming the new one."""

import warnings


def warn_deprecated(message, stacklevel=3):
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel)


def renamed(given, old, new, value, where, stacklevel=4):
    """The value of keyword `new`, taking the deprecated keyword `old` out of `given` (the
    **kwargs a function received) with a warning."""
    if old in given:
        if value is not None:
            raise TypeError(f"{where}: give {new}= only ({old}= is its deprecated name)")
        warn_deprecated(f"{where}: {old}= is deprecated, use {new}=", stacklevel=stacklevel)
        value = given.pop(old)
    return value


def renamed_keyword(given, old, new, value, where):
    """renamed(), for a function whose **kwargs exist only for `old`: anything else left
    over is a TypeError, as Python says it."""
    value = renamed(given, old, new, value, where, stacklevel=5)
    if given:
        raise TypeError(f"{where} got an unexpected keyword argument {next(iter(given))!r}")
    return value
