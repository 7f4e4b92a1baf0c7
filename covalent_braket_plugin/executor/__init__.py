"""The story of one electron run as a Braket Hybrid Job: settings, image, transfer, job, watch.

Only ``executor.executor`` imports covalent; the other modules serve the commands too, which start
without it.
"""
