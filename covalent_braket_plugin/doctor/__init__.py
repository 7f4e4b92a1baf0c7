"""``covalent-braket doctor``: is this machine and AWS account ready for ``BraketExecutor``?

``checks`` runs the checks in order (covalent.conf, credentials, region, bucket, repository, job
role, Docker, Python and covalent versions) without changing anything; ``catalog`` holds every
problem they can report with its fix, and renders docs/troubleshooting.md from them; ``report``
prints the results as a table or JSON; ``cli`` adds the command.
"""
