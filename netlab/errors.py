"""Errors a user sees as one line."""


class NetlabError(Exception):
    """Bad input or a failed operation; the message is the one line shown."""


class ModelError(NetlabError):
    """The cluster description is invalid: names file, field, value and reason."""
