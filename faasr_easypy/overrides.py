"""Argument overrides: `ACTION.KEY=VALUE` texts and batches of them.

One parser for every entry point: `faasr-easypy run --arg`, pytest's
`--faasr-arg`, `pyats run job --faasr-arg` and the jobfile API all read
overrides as {action: {key: value}}.
"""

import itertools

from .errors import UserError


def parse_faasr_arg(text):
    """'ACTION.KEY=VALUE' -> (action, key, value); VALUE is JSON when it parses, else a string."""
    head, sep, raw = str(text).partition("=")
    action, dot, key = head.partition(".")
    if not sep or not dot or not action.strip() or not key.strip():
        raise UserError(f"--faasr-arg {text!r} is not ACTION.KEY=VALUE. Fix: write e.g. "
                        "--faasr-arg create-input.count=50, or create-input.count=[10,20] for a batch "
                        "of one task per value.")
    from .strict_json import NotJSON, loads

    try:
        # Strict: a NaN, a duplicate key or a 50,000-deep list is refused (exit 2), not a traceback.
        value = loads(raw, f"--faasr-arg {head.strip()}")
    except NotJSON:
        value = raw  # not JSON: the plain string
    return action.strip(), key.strip(), value


def expand_batch(overrides):
    """{action: {key: value}} -> list of {action: {key: value}}, one per combination.

    A list value means "one task per element"; to pass a list as the value
    itself, wrap it: [[1, 2, 3]].
    """
    axes = []
    for action, args in sorted(overrides.items()):
        for key, value in sorted(args.items()):
            values = value if isinstance(value, list) else [value]
            if not values:
                raise UserError(f"The argument {action}.{key} is an empty list: a batch needs at least one "
                                "value. Fix: give values, e.g. [1,2,3], or [[]] for an empty list.")
            axes.append([(action, key, v) for v in values])
    combos = []
    for combo in itertools.product(*axes) if axes else [()]:
        out = {}
        for action, key, value in combo:
            out.setdefault(action, {})[key] = value
        combos.append(out)
    return combos


def overrides_from(texts, option="--faasr-arg"):
    """['ACTION.KEY=VALUE', ...] -> {action: {key: value}} for ONE run (the CLI, pytest).

    A list value would be a batch (one run per value), which only a pyATS job runs; to
    pass a list as the value itself, wrap it: KEY=[[1,2,3]]."""
    overrides = {}
    for text in texts or ():
        action, key, value = parse_faasr_arg(text)
        overrides.setdefault(action, {})[key] = value
    combos = expand_batch(overrides)
    if len(combos) > 1:
        raise UserError(f"{option}: a list value makes a batch of {len(combos)} runs, which only "
                        "`pyats run job --faasr-arg` runs. Fix: give one value, or wrap a list to pass "
                        "it as the value, e.g. KEY=[[1,2,3]].")
    return combos[0]


def check_actions(overrides, workflow, source=None):
    """UserError when `overrides` name an action `workflow` does not have."""
    unknown = [a for a in overrides if a not in workflow.actions]
    if unknown:
        raise UserError(f"Arguments given for {', '.join(map(repr, unknown))}, which workflow {workflow.name} "
                        f"({source or workflow.source}) does not have. Fix: use one of its actions: "
                        f"{', '.join(sorted(workflow.actions))}.")
