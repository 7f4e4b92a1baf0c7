"""Prepare an AWS account for the plugin: its IAM policies, ``covalent-braket setup`` and covalent.conf.

``policies`` writes the job execution role's trust and permission policies and the policy a user of
the executor needs, each scoped to one bucket, one repository and one role; ``conf`` reads and
writes the ``[executors.braket]`` section of covalent.conf; ``setup`` creates what a first job
needs, idempotently; ``cli`` adds the ``setup`` and ``iam-policy`` commands.
"""
