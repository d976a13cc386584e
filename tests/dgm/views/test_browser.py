"""A real headless Chromium opens the viewer of a small real run, clicks a node of the tree
and sees its diff, scores and a transcript. Needs Debian's `chromium` and `chromium-driver`
and the `selenium` package; skipped, with the reason, only when those are missing."""

from __future__ import annotations

import shutil
import tempfile
import threading

import pytest

from dgm.views import ViewerServer

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,900",
]


@pytest.fixture
def browser():
    if not CHROMIUM or not DRIVER:
        pytest.skip(
            "chromium/chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="dgm-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def viewer(small_run):
    srv = ViewerServer(small_run)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_click_a_node_and_see_its_diff(browser, viewer):
    wait = WebDriverWait(browser, 20)
    browser.get(viewer.url)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "body[data-ready='1']")))
    circles = browser.find_elements(By.CSS_SELECTOR, "#nodes circle")
    assert len(circles) == 5
    assert "invalid" in browser.find_element(By.ID, "node-2").get_attribute("class")
    assert browser.find_element(By.ID, "best-edges").get_attribute("d").count("M") == 2

    ActionChains(browser).move_to_element(browser.find_element(By.ID, "node-3")).click().perform()
    wait.until(ec.text_to_be_present_in_element((By.ID, "node-title"), "Node 3"))
    diff = browser.find_element(By.ID, "diff")
    assert "+# change made by node 3" in diff.text
    added = diff.find_elements(By.CSS_SELECTOR, "span.add")
    assert any("change made by node 3" in s.text for s in added)
    assert "t3" in browser.find_element(By.ID, "scores").text
    assert "weakness-3" in browser.find_element(By.ID, "detail").text
    assert "$0.0400" in browser.find_element(By.ID, "fm-cost").text

    # A transcript: the evaluation log is a directory, so its files are listed (result.json,
    # transcript.md), then one is opened.
    browser.find_element(By.CSS_SELECTOR, "#scores button.link").click()
    box = browser.find_element(By.ID, "transcript-box")
    wait.until(lambda _: box.find_elements(By.CSS_SELECTOR, "button.link"))
    files = box.find_elements(By.CSS_SELECTOR, "button.link")
    [f for f in files if f.text.endswith("transcript.md")][0].click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript-box"), "# transcript node 3"))

    # Panning moves the tree; a drag is not taken for a click.
    before = browser.find_element(By.ID, "viewport").get_attribute("transform")
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "tree")).click_and_hold()\
        .move_by_offset(60, 30).release().perform()  # fmt: skip
    assert browser.find_element(By.ID, "viewport").get_attribute("transform") != before
    assert "Node 3" in browser.find_element(By.ID, "node-title").text
