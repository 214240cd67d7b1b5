"""Tools above every part: the demo launcher (``facility demo``) and the launchers of the real
``influxd`` and ``mosquitto`` the demo, the tests and the benchmarks start.

The top floor (docs/decisions/004-layers.md): it may import every part, and no part imports
it.
"""
