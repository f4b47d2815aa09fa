"""Command lines read strictly: an unknown argument is an error naming the closest known one.

argparse alone says "unrecognized arguments: --timout 5" and shows the usage; pyATS
says nothing at all (it hands unknown arguments on). :class:`StrictParser` turns
every argparse error into an :class:`ArgumentError` (a UserError: one line, exit 2)
and adds "did you mean --timeout?". ``faasr-easypy`` uses it for all its commands;
the pyATS side (``easypy/arguments.py``) for jobfiles and the ``--faasr-*`` check.
Also the argparse types the command lines share (a core module: report/ may use it,
not faasr_easypy.cli).
"""

import argparse

from .errors import UserError, did_you_mean


class ArgumentError(UserError):
    """An argument nobody knows, or a bad value for one."""


def unknown_argument(option, known, where):
    """ArgumentError for `option`, with the closest of `known` option strings."""
    near = did_you_mean(option, known, cutoff=0.6)
    hint = f" (did you mean {near}?)" if near else f" (known: {', '.join(sorted(known))})"
    return ArgumentError(f"{where}: unrecognized argument {option}{hint}")


def option_strings(parser):
    return [o for action in parser._actions for o in action.option_strings]


class StrictParser(argparse.ArgumentParser):
    """argparse whose errors are ArgumentErrors, and whose unknown arguments get a
    "did you mean" from the options of the (sub)command they were given to."""

    def error(self, message):
        raise ArgumentError(f"{self.prog}: {message}")

    def parse_args(self, args=None, namespace=None):
        ns, unknown = self.parse_known_args(args, namespace)
        if unknown:
            parser = _chosen(self, ns)
            raise unknown_argument(unknown[0].split("=", 1)[0], option_strings(parser), parser.prog)
        return ns


def _chosen(parser, ns):
    """The innermost subcommand parser `ns` went through (the one the options belong to)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub = action.choices.get(getattr(ns, action.dest, None) or "")
            if sub is not None:
                return _chosen(sub, ns)
    return parser


def parse_args_strictly(parser, argv):
    """parse_args of any parser, refusing unknown arguments with a "did you mean"."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        raise unknown_argument(unknown[0].split("=", 1)[0], option_strings(_chosen(parser, args)),
                               parser.prog)
    return args


def _bounded(text, convert, noun, ok, too_small):
    """argparse type body: `text` converted (ArgumentTypeError naming `noun` when it is not
    one), and refused with `too_small` (formatted with the text) unless ok(value)."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(too_small.format(text=repr(text)))
    return value


def positive_count(text):
    """A whole number of at least 1."""
    return _bounded(text, int, "a whole number", lambda v: v >= 1, "{text} must be at least 1")


def positive_seconds(text):
    """A number of seconds greater than 0."""
    return _bounded(text, float, "a number of seconds", lambda v: v > 0, "{text} must be greater than 0")


def positive_mib(text):
    """A whole number of MiB, at least 16."""
    return _bounded(text, int, "a whole number of MiB", lambda v: v >= 16,
                    "{text} is too small: give at least 16 (MiB)")
