"""The FaaSr report: faasr_results.json (docs/RESULTS_SCHEMA.md) -> one self-contained HTML page,
plus the FaaSr section of the pyATS report mail.

    from faasr_easypy.report import render_html, write_html, report_hook
    write_html(results, "faasr_report.html")

Modules: model (load, normalise, critical path), render (HTML), mail (mail sections),
archive (archives and the Easypy report hook), cli (`faasr-easypy report`).
"""

from .archive import (
    REPORT_FILE,
    RESULTS_FILE,
    read_results,
    report_from_archive,
    report_hook,
)
from .mail import attach_to_mail_report, mail_section_html, mail_section_text
from .model import critical_path, load_results, normalise
from .render import render_html, write_html

__all__ = [
    "REPORT_FILE", "RESULTS_FILE", "attach_to_mail_report", "critical_path", "load_results",
    "mail_section_html", "mail_section_text", "normalise", "read_results", "render_html",
    "report_from_archive", "report_hook", "write_html",
]
