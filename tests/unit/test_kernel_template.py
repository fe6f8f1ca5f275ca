"""Dashboard kernels forked from a template (:mod:`hub.services.dashboards.kernel_template`,
:class:`~hub.services.dashboards.voila_app.TemplateProvisioner`): what the template
imports, and real kernels forked from a real template process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from jupyter_client.manager import AsyncKernelManager

from hub.services.dashboards import voila_app
from hub.services.dashboards.kernel_template import LEARNED_MODULES, learned_modules, notebook_modules
from hub.services.dashboards.service import kernel_modules


def write_notebook(directory: Path, *sources: str) -> Path:
    path = directory / "tableau.ipynb"
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
             for source in sources]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    return path


def test_the_template_imports_what_the_cells_and_the_notebooks_modules_import(tmp_path):
    (tmp_path / "donnees.py").write_text("import csv\n\ndef lire():\n    import decimal\n    return decimal\n")
    notebook = write_notebook(tmp_path, "%matplotlib inline\nimport json, os.path\nfrom collections import deque",
                              "!ls\nimport donnees\nfrom . import rien")
    assert notebook_modules(notebook, own_modules=False) == ["json", "os.path", "collections", "csv", "decimal"]
    assert notebook_modules(notebook, own_modules=True) == ["json", "os.path", "collections", "donnees", "csv",
                                                            "decimal"]


def test_the_modules_an_execution_listed_are_kept_only_as_module_names():
    listed = ["pandas", "pandas.core.frame", "_cython_3_1_3", "_sysconfigdata__x86_64-linux-gnu"]
    assert kernel_modules({"metadata": {"datalab": {"kernel_modules": listed}}}) == listed
    junk_names = {"metadata": {"datalab": {"kernel_modules": ["pandas", "os; rm -rf /", "../x", ".rel", 3]}}}
    assert kernel_modules(junk_names) == ["pandas"]
    for junk in (None, {}, {"metadata": {"datalab": "x"}}, {"metadata": {"datalab": {"kernel_modules": "pandas"}}},
                 {"metadata": {"datalab": {"kernel_modules": ["x"] * 10_001}}}):
        assert kernel_modules(junk) == [], junk


def test_the_template_leaves_the_kernels_own_machinery_out_of_the_learned_list(tmp_path):
    notebook = write_notebook(tmp_path, "print(1)")
    assert learned_modules(notebook) == []
    (tmp_path / LEARNED_MODULES).write_text(json.dumps([
        "__main__", "ipykernel_launcher", "matplotlib_inline.backend_inline", "debugpy.server", "_pydevd_bundle",
        "pydevd", "pandas", "pandas.io", 7]))
    assert learned_modules(notebook) == ["pandas", "pandas.io"]
    (tmp_path / LEARNED_MODULES).write_text("{not json")
    assert learned_modules(notebook) == []


async def run(client, code: str) -> str:
    """What ``code`` prints in the kernel."""
    msg_id = client.execute(code)
    printed = ""
    while True:
        message = await client.get_iopub_msg(timeout=60)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            printed += message["content"]["text"]
        if message["msg_type"] == "error":
            raise AssertionError(message["content"]["evalue"])
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return printed.strip()


@pytest.fixture
def template_for():
    """Start a template for a notebook (``template_for(path, own_modules)``); every
    template started is ended, and the provisioner forgets it."""
    started = []

    def start(notebook: Path, own_modules: bool) -> voila_app.KernelTemplate:
        template = voila_app.KernelTemplate(notebook, own_modules)
        started.append(template)
        voila_app.TemplateProvisioner.template = template
        return template

    yield start
    voila_app.TemplateProvisioner.template = None
    for template in started:
        template.channel.close()
        template.process.wait(timeout=30)


async def start_kernel(cwd: Path) -> tuple[AsyncKernelManager, object]:
    manager = AsyncKernelManager(kernel_name="python3")
    manager.provisioner = voila_app.TemplateProvisioner(kernel_id="k", kernel_spec=manager.kernel_spec, parent=manager)
    await manager.start_kernel(cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    return manager, client


def test_a_forked_kernel_has_the_templates_modules_runs_in_the_notebooks_directory_and_ends(tmp_path, template_for):
    (tmp_path / "donnees.py").write_text("import fractions\nVALEUR = 42\n")
    (tmp_path / LEARNED_MODULES).write_text(json.dumps(["xml.dom.minidom"]))  # a library's lazy import
    template = template_for(write_notebook(tmp_path, "import donnees, statistics"), own_modules=True)

    async def scenario():
        manager, client = await start_kernel(tmp_path)
        try:
            assert isinstance(manager.provisioner.process, voila_app.ForkedKernel)
            seen = await run(client, "import sys, os\nprint(sorted(m for m in ('donnees', 'fractions', 'statistics', "
                                     "'xml.dom.minidom') if m in sys.modules), os.getppid(), os.getcwd())")
            assert seen == f"['donnees', 'fractions', 'statistics', 'xml.dom.minidom'] {template.process.pid} {tmp_path}"
            pid = manager.provisioner.process.pid
        finally:
            client.stop_channels()
            await manager.shutdown_kernel()
        assert not await manager.is_alive()
        return pid

    pid = asyncio.run(scenario())
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.1)  # the template reaps it
    assert not os.path.exists(f"/proc/{pid}")


def test_an_ended_kernel_is_never_signalled_again(tmp_path, template_for):
    template_for(write_notebook(tmp_path, "import statistics"), own_modules=False)

    async def scenario():
        manager, client = await start_kernel(tmp_path)
        client.stop_channels()
        kernel = manager.provisioner.process
        kernel.kill()
        assert kernel.wait(timeout=30) == 0
        kernel.send_signal(9)  # its pidfd says it ended: nothing is signalled, nothing raised
        assert kernel.poll() == 0
        await manager.shutdown_kernel(now=True)

    asyncio.run(scenario())


def test_an_identity_dependent_dashboards_template_runs_none_of_the_notebooks_code(tmp_path, template_for):
    marker = tmp_path / "imported"
    (tmp_path / "perso.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    (tmp_path / LEARNED_MODULES).write_text(json.dumps(["perso", "pathlib"]))  # as its execution listed
    template = template_for(write_notebook(tmp_path, "import perso"), own_modules=False)

    async def scenario():
        manager, client = await start_kernel(tmp_path)
        try:
            assert await run(client, "import sys\nprint('perso' in sys.modules, 'pathlib' in sys.modules)") == "False True"
        finally:
            client.stop_channels()
            await manager.shutdown_kernel()

    asyncio.run(scenario())
    assert template.process.poll() is None and not marker.exists()


def test_a_template_with_a_thread_forks_nothing_and_kernels_start_cold(tmp_path, template_for):
    (tmp_path / "fil.py").write_text("import threading, time\nthreading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n")
    template_for(write_notebook(tmp_path, "import fil"), own_modules=True)

    async def scenario():
        manager, client = await start_kernel(tmp_path)
        try:
            assert isinstance(manager.provisioner.process, subprocess.Popen)
            assert await run(client, "print(1 + 1)") == "2"
        finally:
            client.stop_channels()
            await manager.shutdown_kernel()

    asyncio.run(scenario())


def test_kernels_end_with_their_template(tmp_path, template_for):
    template = template_for(write_notebook(tmp_path, "import statistics"), own_modules=False)

    async def scenario():
        manager, client = await start_kernel(tmp_path)
        client.stop_channels()
        kernel = manager.provisioner.process
        template.channel.close()  # as when Voilà ends
        assert kernel.wait(timeout=30) == 0
        await manager.shutdown_kernel(now=True)

    asyncio.run(scenario())
