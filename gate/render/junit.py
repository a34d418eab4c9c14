"""JUnit XML: one test case per check, so CI systems show the gate among their tests."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from gate.render.terminal import finding_line
from gate.report import Report, Status

# XML 1.0 cannot carry these at all, not even escaped.
_INVALID_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def render_junit(report: Report) -> str:
    suite = ET.Element("testsuite", {
        "name": "prodgate",
        "tests": str(len(report.checks)),
        "failures": str(sum(c.status is Status.FAIL for c in report.checks)),
        "errors": str(sum(c.status is Status.ERROR for c in report.checks)),
        "skipped": str(sum(c.status is Status.SKIP for c in report.checks)),
        "time": f"{report.duration_s:.3f}",
    })
    for c in report.checks:
        case = ET.SubElement(suite, "testcase", {"classname": "prodgate", "name": c.name, "time": f"{c.duration_s:.3f}"})
        body = "\n".join(finding_line(f) for f in c.findings)
        tag = {Status.FAIL: "failure", Status.ERROR: "error", Status.SKIP: "skipped"}.get(c.status)
        if tag:
            el = ET.SubElement(case, tag, {"message": _clean(c.summary)})
            el.text = _clean(body) or None
        elif body:
            ET.SubElement(case, "system-out").text = _clean(body)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
