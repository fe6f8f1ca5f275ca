"""``make bench``: DataLab Hub measured against references in the same run.

Simulated users (in the spirit of jupyterhub/hubtraf) log in through a hub's login form,
start their server through the REST API, open a kernel through the lab's REST API and
websocket, run a cell and stop. The same journeys run, interleaved, against the DataLab
hub (docker backend), a vanilla JupyterHub + DockerSpawner (``vanilla_config.py``) and a
bare ``docker run`` of the same lab image (the floor). Traffic goes only to 127.0.0.1 and
the project's internal Docker network. Results: ``bench/results/<stamp>.json`` and
``.png``; see ``docs/benchmarks.md``.
"""
