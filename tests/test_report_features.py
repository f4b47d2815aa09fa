"""The report's reading aids on hand-made results (issue 16 item 1): nesting, links, previews,
the "no outputs" explanation, controls that exist only with JavaScript, and report/links.py's
reading of a testscript. The browser side is in tests/test_truthful_results.py."""

import ast
import copy
from pathlib import Path

from faasr_easypy.report.links import add_links, section_links
from faasr_easypy.report.model import normalise
from faasr_easypy.report.render import render_html

from . import report_fixtures as rf
from .test_report import network_references, parse

FAN_SCRIPT = Path(__file__).resolve().parent.parent / "testscripts" / "fan_out_fan_in.py"


def line_of(cls, method=None):
    """Line of class `cls` (or its `method`) in the fan-out testscript (what pyATS's xref holds)."""
    tree = ast.parse(FAN_SCRIPT.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    if method:
        node = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == method)
    return node.lineno


def fan_record(inv="abc-123"):
    functions = [{"label": "split", "action": "split"}] + \
        [{"label": f"square({r})", "action": "square", "rank": r} for r in (1, 2, 3)] + \
        [{"label": "gather", "action": "gather"}]
    objects = [{"key": f"fan/{inv}/parts/part-{r}.txt", "size": 1} for r in (1, 2, 3)] + \
        [{"key": f"fan/{inv}/total.txt", "size": 2}, {"key": "fan/other-run/total.txt", "size": 2}]
    return {"invocation_id": inv, "functions": functions, "s3_objects": objects}


def test_links_follow_the_tester_calls_and_the_loop_rank(tmp_path):
    script = str(FAN_SCRIPT)
    record = fan_record()
    testcases = [
        {"name": "square_2", "parent": None, "xref_file": script, "script_line": line_of("Square")},
        {"name": "square_2.completed", "parent": "square_2", "xref_file": script,
         "script_line": line_of("Square", "completed")},
        {"name": "square_2.part_written", "parent": "square_2", "xref_file": script,
         "script_line": line_of("Square", "part_written")},
        {"name": "Gather.total_is_sum_of_squares", "parent": "Gather", "xref_file": script,
         "script_line": line_of("Gather", "total_is_sum_of_squares")},
        {"name": "Split.completed", "parent": "Split", "xref_file": script, "script_line": None},
    ]
    out = {t["name"]: t for t in add_links(record, testcases)}
    assert out["square_2.completed"]["functions"] == ["square(2)"]           # the loop's rank only
    assert out["square_2.part_written"]["objects"] == ["fan/abc-123/parts/part-2.txt"]
    assert out["square_2"]["functions"] == ["square(2)"]                     # its sections' union
    assert out["Split.completed"]["functions"] == []                         # no line: nothing claimed
    # it mentions "square" (workflow.rank_count) but asserts only the total
    total = out["Gather.total_is_sum_of_squares"]
    assert (total["functions"], total["objects"]) == ([], ["fan/abc-123/total.txt"])
    assert all("xref_file" not in t for t in out.values())
    assert section_links(str(tmp_path / "missing.py"), 5, {"a": ["a"]}, ["a"], [], "x") == ([], [])


def results_with(workflow_changes):
    results = copy.deepcopy(rf.job_results())
    workflow_changes(results["workflows"][0])
    return results


def test_no_outputs_is_explained():
    def no_outputs(w):
        w["s3_objects"] = []

    html = render_html(results_with(no_outputs))
    page = parse(html)
    assert "No output objects recorded. The report lists the objects whose key holds this invocation's " \
           "InvocationID" in html
    assert "write them under the InvocationID" in html
    assert not network_references(page, html)


def test_previews_links_and_nesting_are_rendered_escaped():
    def decorate(w):
        w["s3_objects"] = [{"key": "out/x/small.txt", "size": 5, "preview": "<b>42</b>"},
                           {"key": "out/x/long.txt", "size": 300, "preview": "line 1\nline 2\n"},
                           {"key": "out/x/blob.bin", "size": 4}]
        w["testcases"] = [
            {"name": "Check", "parent": None, "depth": 0, "result": "failed", "functions": ["split"],
             "objects": ["out/x/small.txt"]},
            {"name": "Check.value", "parent": "Check", "depth": 1, "result": "failed",
             "message": "AssertionError: 41 != 42", "location": "testscripts/t.py:9", "code": "assert x == 42",
             "traceback": "Traceback ...\nAssertionError: 41 != 42\n", "duration": 0.25,
             "functions": ["split"], "objects": ["out/x/small.txt"]}]

    results = results_with(decorate)
    view = normalise(results).workflows[0]
    assert [(t.name, t.depth, t.children) for t in view.testcases] == [("Check", 0, 1), ("Check.value", 1, 0)]
    html = render_html(results)
    assert "&lt;b&gt;42&lt;/b&gt;" in html and "<b>42</b>" not in html
    assert '<tr class="tc depth-1 bad" data-result="failed" data-name="Check.value" data-depth="1">' in html
    assert 'class="tc-fn" href="#log-0-0">split</a>' in html
    assert f'class="tc-obj" href="#{view.object_anchor("out/x/small.txt")}">small.txt</a>' in html
    assert '<pre class="failmsg">AssertionError: 41 != 42</pre>' in html
    assert '<code class="location">testscripts/t.py:9</code>' in html
    assert "0.250 s" in html
    assert '<span class="muted">not text</span>' in html                 # blob.bin: small, no preview
    assert '<details class="preview"><summary>line 1&hellip;</summary>' in html


def test_controls_exist_only_for_javascript_and_tables_sort():
    html = render_html(rf.job_results())
    assert '<div class="controls" id="controls" hidden>' in html
    assert 'id="search"' in html and 'id="verdict-filter"' in html and 'id="workflow-filter"' in html
    assert html.count('class="grid functions sortable"') == 4
    assert '<table class="grid sortable" id="overview">' in html


def test_older_results_without_nesting_fields_still_nest():
    def old(w):
        w["testcases"] = [{"name": "A", "result": "passed"}, {"name": "A.b", "result": "failed", "reason": "r"}]

    view = normalise(results_with(old)).workflows[0]
    assert [(t.depth, t.parent, t.children) for t in view.testcases] == [(0, None, 1), (1, "A", 0)]
    assert [t.name for t in view.notable_testcases] == ["A.b"]
