"""The ``local`` backend: labs, dashboards and report runs as processes of the person's account."""
