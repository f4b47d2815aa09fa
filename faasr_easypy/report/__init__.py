"""The FaaSr report: faasr_results.json (docs/RESULTS_SCHEMA.md) -> one self-contained HTML page,
plus the FaaSr section of the pyATS report mail.

    from faasr_easypy.report import render_html, write_html, report_hook
    write_html(results, "faasr_report.html")

Modules: model (load, normalise, critical path), render (HTML), mail (mail sections),
junit (JUnit XML), step_summary (GitHub), failures (a section's own failure text),
archive (archives and the Easypy report hook), cli (`faasr-easypy report`).
"""

# Imported on first use, not with the package: `faasr-easypy run` imports report.cli for
# its argument parser and must not pay for Jinja2 (about 0.1 s) on every start.
_EXPORTS = {
    "REPORT_FILE": "archive", "RESULTS_FILE": "archive", "read_results": "archive",
    "report_from_archive": "archive", "report_hook": "archive",
    "attach_to_mail_report": "mail", "mail_section_html": "mail", "mail_section_text": "mail",
    "critical_path": "model", "load_results": "model", "normalise": "model",
    "render_html": "render", "write_html": "render",
    "JUNIT_FILE": "junit", "write_junit": "junit",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
