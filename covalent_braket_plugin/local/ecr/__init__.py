"""The local stack's ECR API: the image state in ``models.py``, the HTTP protocol in ``responses.py``."""
