"""The exception tree the CLI turns into one clear error line (never a traceback)."""


class MkbError(Exception):
    """Base class: a user-facing error whose str() is the one line to print, and the exit code the CLI returns."""

    exit_code = 1


class ConfigError(MkbError):
    """Bad configuration, arguments, model names or missing keys."""


class RefError(ConfigError):
    """A session reference (id, prefix, name) that names no session, or more than one: a usage error, exit code 2
    like argparse's, with the nearest ids and names in the line."""

    exit_code = 2


class TaskError(MkbError):
    """An unknown or malformed benchmark task."""


class MnnNotFound(MkbError):
    """MNN has not been set up (`mkb-tui setup mnn`)."""


class DeviceError(MkbError):
    """A device is missing, unreachable or failed mid-run."""


class ProviderError(MkbError):
    """An LLM provider failed in a way retries could not fix."""
