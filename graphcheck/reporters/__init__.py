"""Every output: reports, drawings, the HTML page, graph exports and plain-words reasons.

Each turns analysis results into text or a file; no analysis happens here. The formats
are listed in one registry (:mod:`graphcheck.reporters.registry`).
"""
