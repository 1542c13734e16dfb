"""report.html, tearsheet.html and summary.html opened in a real (headless) Chromium.

Each page must load without a console message (script errors show up there), show its tables,
images and links, and need nothing from the network. Chromium is Debian's `chromium` package
(`.ci/run` installs it); the test never downloads a browser.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import EXPLAIN, FAST, PLOTS, ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MISSING = ("chromium is not installed and tests never download one: run `apt-get install -y "
           "chromium` (as .ci/run does)")

# The report with every table and image (run plots, risk.png, attribution plots) and the tearsheet.
QUICK = [*FAST, "forecaster=ridge", "report.tearsheet=true", PLOTS, EXPLAIN]
IMAGES_PROBE = ("<script>window.addEventListener('load',function(){var n=0,i=document.images;"
                "for(var k=0;k<i.length;k++)if(i[k].complete&&i[k].naturalWidth>0)n++;"
                "document.body.setAttribute('data-images',n+'/'+i.length);});</script>")
FIT_PROBE = ("<script>window.addEventListener('load',function(){var w=document.documentElement."
             "clientWidth,out=[];['deflated_sharpe','psr','excess_deflated_sharpe','excess_psr']."
             "forEach(function(k){var r=document.querySelector('#runs th[data-key='+k+']')."
             "getBoundingClientRect();if(r.right>w)out.push(k);});document.body.setAttribute("
             "'data-off-screen',out.join('|')||'none');});</script>")
SORT_PROBE = ("<script>window.addEventListener('load',function(){var h=document.querySelector("
              "'#runs th[data-key=sharpe]');h.click();h.click();var r=document.querySelectorAll("
              "'#runs tbody tr'),o=[];for(var k=0;k<r.length;k++)o.push(r[k].cells[0].getAttribute("
              "'data-v'));document.body.setAttribute('data-order',o.join('|'));});</script>")


def browse(page: Path, fragment: str = "", probe: str = "", width: int = 1400) -> tuple[str, list[str]]:
    """The DOM after load (in a window `width` px wide) and every console line Chromium logged."""
    if probe:  # a copy beside the page (so relative links still resolve) with a check appended
        copy = page.with_name(f".probe-{page.name}")
        copy.write_text(page.read_text().replace("</body>", probe + "</body>"))
        page = copy
    profile = page.parent / ".chromium-profile"
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", f"--window-size={width},1000", "--dump-dom",
         page.as_uri() + fragment],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def external(dom: str) -> list[str]:
    """Resources the page would fetch from the network: src=, <link href=>, CSS url(...).

    Plain <a href> links are only followed when clicked, and the SVG namespace is only a name.
    """
    found = re.findall(r'\ssrc="([^"]*)"', dom) + re.findall(r'<link[^>]*\shref="([^"]*)"', dom)
    found += re.findall(r"url\(['\"]?([^'\")]*)", dom)
    return [url for url in found if re.match(r"(https?:)?//", url)]


def require_chromium(found: str | None, environ: Mapping[str, str]) -> str:
    """The browser, or a skip on a developer's machine, or a failure in CI (env CI set), where a
    browser that failed to install must not turn the page checks into silent skips."""
    if found:
        return found
    if environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set but {MISSING}; the browser tests must run in CI", pytrace=False)
    pytest.skip(MISSING)


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium(CHROMIUM, os.environ)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory, chromium) -> Path:
    root = tmp_path_factory.mktemp("browser")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", *QUICK,
                           "strategy=lstm_momentum,sma_cross", "hydra/launcher=joblib",
                           f"hydra.sweep.dir={root / 'sweep'}", f"paths.cache_dir={root / 'cache'}"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "sweep"


def test_report_loads_cleanly_with_its_tables_images_and_links(sweep_dir):
    folder = sweep_dir / "0_lstm_momentum_SYN"
    dom, console = browse(folder / "report.html", probe=IMAGES_PROBE)
    assert console == []
    assert "<h1>SYN · lstm_momentum" in dom
    # what ran, data checks, performance, trials on this data, forecast skill, risk backtests, risk
    # comparison, trades, importances
    assert dom.count("<table") == 9
    assert 'data-images="6/6"' in dom  # 2 run plots, risk.png and 3 explanation plots decode
    assert 'href="tearsheet.html"' in dom and (folder / "tearsheet.html").exists()
    assert external(dom) == []


def test_tearsheet_loads_with_its_charts_and_tables(sweep_dir):
    page = sweep_dir / "0_lstm_momentum_SYN" / "tearsheet.html"
    dom, console = browse(page)
    assert "Key Performance Metrics" in dom and dom.count("<svg") >= 5 and "<table" in dom
    assert "lstm_momentum" in dom
    assert 'onload="save()"' not in page.read_text()  # QuantStats' broken onload is stripped
    assert console == []
    assert external(dom) == []


def test_summary_loads_sorts_and_links_every_run(sweep_dir):
    table = pd.read_csv(sweep_dir / "summary.csv")
    dom, console = browse(sweep_dir / "summary.html", probe=SORT_PROBE)
    assert console == []
    assert dom.count("<tr>") == len(table) + 1 and 'id="equity"' in dom
    assert dom.count("<polyline") == len(table) + 1  # every run, and buy and hold once
    for job in table["job"]:
        for name in ("report.html", "tearsheet.html"):
            assert f'href="{job}/{name}"' in dom and (sweep_dir / job / name).exists()
    best_first = "|".join(table.sort_values("sharpe", ascending=False)["job"])
    assert f'data-order="{best_first}"' in dom  # two clicks on Sharpe: descending
    assert "Deflated Sharpe" in dom and external(dom) == []
    assert "${" not in dom and dom.count(">SYN</td>") == len(table)  # the ticker, resolved
    opened_sorted, console = browse(sweep_dir / "summary.html", fragment="#sort=-sharpe")
    assert console == [] and 'data-key="sharpe" aria-sort="descending"' in opened_sorted


@pytest.mark.parametrize("width", [1400, 2200])
def test_summary_keeps_the_deflated_sharpe_on_screen_beside_long_overrides(sweep_dir, tmp_path, width):
    # An Optuna search sets six keys per trial: the Overrides column must wrap, not push the DSR away.
    from backtests.sweeps.summary import write_summary

    copy = tmp_path / "sweep"
    shutil.copytree(sweep_dir, copy, ignore=shutil.ignore_patterns(".chromium-profile", ".probe-*"))
    for number, overrides in enumerate(sorted(copy.glob("*/.hydra/overrides.yaml"))):
        overrides.write_text(overrides.read_text() + "".join(
            f"- {key}={value + number}\n" for key, value in
            (("forecaster.window", 20), ("forecaster.units", 32), ("forecaster.dropout", 0.15),
             ("walkforward.retrain_every", 21), ("strategy.entry", 0.0005), ("strategy.exit", -0.0004))))
    write_summary(copy)
    dom, console = browse(copy / "summary.html", probe=FIT_PROBE, width=width)
    assert console == []
    off_screen = re.search(r'data-off-screen="([^"]*)"', dom)
    assert off_screen is not None and off_screen.group(1) == "none", off_screen
    assert "forecaster.window=20" in dom and "All 2 runs share the test period" in dom
    assert len(re.findall(r'text-anchor="end" font-size="11">', dom)) >= 4  # y-axis ticks


def test_missing_chromium_fails_in_ci_and_skips_elsewhere(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="CI is set but chromium is not installed"):
        require_chromium(None, {"CI": "true"})
    for elsewhere in ({}, {"CI": ""}, {"CI": "false"}):
        with pytest.raises(pytest.skip.Exception):
            require_chromium(None, elsewhere)
    assert require_chromium("/usr/bin/chromium", {"CI": "true"}) == "/usr/bin/chromium"
    # The whole module as CI runs it on a machine without a browser: a failure, not a skip.
    env = {**os.environ, "CI": "true", "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(Path(__file__)), "-k", "report_loads_cleanly"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "CI is set but chromium is not installed" in done.stdout, \
        done.stdout[-2000:]
