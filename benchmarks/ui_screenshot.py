"""Open a results folder's MLflow UI in a real headless browser: a screenshot and a check of the page.

    python benchmarks/ui_screenshot.py --results results [--suite toy2d] [--out ui.png]

Starts ``ganbench ui``'s server on a free port (:func:`ganbench.ui.start_server`), waits for it to
answer, opens each suite's URL as ``ganbench ui`` prints it (:func:`ganbench.ui.suite_links`) in
headless Chromium, writes a screenshot per suite (``--out``, ``<stem>-<suite>.png`` for several) and
checks the rendered page (Chromium's ``--dump-dom``): the runs table, grouped by method, with the
suite's metric columns. Prints one JSON line per suite and exits 1 when a check fails.

The browser: Chromium's headless shell from Debian (``apt-get install chromium-headless-shell``;
``chromium`` or Google Chrome also work, found on PATH or named by ``--browser``). No headless
browser comes from PyPI alone (Playwright's package downloads its browsers separately), so the
test suite checks the server's HTTP answers instead (``tests/test_mlflow_ui.py``) and this script
is the browser check, run by hand.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the MLflow server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the MLflow server did not answer within {timeout:.0f} s")


def browse(browser: str, url: str, png: Path, budget_ms: int) -> str:
    """Screenshot ``url`` into ``png`` and return the rendered DOM (after the page's scripts ran)."""
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1600,1000", f"--virtual-time-budget={budget_ms}"]
    with tempfile.TemporaryDirectory() as profile:
        flags.append(f"--user-data-dir={profile}")
        subprocess.run(flags + [f"--screenshot={png}", url], check=True, capture_output=True, timeout=300)
        dom = subprocess.run(flags + ["--dump-dom", url], check=True, capture_output=True, text=True, timeout=300)
    return dom.stdout


def main() -> int:
    from mlflow.tracking import MlflowClient

    from ganbench.tracking import TRIAL_TAG, default_tracking_uri
    from ganbench.ui import start_server, stop_server, suite_links

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--suite", help="only this suite (default: every suite in the store)")
    parser.add_argument("--out", type=Path, default=Path("ui.png"))
    parser.add_argument("--browser", help="the browser executable (default: the first of %s on PATH)" % (BROWSERS,))
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the server")
    parser.add_argument("--budget-ms", type=int, default=20000, help="the page's virtual time budget")
    args = parser.parse_args()

    browser = args.browser or next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        raise SystemExit("no headless browser found: apt-get install chromium-headless-shell (or pass --browser)")
    port = free_port()
    proc = start_server(args.results, "127.0.0.1", port)
    base = f"http://127.0.0.1:{port}"
    failed = False
    try:
        wait_healthy(base, proc, args.timeout)
        links = [(s, u) for s, u in suite_links(args.results, base) if args.suite in (None, s)]
        if not links:
            raise SystemExit(f"{args.results}: no suite {args.suite or ''} in the store")
        client = MlflowClient(default_tracking_uri(args.results))
        for suite, url in links:
            exp = client.get_experiment_by_name(suite)
            runs = client.search_runs([exp.experiment_id], filter_string=f"tags.`{TRIAL_TAG}` LIKE '%'",
                                      max_results=1000)
            metrics = sorted({k for r in runs for k in r.data.metrics
                              if not k.startswith(("loss", "protocol.")) and k != "elapsed_s"})
            methods = sorted({r.data.params.get("method", "") for r in runs})
            png = args.out if len(links) == 1 else args.out.with_name(f"{args.out.stem}-{suite}{args.out.suffix}")
            dom = browse(browser, url, png, args.budget_ms)
            # a column header may be cut to its first characters by the column's width
            checks = {"runs table": "Run Name" in dom,
                      **{f"metric column {m}": m[:10] in dom for m in metrics},
                      **{f"group {m}": f"Group: {m}"[:12] in dom for m in methods},
                      "not the GenAI overview": "Detect Issues" not in dom}
            ok = all(checks.values())
            failed |= not ok
            print(json.dumps({"suite": suite, "url": url, "screenshot": str(png), "ok": ok,
                              "failed": [k for k, v in checks.items() if not v]}), flush=True)
    finally:
        stop_server(proc)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
