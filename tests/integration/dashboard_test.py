#!/usr/bin/python3
"""The directory's live dashboard in a real browser (issue 18): `brook up` runs the shop with the
directory's HTTP listener on an ephemeral loopback port; Debian's headless Chromium, driven by
Selenium, opens the page and the test waits until the shop's channels show non-zero rates,
checks that every node and channel of /api/topology has its element, clicks a node and a channel
for their counters, saves a screenshot, then stops the shop and waits for the page to say the
directory stopped answering. Any error in the browser's console fails the test.

  tests/integration/dashboard_test.py --bin build/bin --screenshot build/dashboard.png
Needs chromium, chromium-driver and python3-selenium (scripts/setup installs them).
BROOK_TEST_KEEP=1 keeps the run's directory (logs, database) and prints where it is.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOP_NODES = {"client", "basket", "product", "pricing", "order", "dead-letters"}
SHOP_CHANNELS = {"cart", "checkouts", "resolved", "rejections", "quotes", "orders-dead"}
# Busy as long as the client runs; rejections (5 % of baskets) and orders-dead (none) are not.
BUSY_CHANNELS = ["cart", "checkouts", "resolved", "quotes"]


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def wait_for(cond, timeout, what):
    """Polls cond() until it returns something true; fails naming `what` after timeout s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)  # a polling interval, not a wait for an event
    raise Failure("timed out after %.0f s waiting for %s" % (timeout, what))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Shop:
    """The shop under `brook up`, its output in up.log, its state in a temporary directory."""

    def __init__(self, bin_dir, work):
        self.work = work
        self.log_path = os.path.join(work, "up.log")
        self.directory_port = free_port()
        env = dict(os.environ)
        env.update({
            "SHOP_DB": os.path.join(work, "shop.db"),
            "SHOP_STATE_DIR": os.path.join(work, "state"),
            "SHOP_DEAD_LETTERS": os.path.join(work, "dead-letters.jsonl"),
            "SHOP_MANIFEST": os.path.join(work, "manifest.jsonl"),
            # Enough to keep every channel busy for the whole test (about 10 min at this rate).
            "SHOP_BASKETS": "100000",
            "SHOP_RATE": "200",
            "BROOK_DIRECTORY_PORT": str(self.directory_port),
        })
        env.pop("BROOK_RESOLVED", None)
        brook = os.path.join(bin_dir, "brook")
        check(os.access(brook, os.X_OK), "%s is missing: build first (cmake --build build)" % brook)
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [brook, "up", os.path.join(ROOT, "topologies", "shop.yaml"),
             "--quiet", "--no-color", "--set", "directory.http=127.0.0.1:0"],
            stdout=self.log_file, stderr=subprocess.STDOUT, env=env, cwd=work)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def http_url(self):
        """The listener's URL, from the directory's "http: http://127.0.0.1:PORT/" log line."""
        def found():
            check(self.proc.poll() is None,
                  "brook up exited (%s) before the directory listened:\n%s"
                  % (self.proc.returncode, self.log()[-4000:]))
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", self.log())
            return m and "http://127.0.0.1:%s" % m.group(1)
        return wait_for(found, 60, "the directory's http URL in %s" % self.log_path)

    def interrupt(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def start_browser(profile):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        raise Failure("python3-selenium is missing (%s): run scripts/setup as root" % e)
    for path in (CHROMIUM, CHROMEDRIVER):
        check(os.access(path, os.X_OK), "%s is missing: run scripts/setup as root "
              "(packages chromium, chromium-driver)" % path)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: Chromium's sandbox refuses to run as root (this test's CI user).
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1920,1000", "--force-device-scale-factor=1",
                "--user-data-dir=" + profile, "--no-first-run", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


class Console:
    """The browser's console: errors are collected as they come and fail the test."""

    def __init__(self, driver):
        self.driver = driver
        self.errors = []

    def drain(self, allow=lambda entry: False):
        for entry in self.driver.get_log("browser"):
            if entry.get("level") == "SEVERE" and not allow(entry):
                self.errors.append(entry.get("message", str(entry)))

    def check(self, allow=lambda entry: False):
        self.drain(allow)
        check(not self.errors, "errors in the browser console:\n  " + "\n  ".join(self.errors))


# One snapshot of what the page shows: node and channel elements with their data attributes.
PAGE_STATE_JS = """
const pick = (sel) => [...document.querySelectorAll(sel)].map((g) => {
  const b = g.querySelector('rect').getBoundingClientRect();
  return Object.assign({box: [b.left, b.top, b.right, b.bottom]}, g.dataset);
});
return {
  status: document.getElementById('status').dataset.status,
  statusText: document.getElementById('status').textContent,
  endpoint: document.getElementById('endpoint').textContent,
  nodes: pick('svg#graph g.node'),
  channels: pick('svg#graph g.channel'),
  dots: [...document.querySelectorAll('svg#graph g.node')].map((g) =>
    [g.dataset.node, [...g.querySelectorAll('circle.dot')].map((d) => d.dataset.health)]),
  edges: [...document.querySelectorAll('svg#graph g.channel-edges')].map((g) =>
    [g.dataset.channelEdges, g.querySelectorAll('path[data-from]').length,
     g.querySelectorAll('path[data-to]').length]),
};
"""


def page_state(driver):
    return driver.execute_script(PAGE_STATE_JS)


def wait_for_busy_shop(driver, console):
    seen_rejections = [False]

    def busy():
        console.check()
        s = page_state(driver)
        rates = {c["channel"]: float(c.get("rate", 0)) for c in s["channels"]}
        seen_rejections[0] = seen_rejections[0] or rates.get("rejections", 0) > 0
        return (s["status"] == "live" and all(rates.get(c, 0) > 0 for c in BUSY_CHANNELS)
                and seen_rejections[0] and s)
    return wait_for(busy, 90, "non-zero rates on %s at once (and on rejections once) in the page"
                    % ", ".join(BUSY_CHANNELS))


def check_graph(state, topo):
    nodes = {n["node"]: n for n in state["nodes"]}
    channels = {c["channel"]: c for c in state["channels"]}
    want_nodes = {n["name"] for n in topo["nodes"]}
    for c in topo["channels"]:
        want_nodes |= set(c["producers"]) | set(c["consumers"])
    want_channels = {c["name"] for c in topo["channels"]}
    check(SHOP_NODES <= want_nodes and SHOP_CHANNELS <= want_channels,
          "/api/topology lacks shop nodes %s or channels %s"
          % (SHOP_NODES - want_nodes, SHOP_CHANNELS - want_channels))
    check(set(nodes) == want_nodes, "node boxes %s, /api/topology has %s"
          % (sorted(nodes), sorted(want_nodes)))
    check(set(channels) == want_channels, "channel labels %s, /api/topology has %s"
          % (sorted(channels), sorted(want_channels)))
    edges = {name: (outs, ins) for name, outs, ins in state["edges"]}
    for c in topo["channels"]:
        check(edges.get(c["name"]) == (len(c["producers"]), len(c["consumers"])),
              "channel %s: edges (from producers, to consumers) %s, want %s"
              % (c["name"], edges.get(c["name"]), (len(c["producers"]), len(c["consumers"]))))
    dots = dict(state["dots"])
    for n in topo["nodes"]:
        want = max(n["replicas"], len(n["instances"]))
        check(len(dots[n["name"]]) == want, "node %s: %d health dots, want %d"
              % (n["name"], len(dots[n["name"]]), want))
    # Running, that is: a busy machine may make a heartbeat late, which the page shows as such.
    check(int(nodes["product"]["replicas"]) == 2
          and all(d in ("up", "late") for d in dots["product"]) and len(dots["product"]) == 2,
          "product: replicas %s, dots %s; want 2 replicas running"
          % (nodes["product"]["replicas"], dots["product"]))
    check(state["endpoint"] == topo["directory"]["endpoint"], "header names directory %r, want %r"
          % (state["endpoint"], topo["directory"]["endpoint"]))
    # Left to right by pipeline depth (the shop has no cycle): each channel's label lies right
    # of its producers and left of its consumers.
    for c in topo["channels"]:
        box = channels[c["name"]]["box"]
        for p in c["producers"]:
            check(nodes[p]["box"][2] <= box[0], "producer %s is not left of channel %s: %s, %s"
                  % (p, c["name"], nodes[p]["box"], box))
        for p in c["consumers"]:
            check(box[2] <= nodes[p]["box"][0], "consumer %s is not right of channel %s: %s, %s"
                  % (p, c["name"], nodes[p]["box"], box))
    # No two boxes overlap: the layout gives each its own slot.
    boxes = [x["box"] for x in state["nodes"] + state["channels"]]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            check(not overlap, "boxes overlap in the graph: %s and %s" % (a, b))


def click_and_read_panel(driver, selector, panel_selector):
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR, selector).click()
    return wait_for(lambda: driver.execute_script("""
        const p = document.getElementById('panel');
        const v = p.querySelector(arguments[0]);
        if (p.hidden || !v) return null;
        return {
          instances: [...v.querySelectorAll('thead th[data-instance]')].map((t) => t.dataset.instance),
          received: [...v.querySelectorAll('tr[data-counter="received"] td')].map((t) => t.textContent),
          text: v.textContent,
        };""", panel_selector), 10, "the side panel for %s" % selector)


def run(args, work):
    shop = Shop(args.bin, work)
    driver = None
    try:
        url = shop.http_url()
        driver = start_browser(os.path.join(work, "chromium-profile"))
        console = Console(driver)
        driver.get(url + "/")
        state = wait_for_busy_shop(driver, console)
        topo = get_json(url + "/api/topology")
        check_graph(page_state(driver), topo)

        panel = click_and_read_panel(driver, 'g.channel[data-channel="checkouts"]',
                                     '[data-panel-channel="checkouts"]')
        check({"basket.0", "product.0", "product.1"} <= set(panel["instances"]),
              "checkouts' panel shows instances %s, want basket.0, product.0, product.1"
              % panel["instances"])
        panel = click_and_read_panel(driver, 'g.node[data-node="product"]',
                                     '[data-panel-node="product"]')
        check(panel["instances"] == ["product.0", "product.1"],
              "product's panel shows instances %s" % panel["instances"])
        check(any(v not in ("0", "–") for v in panel["received"]),
              "product's panel shows no received counter: %s" % panel["text"][:400])
        wait_for_busy_shop(driver, console)  # the screenshot shows live rates
        check(driver.save_screenshot(args.screenshot), "could not write " + args.screenshot)
        check(os.path.getsize(args.screenshot) > 20000, "%s is suspiciously small"
              % args.screenshot)
        console.check()
        print("dashboard: %d nodes, %d channels; rates %s; screenshot %s" % (
            len(state["nodes"]), len(state["channels"]),
            {c["channel"]: round(float(c["rate"]), 1) for c in state["channels"]},
            args.screenshot))

        # The directory stops answering: the page must say so. Its failed requests are expected
        # in the console; nothing else is.
        shop.interrupt()
        failed_fetch = lambda e: e.get("source") == "network" and "/api/topology" in e["message"]

        def page_down():
            console.drain(failed_fetch)
            s = page_state(driver)
            return s if s["status"] == "down" else None
        down = wait_for(page_down, 60, "the page to say the directory stopped answering")
        check("not answering" in down["statusText"], "status says %r" % down["statusText"])
        console.check(failed_fetch)
    finally:
        if driver is not None:
            driver.quit()
        shop.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    parser.add_argument("--screenshot", default=os.path.join(ROOT, "build", "dashboard.png"))
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.screenshot = os.path.abspath(args.screenshot)
    work = tempfile.mkdtemp(prefix="brook-dashboard-")
    ok = False
    try:
        run(args, work)
        ok = True
    except Failure as e:
        print("FAILED: %s" % e, file=sys.stderr)
        log = os.path.join(work, "up.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print("--- up.log (end) ---\n" + f.read()[-3000:], file=sys.stderr)
    finally:
        if os.environ.get("BROOK_TEST_KEEP"):
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
