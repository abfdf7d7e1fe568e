"""Reading SPOJ: the classical problem list, users' profiles, problems' tags.

``http`` fetches pages (the only HTTP to SPOJ). The list: ``parse`` turns one
page into rows, ``listing`` pages through the list and checks it, ``store``
writes a complete list. Users: ``profile`` parses ``/users/<handle>/``,
``users`` fetches and stores one profile. Tags: ``problem_page`` parses
``/problems/<CODE>/``, ``tags`` picks the next problems and stores their tags.
"""
