"""`pip install` of the `recentchanges` distribution into a fresh virtualenv, then
`import rcclient`.

scripts/test.sh builds the sdist and, from it, the wheel once (`maturin build --sdist`) and
passes the wheel in RCCLIENT_WHEEL; without it this test runs `pip install ./rc-python`
itself (the PEP 517 build, one more build)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import FIXTURES, REPO


def test_pip_install_into_a_fresh_virtualenv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = str(venv / "bin" / "python")
    target = os.environ.get("RCCLIENT_WHEEL") or str(REPO / "rc-python")
    install = subprocess.run(
        [py, "-m", "pip", "install", "--no-input", "--disable-pip-version-check", target],
        capture_output=True, text=True, timeout=3600,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    check = subprocess.run(
        [py, "-c",
         "import sys, os, importlib.metadata as md, rcclient;"
         "rc = rcclient.parse(open(sys.argv[1], 'rb').read());"
         "print(rcclient.__file__); print(rc.title, rc.rcid, rc.timestamp.isoformat());"
         "m = md.metadata('recentchanges'); print(m['Name'], '|', m['License-Expression']);"
         "here = os.path.dirname(rcclient.__file__);"
         "print(sorted(f for f in os.listdir(here) if f.endswith(('.pyi', '.typed'))))",
         str(FIXTURES / "0004.rc.xml")],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert check.returncode == 0, check.stderr
    path, line, meta, typing_files = check.stdout.splitlines()
    assert path.startswith(str(venv)), "imported from the fresh environment"
    assert line == "User:Botty 4 2026-11-23T10:45:52+00:00"
    # the distribution is `recentchanges` (PEP 639 license metadata), the module `rcclient`
    assert meta == "recentchanges | MIT OR Apache-2.0"
    assert typing_files == "['_rcclient.pyi', 'py.typed']"
    # the console script is there too
    cli = subprocess.run([str(venv / "bin" / "rcclient"), "parse", str(FIXTURES / "0004.rc.xml")],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0 and '"rcid":4' in cli.stdout
