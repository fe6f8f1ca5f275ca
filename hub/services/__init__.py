"""Hub-managed services (reports, dashboards): JupyterHub services started and proxied
by the hub, each in its own package."""
