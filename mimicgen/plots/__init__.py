"""Failure-mode figures (``mimicgen plot``) and the HTML report (``mimicgen report``).

Modules: ``style`` (sizes, colours, saving), ``report_io`` / ``bench_io`` / ``probe_io`` (readers),
``tables`` (per-sample joins, two-way accuracy with Wilson CIs), ``inputs`` (gathers all of them),
``figures`` (one function per figure kind), ``html_report`` (the page), ``synthetic`` (example data).
matplotlib is imported lazily, so importing this package does not need the ``plots`` extra.
"""

__all__: list[str] = []
