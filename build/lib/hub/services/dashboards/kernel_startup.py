"""Run by every dashboard kernel at start (``IPKernelApp.exec_files``).

Unless the page was requested by the dashboard's author (the service sets the header
``X-DataLab-Viewer: author``, which Voilà passes to the kernel as
``HTTP_X_DATALAB_VIEWER``), every traceback the kernel would show (a cell that raises
while the page renders, a widget callback that raises later) is replaced by the
deployment's message (``DATALAB_DASHBOARD_ERROR``), and standard error is dropped, as
Voilà does when tracebacks are hidden. The author sees the real tracebacks.
"""


def _datalab_hide_tracebacks():
    import os
    import sys

    if os.environ.get("HTTP_X_DATALAB_VIEWER") == "author":
        return
    shell = get_ipython()  # noqa: F821 (defined in a kernel)
    message = os.environ.get("DATALAB_DASHBOARD_ERROR", "Error")
    show = shell._showtraceback

    def show_message(etype, evalue, stb):
        show(etype, "", [message])

    shell._showtraceback = show_message
    sys.stderr = open(os.devnull, "w")


_datalab_hide_tracebacks()
del _datalab_hide_tracebacks
