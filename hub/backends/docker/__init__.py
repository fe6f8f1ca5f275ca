"""The ``docker`` backend: labs, dashboards and report runs in containers of the lab image."""
