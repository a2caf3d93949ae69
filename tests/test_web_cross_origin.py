"""Another page in the same browser cannot act on the web service, as headless Chromium
runs it: a page served by this test from another origin tries `fetch` (text/plain, the
bare word, JSON) and form POSTs to /trigger and /api/v1/overrides; a page on a rebound
DNS name (resolved to 127.0.0.1, as DNS rebinding would) tries the same from what the
browser takes for the service's own origin. Nothing is published: the dashboard's own
buttons, pressed afterwards, are the only triggers and overrides on the real broker."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Generator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.broker import Mosquitto, free_port, wait_for_port
from tests.support.browser import chromium, csp_violations
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until
from tests.support.web import web_config

REBOUND = "attacker.example"

ATTACK = """<!doctype html>
<html><body>
<iframe name="f1"></iframe><iframe name="f2"></iframe><iframe name="f3"></iframe>
<form id="form1" method="POST" action="TARGET/trigger" enctype="text/plain" target="f1">
  <!-- text/plain sends name=value: the '=' goes into a first "event" that JSON's last
       "event" replaces, so the body is a valid trigger -->
  <input type="hidden" name='{"event":"' value='", "event":"tier3_pause"}'>
</form>
<form id="form2" method="POST" action="TARGET/api/v1/overrides" enctype="text/plain" target="f2">
  <input type="hidden" name='{"kind":"pause_tier3","minutes":30,"x":"' value='"}'>
</form>
<form id="form3" method="POST" action="TARGET/trigger" target="f3">
  <input type="hidden" name="tier3_pause" value="">
</form>
<script>
const T = "TARGET";
const results = {};
async function attempt(name, path, init) {
  try {
    const answer = await fetch(T + path, Object.assign({ method: "POST" }, init));
    results[name] = answer.type === "opaque" ? "opaque" : answer.status;
  } catch (e) { results[name] = "failed: " + e; }
}
function submitted(form, frame) {
  return new Promise((done) => {
    const iframe = document.querySelector("iframe[name=" + frame + "]");
    iframe.addEventListener("load", () => done(), { once: true });
    document.getElementById(form).submit();
  });
}
(async () => {
  const trigger = JSON.stringify({ event: "tier3_pause" });
  const override = JSON.stringify({ kind: "pause_tier3", minutes: 30 });
  const plain = { mode: "no-cors", headers: { "Content-Type": "text/plain" } };
  const json = { headers: { "Content-Type": "application/json" } };
  const settings = JSON.stringify({ preset: "aggressive" });
  await attempt("trigger text/plain", "/trigger", { ...plain, body: trigger });
  await attempt("trigger bare word", "/trigger", { mode: "no-cors", body: "tier3_pause" });
  await attempt("host trigger", "/api/v1/hosts/HOST/trigger", { ...plain, body: "tier3_pause" });
  await attempt("override text/plain", "/api/v1/overrides", { ...plain, body: override });
  await attempt("override json", "/api/v1/overrides", { ...json, body: override });
  await attempt("trigger json", "/trigger", { ...json, body: trigger });
  await attempt("settings", "/api/v1/settings/resources", { ...plain, body: settings });
  await submitted("form1", "f1");
  await submitted("form2", "f2");
  await submitted("form3", "f3");
  window.results = results;
  window.done = true;
})();
</script>
</body></html>
"""


class AttackPage(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *_args: object) -> None:
        pass


def attacker(target: str, host_id: str) -> Generator[int, None, None]:
    page = ATTACK.replace("TARGET", target).replace("HOST", host_id).encode()
    handler = type("Page", (AttackPage,), {"page": page})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_no_other_page_in_the_browser_can_act(
    tmp_path: Path, alone: tuple[Mosquitto, Probe], host_id: str
) -> None:
    broker, probe = alone
    port = free_port()
    # Loopback with no token at all: the mode where only these rules stand.
    cfg = web_config(tmp_path, broker, host_id, port)
    web = Service("web", cfg, tmp_path)
    pages = attacker(f"http://127.0.0.1:{port}", host_id)
    try:
        probe.wait_for(f"warden/{host_id}/web/availability", lambda s: s.text == "online")
        wait_for_port(port)
        evil = next(pages)
        with chromium(f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1") as browser:
            from selenium.webdriver.common.by import By

            # Another origin: another port of this host (same-site, as Chromium sees it).
            browser.get(f"http://127.0.0.1:{evil}/")
            wait_until(
                lambda: browser.execute_script("return window.done === true"),
                timeout=30,
                what="the attack page's attempts",
            )
            results = browser.execute_script("return window.results")
            # The JSON ones need CORS, which the service never grants: the browser
            # does not even send them. The rest reach it, and are refused there.
            assert str(results["override json"]).startswith("failed"), results
            assert str(results["trigger json"]).startswith("failed"), results

            # After DNS rebinding: a page the browser takes for the service's own origin.
            browser.get(f"http://{REBOUND}:{port}/")
            answers = browser.execute_async_script(
                """
                const done = arguments[arguments.length - 1];
                const post = (path, body) => fetch(path, { method: "POST",
                  headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
                (async () => {
                  const read = await fetch("/status");
                  const trigger = await post("/trigger", { event: "tier3_pause" });
                  const override = await post(
                    "/api/v1/overrides", { kind: "pause_tier3", minutes: 30 });
                  done([read.status, trigger.status, override.status, (await read.json()).error]);
                })();
                """
            )
            assert answers[:3] == [401, 401, 401], answers
            assert "loopback" in answers[3] and "token" in answers[3]
            # The page served there shows nothing and says why.
            wait_until(
                lambda: browser.find_element(By.ID, "locked").is_displayed(),
                what="the rebound page says it needs a token",
            )

            # The attack's frames were refused (frame-ancestors 'none', seen by the
            # browser); the service's own page must cause no such line of its own.
            assert any("frame-ancestors" in line for line in csp_violations(browser))

            # The service's own page, in the same browser: its buttons act (the markers).
            browser.get(f"http://127.0.0.1:{port}/")
            wait_until(
                lambda: browser.find_element(By.ID, "live").text == "live", what="the page live"
            )
            browser.find_element(By.CSS_SELECTOR, "button[data-event='tier3_resume']").click()
            probe.wait_for(f"warden/{host_id}/trigger", lambda s: b"tier3_resume" in s.payload)
            browser.find_element(By.ID, "override-pause").click()
            probe.wait_for(f"warden/{host_id}/overrides", lambda s: b"pause_tier3" in s.payload)
            wait_until(
                lambda: "Tier 3 paused" in browser.find_element(By.ID, "message").text,
                what="the page says it paused tier 3",
            )
            assert csp_violations(browser) == []

        triggers = [json.loads(s.payload) for s in probe.messages(f"warden/{host_id}/trigger")]
        assert triggers == [{"event": "tier3_resume"}]
        overrides = [json.loads(s.payload) for s in probe.messages(f"warden/{host_id}/overrides")]
        assert len(overrides) == 1 and len(overrides[0]["items"]) == 1
        assert probe.messages(f"warden/{host_id}/settings") == []
        assert probe.messages(f"warden/{host_id}/preset/set") == []
    finally:
        pages.close()
        web.kill(signal.SIGTERM)
