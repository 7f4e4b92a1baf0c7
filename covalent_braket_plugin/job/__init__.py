"""What runs inside a Braket job: the electron's runner and script mode, standalone.

Nothing here imports the rest of the package: these files are copied into job images and job
source archives where the package is not installed (tests/unit/test_layout.py enforces it).
"""
