"""JupyterHub entry point: load the deployment file and apply it (see hub/apply.py)."""

import sys

from hub.apply import apply
from hub.settings import ConfigError, load

c = get_config()  # noqa: F821 (provided by JupyterHub)
try:
    apply(c, load())
except ConfigError as error:
    sys.exit(f"DataLab Hub cannot start, the deployment file needs fixing:\n{error}")
