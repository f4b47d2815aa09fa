"""What masking costs per log line (issue 20): every streamed function log line, task log
record and archive line goes through faasr_easypy.redact.

    .venv/bin/python benchmarks/bench_redact.py [--quick]

A Redactor with 12 secrets (their raw, URL, JSON and HTML forms and base64 cores; the count
is printed); printed: microseconds per call and MB/s for a typical 120-character log line,
a 1,000-character line, and a 50 MB log (5 MB with --quick) masked as one text, with the
trie pattern the Redactor builds and with the plain longest-first alternation.
"""

import re
import statistics
import sys
import time

from faasr_easypy.redact import Redactor, _base64_cores, _text_forms

SECRETS = [f"ghp_bench{n:02d}{'k3y' * 6}{n * 7919:08x}" for n in range(12)]
LINE = ("[12.345] [INFO] [local_backend.py] Running action start: function leak "
        "(InvocationID 67b6da03-0e9b-4177-8fd5-c9ec13cc1729)")


def per_call(fn, text, rounds):
    times = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            fn(text)
        times.append((time.perf_counter() - started) / rounds)
    return statistics.median(times)


def main(argv=None):
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    redactor = Redactor(SECRETS, include_environment=False)
    forms = set()
    for secret in SECRETS:
        forms |= _text_forms(secret) | _base64_cores(secret)
    alternation = re.compile("|".join(re.escape(f) for f in sorted(forms, key=lambda v: (-len(v), v))))
    cases = [("120-char log line", LINE, 2000), ("1,000-char log line", (LINE + " ") * 8, 500),
             (f"{5 if quick else 50} MB log as one text", ("x" * 999 + "\n") * (5_000 if quick else 50_000), 1)]
    print(f"{len(SECRETS)} secrets, {len(forms)} masked forms")
    print(f"{'case':<24} {'trie (Redactor)':>22} {'alternation':>22}")
    for name, text, rounds in cases:
        rounds = max(1, rounds // (10 if quick else 1))
        trie = per_call(redactor.redact, text, rounds)
        alt = per_call(lambda t: alternation.sub("***", t), text, rounds)
        mb = len(text) / 1e6
        print(f"{name:<24} {trie * 1e6:>10.1f} us {mb / trie:>6.1f} MB/s {alt * 1e6:>10.1f} us "
              f"{mb / alt:>6.1f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
