"""When each function ran, rebuilt from what S3 shows on every platform.

S3 timestamps have one-second resolution (SeaweedFS) and the monitor only
sees a function when it ticks, so neither can place a 20 ms action. Every
FaaSr log line, however, carries the seconds since its action started. So a
function's duration is the largest elapsed value in its log, and it starts
when the invokers that triggered it finished (the entry action: when the
harness triggered it). Dispatch delays between actions are not visible and
count as zero.
"""

from ..layout import instance_label


def reconstruct(workflow, states, triggered_at):
    """{label: (start, end)} in the clock of `triggered_at` (e.g. epoch seconds).

    `states` is {label: FunctionState}. An instance whose log never appeared
    is left out; one with no elapsed value yet has end None.
    """
    times = {}
    for action in workflow.topological_order():
        for name, rank in workflow.instances(action):
            label = instance_label(name, rank)
            state = states.get(label)
            if state is None or state.started_at is None:  # its log never appeared
                continue
            if action == workflow.entry:
                start = triggered_at
            else:
                ends = [times[i][1] for i in state.invoked_by if i in times and times[i][1] is not None]
                if not ends:
                    continue
                # A fan-in starts when its last predecessor finished.
                start = max(ends)
            end = start + state.log_seconds if state.log_seconds is not None else None
            times[label] = (start, end)
    return times
