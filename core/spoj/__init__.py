"""Reading SPOJ's classical problem list.

``http`` fetches pages, ``parse`` turns one page into rows, ``listing`` pages
through the list and checks it, ``store`` writes a complete list.
"""
