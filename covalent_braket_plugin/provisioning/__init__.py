"""Idempotent ensure, describe and remove of AWS resources, with dry runs: the engine (``engine.py``),
one module per resource kind, and the lists of resources ``setup`` makes (``setup.py``)."""
