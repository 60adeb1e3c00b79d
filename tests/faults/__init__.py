"""The fault suite: every upstream fault a demanding user meets, played over real loopback HTTP.

``server`` is the loopback fault server (a :class:`~openresponses.testing._loopback.LoopbackServer`
whose replies are scripted byte by byte), ``scenarios`` the table of faults and what the caller
should see, ``runner`` plays one scenario through the documented production stack and measures
it. ``test_faults.py`` asserts each row; ``benchmarks/reliability.py`` runs the same table and
writes ``docs/reliability.md``.
"""
