"""Web out: the pages, the exports and the health check.

The third part of the project beside ``core.spoj`` (SPOJ in) and
``core.scheduling`` (the periodic tasks): views by page in ``views/``, the
score table's query (``table``), search (``search``), the chart's geometry
(``chart``), the CSV and JSON renderings (``exports``), templates and static
files. It reads the models and never writes them.
"""
