"""The ground every layer stands on: the settings table (`ground.settings`) and the root error with its exit
codes (`ground.errors`). Standard library only, and no import of any other qqscan package, so every layer
may read it and no import arrow points up (tests/test_layers.py)."""
