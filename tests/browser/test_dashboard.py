"""The hub's dashboard in a real headless Chromium, over a real local fleet: what an
operator watching a drill sees, without reloading the page, and what a stranger gets.

The tests share one fleet and run in file order; each leaves the fleet as it found it
(every spoke Ready, no live fault)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest

from kindfleet.platform.hub.ui.session import Sessions
from tests.browser.conftest import MISSING, Local, axe_violations, log_in

pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=str(MISSING))]

# Installed in a page to remember what its live part showed between polls: a reload would
# wipe both the marker and the list, so their survival proves the page was never reloaded.
WATCH = """([root, selector, attr]) => {
  window.__kfMarker = "same page";
  window.__kfSeen = [];
  const note = () => {
    for (const el of document.querySelectorAll(selector)) {
      const value = el.getAttribute(attr);
      if (window.__kfSeen[window.__kfSeen.length - 1] !== value) window.__kfSeen.push(value);
    }
  };
  note();
  new MutationObserver(note).observe(document.getElementById(root),
                                     {childList: true, subtree: true});
}"""

# A run that reports loss and step for about six seconds (telemetry is flushed every
# second), long enough for polls every 2 s to catch it Running on a loaded machine.
TRAIN = (
    "import json, os, time\n"
    "for step in range(8):\n"
    "    with open(os.environ['KINDFLEET_METRICS_FILE'], 'a') as f:\n"
    "        f.write(json.dumps({'loss': 1.0 / (step + 1), 'step': step}) + '\\n')\n"
    "    time.sleep(0.75)\n"
)


# Resolves after the next live update of the page has settled; rejects after 10 s (the
# page polls every 2 s), so a page that stopped updating fails the test instead of hanging.
NEXT_SWAP = """new Promise((resolve, reject) => {
  document.body.addEventListener("htmx:afterSettle", () => resolve(true), {once: true});
  setTimeout(() => reject(new Error("no live update in 10 s")), 10000);
})"""


def seen(page: Any) -> list[str]:
    return list(page.evaluate("window.__kfSeen"))


def same_page(page: Any) -> bool:
    return bool(page.evaluate("window.__kfMarker === 'same page'"))


def test_without_the_token_only_the_login_page_is_served(local: Local, context: Any):
    page = context.new_page()
    for path in ("/ui/", "/ui/workloads?state=Running", "/ui/activity", "/ui/nothing/here"):
        page.goto(local.base + path)
        assert re.search(r"/ui/login\?next=", page.url), path
        assert page.get_by_role("heading", level=1).inner_text().startswith("Log in")
        assert "vz-a" not in page.content()
    # A forged cookie, a wrong token and the API's bearer header open nothing either.
    forged = {"name": Sessions(local.token).cookie, "value": "v1.9999999999.x.y", "url": local.base}
    context.add_cookies([forged])
    page.goto(local.base + "/ui/")
    assert "/ui/login" in page.url
    page.get_by_label("Client token").fill("not-the-token")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "That is not this hub's client token."
    api = context.request.get(
        local.base + "/ui/", headers={"Authorization": f"Bearer {local.token}"}, max_redirects=0
    )
    assert api.status == 303 and api.headers["location"].startswith("/ui/login")


def test_the_cli_prints_the_url_which_leads_to_the_login(
    local: Local, context: Any, kindfleet: Any
):
    shown = kindfleet("dashboard", "--no-open", "--show-token").split()
    assert shown == [local.url, local.token]  # the URL holds no token: the login asks it
    page = context.new_page()
    page.goto(shown[0])
    assert "/ui/login" in page.url


def test_a_drill_watched_live(local: Local, context: Any, kindfleet: Any):
    """Log in; three spokes Ready; `fault pause` turns one NotReady and lists the fault;
    work submitted through the CLI waits Pending (it needs the paused spoke), and after
    `fault clear` goes Running and Succeeded; its telemetry is charted. No reload."""
    fleet = context.new_page()
    log_in(fleet, local)
    rows = fleet.locator("tr[data-spoke]")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.spoke)")) == [
        "vz-a",
        "vz-b",
        "vz-c",
    ]
    fleet.wait_for_function(
        "[...document.querySelectorAll('tr[data-spoke]')].every(r => r.dataset.health == 'Ready')"
    )
    vz_c = fleet.locator("#spoke-vz-c")
    assert "zone=c" in vz_c.inner_text() and "pool=gpu" in vz_c.inner_text()
    assert "0 / 4" in vz_c.inner_text()  # cpu allocated / capacity, in cores
    fleet.evaluate(WATCH, ["fleet-live", "#spoke-vz-c", "data-health"])

    kindfleet("fault", "pause", "vz-c")
    fleet.wait_for_selector("#spoke-vz-c[data-health='NotReady']")
    fault = fleet.locator("tr[data-fault]")
    assert "pause" in fault.inner_text() and "vz-c" in fault.inner_text()
    assert "pause" in vz_c.locator(".tag.fault").inner_text()

    work = context.new_page()  # a second tab of the same session
    work.goto(local.base + "/ui/workloads?label=drill%3Dviz")
    work.evaluate(WATCH, ["workloads-live", "tr[data-workload]", "data-state"])
    spec = local.root / "train.yaml"  # JSON is YAML
    spec.write_text(json.dumps({
        "name": "train", "command": [sys.executable, "-c", TRAIN],
        "labels": {"drill": "viz"}, "selector": {"match_labels": {"zone": "c"}},
    }))  # fmt: skip
    submitted = json.loads(kindfleet("submit", "--spec", str(spec), "-o", "json"))
    wid = submitted[0]["workload"]["id"]
    work.wait_for_selector(f"#row-{wid}[data-state='Pending']")
    assert same_page(work)
    work.locator(f"#link-{wid}").click()
    work.wait_for_url(f"**/ui/workloads/{wid}")
    assert work.locator("#workload-state").get_attribute("data-state") == "Pending"
    assert "no spoke can take it" in work.locator("#explain-summary").inner_text()
    assert "vz-c" in work.locator("section[aria-labelledby='explain-h'] table").inner_text()
    work.evaluate(WATCH, ["workload-live", "#workload-state", "data-state"])

    local.fleet.clear_faults()  # (the CLI's `fault clear` is this call)
    fleet.wait_for_selector("#spoke-vz-c[data-health='Ready']")
    health = seen(fleet)  # Lost too, when the pause outlived lost-after
    assert health[:2] == ["Ready", "NotReady"] and health[-1] == "Ready", health
    assert set(health) <= {"Ready", "NotReady", "Lost"} and same_page(fleet)
    # The fault is lifted (the spoke thawed) before its record is cleared at the hub, so
    # the row goes on the page's next update, not necessarily with the spoke's health.
    fleet.wait_for_selector("tr[data-fault]", state="detached")
    assert same_page(fleet)

    work.wait_for_selector("#workload-state[data-state='Succeeded']")
    states = seen(work)
    assert states[0] == "Pending" and states[-1] == "Succeeded", states
    assert "Running" in states, states  # seen between, by a poll, on the same page
    assert same_page(work)
    # The last points may reach the hub after the run's end: the page keeps polling a while.
    work.wait_for_selector("figure[data-chart='loss'] figcaption:has-text('latest 0.125')")
    assert "vz-c" in work.locator("table.attempts").inner_text()
    loss = work.locator("figure[data-chart='loss']")
    assert loss.locator("path.line").first.get_attribute("d").startswith("M")
    for metric in ("step", "cpu (cores)", "memory (RSS)"):
        assert work.locator(f"figure[data-chart='{metric}']").count() == 1, metric


def test_a_hostile_name_and_label_are_shown_as_text(local: Local, context: Any):
    hostile = '<img src=x onerror="window.__kfPwned=1">'
    created = local.fleet.submit(
        [
            {
                "name": "xss",
                "command": [sys.executable, "-c", "pass"],
                "labels": {"drill": "xss", "note": hostile},
            }
        ]
    )
    wid = created[0].workload.id
    page = context.new_page()
    log_in(page, local, "/ui/workloads?label=%3Cb%3Ex%3D1&spoke=%22%3E%3Cb%3E&cursor=%3Cb%3E")
    assert page.locator("main b").count() == 0
    assert page.locator("#f-spoke").input_value() == '"><b>'
    page.goto(local.base + "/ui/workloads?label=drill%3Dxss")
    row = page.locator(f"#row-{wid}")
    assert hostile in row.inner_text()  # the markup, as text
    assert row.locator("img").count() == 0
    page.goto(local.base + f"/ui/workloads/{wid}")
    assert page.locator("main img").count() == 0
    assert not page.evaluate("window.__kfPwned === 1")


def test_logging_out_in_one_tab_ends_the_other_tabs_session(local: Local, context: Any):
    first, second = context.new_page(), context.new_page()
    log_in(first, local)
    second.goto(local.base + "/ui/workloads")
    assert "/ui/login" not in second.url
    first.get_by_role("button", name="Log out").click()
    first.wait_for_url("**/ui/login")
    second.wait_for_url("**/ui/login?next=/ui/workloads")  # its next poll, no click


def test_pages_have_no_serious_accessibility_violations(local: Local, context: Any):
    page = context.new_page()
    page.goto(local.base + "/ui/login")
    assert axe_violations(page) == []
    log_in(page, local)
    listed = local.fleet.submit([{"name": "axe", "command": [sys.executable, "-c", "pass"]}])
    for path in ("/ui/", "/ui/workloads", "/ui/activity", f"/ui/workloads/{listed[0].workload.id}"):
        page.goto(local.base + path)
        assert axe_violations(page) == [], path


def test_the_keyboard_reaches_everything(local: Local, context: Any):
    page = context.new_page()
    page.goto(local.base + "/ui/login")
    assert page.evaluate("document.activeElement.id") == "token"  # focus starts in the field
    page.keyboard.type(local.token)
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.evaluate("getComputedStyle(document.activeElement).left") != "-9999px"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Shift+Tab")  # back to the header from main: the log-out button
    names = []
    for _ in range(4):  # walk back through the navigation links
        page.keyboard.press("Shift+Tab")
        names.append(page.evaluate("document.activeElement.textContent"))
    assert {"Fleet", "Workloads", "Throughput"} <= set(names), names
    # A live update does not take the focus away: htmx puts it back on the element of the
    # same id in the fresh fragment (every focusable thing in a live part has one).
    page.locator("#spoke-link-vz-b").focus()
    page.evaluate(NEXT_SWAP)
    assert page.evaluate("document.activeElement.id") == "spoke-link-vz-b"
    assert page.evaluate("document.activeElement.isConnected")
    page.locator("header nav a", has_text="Workloads").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/workloads")
    page.locator("#f-state").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-spoke"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-label"
    page.keyboard.type("zone=c")
    page.keyboard.press("Enter")  # the filter form submits from the keyboard
    page.wait_for_url("**/ui/workloads?*label=zone%3Dc*")
    visible_focus = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert visible_focus is not None
