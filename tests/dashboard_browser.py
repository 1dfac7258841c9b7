#!/usr/bin/env python3
"""dashboard_browser.py - drives the broker's dashboard in headless Chromium

Called by tests/test_dashboard.sh with two brokers already running:

  dashboard_browser.py --url URL --token-url URL --token TOKEN \
      --hosts H1,H2 --error TEXT --screenshot PNG

URL serves a broker with two workers and a map of `sleep` tasks under
way, and one failed task whose message is TEXT; TOKEN_URL a broker with
--http-token TOKEN and a worker. Every wait is bounded. Exits 0 when
every check passed, 1 with "FAIL: ..." lines otherwise.
"""
import argparse
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 45  # longest wait for anything on the page

failures = []


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    failures.append(message)


def wait_for(driver, what, predicate, timeout=WAIT_S):
    """predicate(driver) until it is truthy; its value, or None on time out"""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(predicate)
    except TimeoutException:
        fail("timed out after %d s waiting for %s" % (timeout, what))
        return None


def number(text):
    return int(text.replace(",", "").strip() or 0)


def worker_rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#workers tbody tr[data-worker]")


def completed(driver):
    return number(driver.find_element(By.CSS_SELECTOR, '[data-stat="ok"]').text.replace("–", "0"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--hosts", required=True)
    parser.add_argument("--error", required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--profile", required=True)
    args = parser.parse_args()

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1440,1000", "--user-data-dir=" + args.profile,
                 "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    try:
        driver.set_page_load_timeout(WAIT_S)
        driver.set_script_timeout(WAIT_S)
        check_live(driver, args)
        check_token(driver, args)
    except WebDriverException as error:
        fail("the browser failed: %s" % error)
    finally:
        driver.quit()
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("dashboard: every check passed")
    return 0


def check_live(driver, args):
    driver.get(args.url)
    if "zhive" not in driver.title:
        fail("page title %r" % driver.title)
    # Two worker rows, each with its host
    rows = wait_for(driver, "two worker rows", lambda d: len(worker_rows(d)) == 2 and worker_rows(d))
    if rows:
        hosts = sorted(r.find_element(By.CSS_SELECTOR, "td.host").text for r in rows)
        expected = sorted(args.hosts.split(","))
        if hosts != expected:
            fail("worker hosts %r, expected %r" % (hosts, expected))
    # The done count grows while the map runs
    first = wait_for(driver, "a first completed task", lambda d: completed(d) > 0 and completed(d))
    if first:
        second = wait_for(driver, "the completed count to grow past %d" % first,
                          lambda d: completed(d) > first and completed(d))
        print("completed: %s then %s" % (first, second))
    # The queue of sleep tasks is listed with a rate
    wait_for(driver, "the sleep queue",
             lambda d: d.find_elements(By.CSS_SELECTOR, '#queues tbody tr[data-function="sleep"]'))
    # The failed task is in the errors table, its message as text
    row = wait_for(driver, "the provoked error in the errors table",
                   lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "#errors tbody tr")
                              if args.error in r.text])
    if row:
        cells = [c.text for c in row[0].find_elements(By.TAG_NAME, "td")]
        print("error row: %r" % cells)
        if len(cells) != 6 or cells[1] != "fail" or cells[2] != "error" or cells[3] != "ExampleError":
            fail("error row %r: expected function fail, outcome error, ExampleError" % cells)
        if args.error not in cells[4]:
            fail("error row %r: message lacks %r" % (cells, args.error))
        if row[0].find_elements(By.CSS_SELECTOR, "b, script, img"):
            fail("the error message was put in the page as markup")
    # The chart has drawn the ok line above its baseline: pixels of the
    # --ok colour on many rows (grid, axes and labels are other colours; a
    # flat line at zero spans two or three rows)
    rows = wait_for(driver, "the ok line risen in the throughput chart", lambda d: d.execute_script("""
        const c = document.getElementById('chart');
        const probe = document.createElement('canvas').getContext('2d');
        probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--ok').trim();
        probe.fillRect(0, 0, 1, 1);
        const ok = probe.getImageData(0, 0, 1, 1).data;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const rows = new Set();
        for (let i = 0; i < d.length; i += 4)
            if (d[i + 3] >= 200 && Math.abs(d[i] - ok[0]) + Math.abs(d[i + 1] - ok[1])
                                    + Math.abs(d[i + 2] - ok[2]) < 24)
                rows.add(Math.floor(i / 4 / c.width));
        return rows.size >= 5 ? rows.size : 0;"""))
    if rows:
        print("chart: the ok line covers %d pixel rows" % rows)
    # A screenshot of the whole page
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1440, "height": max(900, min(int(height), 4000)), "deviceScaleFactor": 1,
        "mobile": False})
    time.sleep(1.2)  # one more poll at the new size
    if driver.save_screenshot(args.screenshot):
        print("screenshot: %s" % args.screenshot)
    else:
        fail("no screenshot saved at %s" % args.screenshot)


def check_token(driver, args):
    # Without the token: the page itself loads, and asks for one
    driver.get(args.token_url)
    shown = wait_for(driver, "the token prompt", lambda d: d.find_element(By.ID, "auth").is_displayed())
    if shown:
        text = driver.find_element(By.ID, "auth").text
        if "401" not in text or "token" not in text.lower():
            fail("token prompt says %r" % text)
    if worker_rows(driver):
        fail("workers shown without a token")
    # With #token=...: workers, and the token is out of the address bar
    driver.get("about:blank")
    driver.get(args.token_url + "#token=" + args.token)
    rows = wait_for(driver, "a worker row with the token", lambda d: worker_rows(d))
    if rows and driver.find_element(By.ID, "auth").is_displayed():
        fail("token prompt still shown with the token")
    if "token=" in driver.current_url:
        fail("the token stayed in the address bar: %s" % driver.current_url)
    # A wrong token typed in is refused, and the prompt says so
    driver.get("about:blank")
    driver.get(args.token_url + "#token=wrong-" + args.token)
    if wait_for(driver, "the prompt for a wrong token",
                lambda d: d.find_element(By.ID, "auth").is_displayed()):
        if "refused" not in driver.find_element(By.ID, "auth").text:
            fail("wrong token prompt: %r" % driver.find_element(By.ID, "auth").text)
        box = driver.find_element(By.ID, "auth-token")
        box.send_keys(args.token)
        driver.find_element(By.CSS_SELECTOR, "#auth button").click()
        wait_for(driver, "workers after typing the token", lambda d: worker_rows(d))


if __name__ == "__main__":
    sys.exit(main())
