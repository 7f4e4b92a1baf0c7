"""The local Braket stack: the AWS side of Amazon Braket on one machine, behind one endpoint.

``LocalStack`` starts and stops it from Python; ``covalent-braket local ...`` does the same from a
shell; the ``braket_local_stack`` pytest plugin offers it as fixtures. See docs/local-stack.md.
"""

from covalent_braket_plugin.local.stack import LocalStack, LocalStackError

__all__ = ["LocalStack", "LocalStackError"]
