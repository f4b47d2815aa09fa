"""Which functions and S3 objects each testcase asserted, for the report's links.

The tester does not record what a section looked at, but the section's source says it:
``tester.wait_for("publish")``, ``tester.assert_content_equals(f"fan/{{InvocationID}}/part-{rank}.txt", ...)``.
For each section (found by its testscript line, which pyATS records), the string literals
passed to the tester's calls (f-strings with their fixed parts; a JoinedStr's constant parts
are walked again as constants, harmlessly) are matched against the workflow's action names
and its S3 objects' keys. A looped testcase whose id ends in a rank (``square_3``,
``Square[rank=3]``) is narrowed to that rank's instance. A testcase (class) gets what its
sections name. It is a reading of the source, so it names what a section *mentions*; the
report calls the links "named in the testscript".
"""

import ast
import re
from functools import lru_cache

_RANK_RE = re.compile(r"(?:_|\brank=)(\d+)\]?$")


@lru_cache(maxsize=64)
def _tree(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return ast.parse(fh.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None


def _node_at(tree, line):
    """The function or class definition whose `def`/`class` line (or decorator) is `line`."""
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            lines = [node.lineno] + [d.lineno for d in node.decorator_list]
            if line in lines or node.lineno == line:
                if best is None or node.lineno > best.lineno:
                    best = node
    return best


def _tester_calls(node):
    """The calls on the tester inside `node`: tester.wait_for(...), self.tester.assert_...(...)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            owner = sub.func.value
            if (isinstance(owner, ast.Name) and owner.id == "tester") or \
                    (isinstance(owner, ast.Attribute) and owner.attr == "tester"):
                yield sub


def _patterns(node):
    """(literal strings, key regex sources) of the string constants and f-strings passed to the
    tester's calls in `node`: what the section asserted, not what it merely mentions."""
    literals, regexes = [], []
    for call in _tester_calls(node):
        for arg in list(call.args) + [k.value for k in call.keywords]:
            for sub in ast.walk(arg):
                if isinstance(sub, ast.JoinedStr):
                    parts = []
                    for value in sub.values:
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            parts.append(re.escape(value.value))
                            literals.append(value.value)
                        else:
                            parts.append(r"[^/]*?")
                    regexes.append("".join(parts))
                elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    literals.append(sub.value)
                    regexes.append(re.escape(sub.value))
    return literals, regexes


def _key_regex(pattern, invocation_id):
    pattern = pattern.replace(re.escape("{InvocationID}"), re.escape(invocation_id or "")) \
        .replace("\\{InvocationID\\}", re.escape(invocation_id or ""))
    if "/" not in pattern and "." not in pattern:
        return None  # a plain word is no key
    try:
        return re.compile(r"(?:^|/)" + pattern + r"$")
    except re.error:
        return None


def _rank_of(name):
    """The rank a looped testcase stands for: 'square_3.completed' or 'Square[rank=3].x' -> match."""
    for part in reversed((name or "").split(".")):
        m = _RANK_RE.search(part)
        if m:
            return m
    return None


def section_links(script, line, actions, labels, keys, invocation_id, name=""):
    """(function labels, object keys) named by the section defined at `script`:`line`.

    actions: {action: [labels]} of the workflow; keys: the S3 object keys recorded."""
    tree = _tree(str(script)) if script else None
    node = _node_at(tree, line) if tree is not None and line else None
    if node is None:
        return [], []
    literals, regexes = _patterns(node)
    named = []
    for action in actions:
        word = re.compile(r"(?<![\w-])" + re.escape(action) + r"(?![\w-])")
        if any(word.search(text) for text in literals):
            named.append(action)
    found = [label for action in named for label in actions[action]]
    m = _rank_of(name)
    if m:
        ranked = [label for label in found if label.endswith(f"({m.group(1)})")]
        unranked = [label for label in found if not label.endswith(")")]
        found = ranked + unranked if ranked else found
    objects = []
    compiled = [r for r in (_key_regex(p, invocation_id) for p in regexes) if r is not None]
    for key in keys:
        if any(r.search(key) for r in compiled):
            objects.append(key)
    if m and objects:
        rank = m.group(1)
        narrowed = [k for k in objects if re.search(rf"(?<!\d){rank}(?!\d)", k.rsplit("/", 1)[-1])]
        objects = narrowed or objects
    return sorted(set(found), key=labels.index), sorted(set(objects))


def add_links(record, testcases):
    """Fill "functions" and "objects" of each testcase record of one workflow task (in place)."""
    labels = [f.get("label") for f in record.get("functions") or [] if f.get("label")]
    actions = {}
    for f in record.get("functions") or []:
        action = f.get("action") or (f.get("label") or "").split("(")[0]
        if action and f.get("label"):
            actions.setdefault(action, []).append(f["label"])
    keys = [o.get("key") for o in record.get("s3_objects") or [] if o.get("key")]
    by_name = {}
    for t in testcases:
        fns, objs = section_links(t.get("xref_file"), t.get("script_line"), actions, labels, keys,
                                  record.get("invocation_id"), name=t.get("name", ""))
        t["functions"], t["objects"] = fns, objs
        by_name[t["name"]] = t
    # A testcase without its own literals (a class line) gets what its sections name.
    for t in reversed(testcases):
        parent = by_name.get(t.get("parent"))
        if parent is not None:
            parent["functions"] = sorted(set(parent["functions"]) | set(t["functions"]), key=labels.index)
            parent["objects"] = sorted(set(parent["objects"]) | set(t["objects"]))
    for t in testcases:
        t.pop("xref_file", None)
    return testcases
