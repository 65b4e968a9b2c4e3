"""The run report: one self-contained, escaped HTML file that renders in a real browser without errors."""

import base64
import io
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image

from gankit.errors import GankitError
from gankit.evaluation import evaluate_run
from gankit.recipes import resolve_config
from gankit.cli import main
from gankit.report import MAX_SNAPSHOTS, format_value, render_report, select_evenly, write_report
from gankit.training.loop import train

# A string a hostile run directory could carry: shown verbatim it would run a script and fetch a URL.
HOSTILE = '<script>alert("x")</script><img src="https://evil.example/x.png" onerror="alert(1)">'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_settings):
    """A tiny finished and evaluated nsgan run on ring8 (snapshots at steps 10 and 20)."""
    path = tmp_path_factory.mktemp("report") / "run"
    train(resolve_config("nsgan", "ring8", "vector", {**tiny_settings, "optim.lr_g": 3e-4}), path, progress=False)
    evaluate_run(path, n=200)
    return path


@pytest.fixture
def quick_charts(monkeypatch):
    """Charts as a small blank PNG, for tests about the page rather than the plots (matplotlib takes ~0.3 s a chart)."""
    buffer = io.BytesIO()
    Image.new("RGB", (240, 160), "white").save(buffer, format="PNG")
    monkeypatch.setattr("gankit.report.charts._chart", lambda *args, **kwargs: buffer.getvalue())


@pytest.fixture
def hostile_run(run_dir, tmp_path):
    """A copy of the run whose config, metrics and evaluation carry markup in names and values."""
    path = tmp_path / "hostile"
    shutil.copytree(run_dir, path)
    config = json.loads((path / "config.json").read_text())
    config["recipe"] = HOSTILE
    config["data"]["name"] = HOSTILE
    (path / "config.json").write_text(json.dumps(config))
    with open(path / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 25, "loss_d": 0.5, "loss_g": 0.5, HOSTILE: 1.0}) + "\n")
    evaluation = json.loads((path / "eval.json").read_text())
    evaluation["protocol"]["reference"] = HOSTILE
    evaluation["metrics"][HOSTILE] = 0.25
    (path / "eval.json").write_text(json.dumps(evaluation))
    return path


def _embedded_pngs(page: str) -> list[Image.Image]:
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    return [Image.open(io.BytesIO(base64.b64decode(uri))) for uri in uris]


def test_report_holds_config_curves_evaluation_and_snapshots(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    path = run_dir / "report.html"
    assert capsys.readouterr().out.strip() == f"wrote {path}"
    page = path.read_text()
    # Config values, as the run saved them.
    for key, value in (("batch_size", "32"), ("g_hidden", "16"), ("lr_g", "0.0003"), ("steps", "20"), ("name", "ring8")):
        assert re.search(rf"<td>{key}</td><td>{re.escape(value)}</td>", page), (key, value)
    assert "gankit report: nsgan on ring8" in page
    # Training curves (losses, learning rates, throughput, modes, hq fraction) and both snapshots.
    images = _embedded_pngs(page)
    snapshots = [(run_dir / "samples" / f"step-{s:08d}.png").read_bytes() for s in (10, 20)]
    for snapshot in snapshots:
        assert base64.b64encode(snapshot).decode() in page
    assert len(images) == 5 + len(snapshots)  # nsgan has no penalty and no instance noise: no chart for them
    assert all(image.format == "PNG" and image.width > 200 and image.height > 200 for image in images)
    for title in ("Losses", "Learning rates", "Throughput", "Modes captured", "High-quality fraction"):
        assert f'alt="{title}' in page, title
    assert "Gradient penalty" not in page
    assert "step 10</figcaption>" in page and "step 20</figcaption>" in page
    # The evaluation: every metric and the protocol that produced it.
    evaluation = json.loads((run_dir / "eval.json").read_text())
    assert re.search(rf"<td>w1</td><td>{re.escape(format_value(evaluation['metrics']['w1']))}</td>", page)
    assert f"<td>reference</td><td>{evaluation['protocol']['reference']}</td>" in page
    # Self-contained: nothing fetched, nothing executed.
    assert not re.search(r"https?://", page)
    assert "<script" not in page.lower()
    assert re.search(r"\b(src|href)=\"(?!data:|#)", page) is None


def test_report_of_a_run_with_a_penalty_draws_it(tmp_path, quick_charts, tiny_overrides):
    path = tmp_path / "gp"
    train(resolve_config("wgan-gp", "ring8", "vector", {**tiny_overrides, "train.steps": 10, "train.n_critic": 1}), path, progress=False)
    page = render_report(path)
    assert 'alt="Gradient penalty"' in page
    assert "No evaluation yet" in page  # never evaluated: the report says how to get one


def test_every_string_from_the_run_directory_is_escaped(hostile_run, quick_charts):
    page = write_report(hostile_run).read_text()
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert HOSTILE not in page
    assert "<script" not in page.lower() and "evil.example/x.png\"" not in page
    assert page.count(escaped) >= 4  # title, heading, config, eval metric/protocol (and the chart's alt text)


def test_eval_history_is_plotted_when_present(run_dir, tmp_path, quick_charts):
    path = tmp_path / "history"
    shutil.copytree(run_dir, path)
    lines = [json.dumps({"step": s, "metrics": {"w1": w, "modes": m}}) for s, w, m in ((10, 0.9, 3), (20, 0.5, 6), (30, 0.2, 8))]
    (path / "eval-history.jsonl").write_text("\n".join(lines) + "\n")
    page = render_report(path)
    assert "history (3 evaluations)" in page
    assert 'alt="eval: w1"' in page and 'alt="eval: modes"' in page


def test_damaged_optional_files_become_notes_not_failures(run_dir, tmp_path, quick_charts):
    path = tmp_path / "damaged"
    shutil.copytree(run_dir, path)
    with open(path / "metrics.jsonl", "a") as handle:
        handle.write(f'{{"step": {10**400}, "loss_d": 1e999, "loss_g": NaN}}\n')  # numbers no float holds
        handle.write('{"step": 30, "loss_d": 0.1, "lo')  # killed mid-write
    (path / "samples" / "step-00000030.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (path / "eval.json").write_text("{broken")
    page = render_report(path)
    assert "metrics.jsonl: 1 unreadable line(s) skipped" in page
    assert "samples/step-00000030.png is not a readable PNG; left out" in page
    assert "eval.json could not be read" in page
    assert len(_embedded_pngs(page)) == 5 + 2  # the curves and the two good snapshots still there


def test_many_snapshots_are_thinned_evenly_keeping_first_and_last(run_dir, tmp_path, quick_charts):
    path = tmp_path / "many"
    shutil.copytree(run_dir, path)
    png = (path / "samples" / "step-00000010.png").read_bytes()
    for step in range(30, 30 + 10 * 40, 10):
        (path / "samples" / f"step-{step:08d}.png").write_bytes(png)
    page = render_report(path)
    captions = [int(s) for s in re.findall(r"<figcaption>step (\d+)</figcaption>", page)]
    assert len(captions) == MAX_SNAPSHOTS
    assert captions[0] == 10 and captions[-1] == 420 and captions == sorted(captions)


@pytest.mark.parametrize("n,limit", [(0, 5), (3, 5), (5, 5), (6, 5), (100, 12), (13, 12), (7, 2)])
def test_select_evenly(n, limit):
    chosen = select_evenly(list(range(n)), limit)
    assert len(chosen) == min(n, limit)
    assert chosen == sorted(set(chosen))
    if n:
        assert chosen[0] == 0 and chosen[-1] == n - 1
    if n > limit:
        gaps = [b - a for a, b in zip(chosen, chosen[1:])]
        assert max(gaps) - min(gaps) <= 1  # evenly spread


def test_format_value():
    assert [format_value(v) for v in (0.000123456, 3, True, None, float("inf"), float("nan"), [2])] == \
        ["0.0001235", "3", "true", "—", "inf", "nan", "[2]"]


def test_not_a_run_directory_is_a_clear_error(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        write_report(tmp_path / "missing")
    with pytest.raises(GankitError, match=r"is not a gankit run directory \(no config.json\)"):
        write_report(tmp_path)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(GankitError, match="config.json.*expected a JSON object"):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


# --- headless Chromium ----------------------------------------------------------------------------
# Driven through chromedriver's W3C WebDriver HTTP API with the standard library (no selenium): the
# browser's console log (JavaScript errors, failed or refused loads, CSP violations) comes back
# through the "browser" log type.

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless Chromium not installed (Debian packages: chromium chromium-driver)",
)
WIDTH = 1280


class Browser:
    """One headless Chromium session behind a chromedriver process on a free local port."""

    def __init__(self, user_data_dir: str):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.session = None
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={user_data_dir}", f"--window-size={WIDTH},1000"]
        capabilities = {"browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"},
                        "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}
        self.session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})["sessionId"]

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())["value"]

    def _session(self, method: str, path: str, body: dict | None = None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, path) -> None:
        self._session("POST", "/url", {"url": path.resolve().as_uri()})

    def run(self, script: str):
        return self._session("POST", "/execute/sync", {"script": script, "args": []})

    def console(self) -> list[dict]:
        """Console entries since the last call (level, source, message)."""
        return self._session("POST", "/se/log", {"type": "browser"})

    def full_page_screenshot(self) -> bytes:
        height = min(int(self.run("return document.documentElement.scrollHeight")), 16000)
        self._session("POST", "/window/rect", {"width": WIDTH, "height": height})
        return base64.b64decode(self._session("GET", "/screenshot"))

    def close(self) -> None:
        if self.session:
            try:
                self._session("DELETE", "")
            except (urllib.error.URLError, ConnectionError):
                pass
        self.driver.terminate()
        try:
            self.driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.driver.kill()


@pytest.fixture(scope="module")
def browser():
    with tempfile.TemporaryDirectory(prefix="gankit-chromium-") as profile:
        session = Browser(profile)
        try:
            yield session
        finally:
            session.close()


RENDER_CHECK = """
const images = Array.from(document.images);
return {
  title: document.title,
  images: images.length,
  broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
  sections: Array.from(document.querySelectorAll("section h2")).map(h => h.textContent),
  scripts: document.scripts.length,
  width: document.documentElement.scrollWidth,
};
"""


def _errors(entries: list[dict]) -> list[str]:
    return [e["message"] for e in entries if e["level"] in ("SEVERE", "WARNING")]


@needs_chromium
def test_report_renders_in_headless_chromium_without_console_errors(run_dir, browser, tmp_path):
    page = write_report(run_dir)
    browser.open(page)
    state = browser.run(RENDER_CHECK)
    assert _errors(browser.console()) == []
    assert state["title"] == "gankit report: nsgan on ring8"
    assert state["images"] == 7 and state["broken"] == []
    assert state["sections"] == ["Summary", "Training curves", "Metrics over training", "Evaluation",
                                 "Samples over training", "Config"]
    assert state["scripts"] == 0 and state["width"] <= WIDTH  # no horizontal overflow
    shot = browser.full_page_screenshot()
    (tmp_path / "report.png").write_bytes(shot)
    image = Image.open(io.BytesIO(shot)).convert("L")
    assert image.width >= WIDTH - 20 and image.height > 1500
    assert len(set(image.resize((64, 64)).get_flattened_data())) > 20  # drawn content, not a blank page


@needs_chromium
def test_hostile_report_runs_nothing_and_fetches_nothing(hostile_run, browser, quick_charts):
    browser.open(write_report(hostile_run))
    state = browser.run(RENDER_CHECK)
    assert _errors(browser.console()) == []  # an executed alert or a refused fetch would be logged
    assert state["scripts"] == 0 and state["broken"] == []
    assert browser.run("return document.title") == f"gankit report: {HOSTILE} on {HOSTILE}"


@needs_chromium
def test_the_console_check_catches_errors(run_dir, browser, tmp_path, quick_charts):
    """Control: the same harness reports a script and an external image smuggled into a report."""
    page = write_report(run_dir).read_text()
    tampered = tmp_path / "tampered.html"
    tampered.write_text(page.replace("<main>", '<main><script>console.log(1)</script><img src="https://evil.example/x.png">'))
    browser.open(tampered)
    errors = _errors(browser.console())
    # The report's Content-Security-Policy refuses both: the browser logs each refusal.
    assert any("script" in e.lower() and "content security policy" in e.lower() for e in errors), errors
    assert any("evil.example" in e for e in errors), errors
