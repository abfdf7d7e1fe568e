"""The views, one module per page.

Every request parameter is optional and forgiving: an unknown sort means the
default order, a page out of range is clamped, the search text is trimmed and
capped (``core.web.search.clean_query``), a filter that is not a number >= 0 is
ignored and a too big one clamped (``core.web.table.Filters``). None of them can
make a page fail.
"""
