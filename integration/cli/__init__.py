"""The `droptrack` command: the root group, the shared context, one module per command group under
commands/.
"""
