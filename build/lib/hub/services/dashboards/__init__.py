"""The dashboards service: notebooks published as Voilà dashboards for decision-makers.

A hub-managed JupyterHub service (see :func:`hub.apply.apply_dashboards`) under
``/services/dashboards/``: a gallery of the dashboards each viewer may see, a REST API to
publish, list and unpublish, and a reverse proxy to one Voilà server per dashboard, run
with its author's identity by a :class:`~hub.services.dashboards.runners.Runner`.

``python -m hub.services.dashboards`` starts it (the hub does); it reads the deployment
file named by ``DATALAB_CONFIG`` and the ``JUPYTERHUB_*`` variables the hub sets.
"""

SERVICE_NAME = "dashboards"
