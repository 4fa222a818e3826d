"""Simulated department systems for the demo and for trying the exchange end to end.

Fakes of the outside world only: each sits behind its family's real adapter and talks to a
real gateway over HTTP. ``systems`` holds the systems, ``exports`` what they export when
asked, ``demo`` the three cases ``gateway demo`` plays.
"""
