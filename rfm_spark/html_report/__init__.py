"""The run's report: one self-contained HTML file of charts for people (plotly, inlined
once), in sections that each show only when their data exists. `context` is what the
sections read, `run_sections` and `outcome_sections` the sections, `page` the HTML,
`build` the order of the sections and the file."""
from rfm_spark.html_report.build import (SECTIONS, Report, build_report, report_path,
                                         section_figures, write_report)
from rfm_spark.html_report.context import ReportContext, Section

__all__ = ["Report", "ReportContext", "SECTIONS", "Section", "build_report", "report_path",
           "section_figures", "write_report"]
