"""JupyterHub entry point: load the deployment file, make what the hub needs on this
machine and apply the deployment (hub/startup.py, hub/apply.py), then load the
operator's own files of ``hub.config_dir`` (the escape hatch, ``jupyterhub_config.d/*.py``),
and bind every hub-managed service to this hub's process (they end when it ends; the hub
starts one that ended again within seconds, hub/service_restart.py); where labs reach
the hub, only its API answers (hub/apigate.py)."""

import os
import sys

from hub import apigate, service_restart
from hub.apply import bind_services_to_hub, config_files, configure
from hub.settings import ConfigError, backend_from_env, load

c = get_config()  # noqa: F821 (provided by JupyterHub)
try:
    settings = backend_from_env(load())
    configure(c, settings)
except ConfigError as error:
    sys.exit(f"DataLab Hub cannot start, the deployment file needs fixing:\n{error}")
for path in config_files(settings):
    load_subconfig(str(path))  # noqa: F821 (provided by JupyterHub's config loader)
bind_services_to_hub(c, os.getpid())
service_restart.install()
apigate.install()
