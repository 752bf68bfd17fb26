"""The exception tree the CLI turns into one clear error line (never a traceback)."""


class MkbError(Exception):
    """Base class: a user-facing error whose str() is the one line to print."""


class ConfigError(MkbError):
    """Bad configuration, arguments, model names or missing keys."""


class TaskError(MkbError):
    """An unknown or malformed benchmark task."""


class MnnNotFound(MkbError):
    """MNN has not been set up (`mkb-tui setup mnn`)."""


class DeviceError(MkbError):
    """A device is missing, unreachable or failed mid-run."""


class ProviderError(MkbError):
    """An LLM provider failed in a way retries could not fix."""
