"""The reference: a vanilla JupyterHub + DockerSpawner with default settings, on the same
lab image. Only what it needs to run here is set: loopback ports, the internal Docker
network (the hub's API on its gateway so containers reach it), a dummy password, a state
directory and container removal on stop (DataLab removes containers too).
Read by ``jupyterhub -f bench/vanilla_config.py`` with BENCH_* environment variables set by
``bench/systems.py``."""

import os

c = get_config()  # noqa: F821 (provided by JupyterHub)
port = int(os.environ["BENCH_PORT"])
workdir = os.environ["BENCH_WORKDIR"]
gateway = os.environ["BENCH_GATEWAY"]

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = port
c.JupyterHub.hub_bind_url = f"http://{gateway}:{port + 1}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 2}"
c.ConfigurableHTTPProxy.command = [os.environ["BENCH_PROXY"]]
c.ConfigurableHTTPProxy.pid_file = f"{workdir}/proxy.pid"
c.JupyterHub.db_url = f"sqlite:///{workdir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{workdir}/cookie_secret"
c.JupyterHub.pid_file = f"{workdir}/jupyterhub.pid"

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["BENCH_PASSWORD"]

c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.image = os.environ["BENCH_IMAGE"]
c.DockerSpawner.pull_policy = "never"
c.DockerSpawner.network_name = os.environ["BENCH_NETWORK"]
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.prefix = os.environ["BENCH_PREFIX"]
c.DockerSpawner.remove = True
