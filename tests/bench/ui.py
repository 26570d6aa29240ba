"""``python -m tests.bench.ui``: the chat page's main-thread time per streamed token.

The real app (the built SPA in ``frontend/dist``, served by a real Daphne
process) streams a markdown reply from the loopback fake upstream, one token
every ``--interval`` seconds, into Chromium driven by Playwright. For each
reply length the page's main-thread task time (the DevTools ``TaskDuration``
metric) is read before the message is sent and once the reply has finished;
the difference divided by the number of tokens is the figure printed. Each
length runs ``--repeat`` times in a fresh chat; the median is reported.

The reply is realistic markdown (headings, paragraphs, lists, fenced code),
cut at the requested number of tokens, so the figure covers parsing and
rendering, not only text appends. A benchmark, not a test: it prints figures
and asserts nothing (``make bench-ui``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from tests.bench.procs import ROOT, free_port
from tests.fake_openai import FakeOpenAI, _split_tokens, text

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PASSWORD = "bench-ui-password-8f3k"

# One section of the reply; repeated (numbered) until the reply is long enough.
SECTION = """## Step {n}: what to change

The handler reads the request, validates it and calls **one service**. Keep the
view thin: parsing, one call, serialising. That makes `step {n}` easy to test
through real HTTP routing, and easy to change later.

- Parse the body with the serializer; a bad field is a clear 400.
- Call `conversation_update(...)` with keyword arguments only.
- Return the serialised result, or `204` when there is nothing to say.

```python
def update(request, conversation_id):
    data = UpdateInput(data=request.data)
    data.is_valid(raise_exception=True)
    return Response(conversation_update(user=request.user, **data.validated_data))
```

That is all step {n} needs; the next one builds on it.

"""


def reply_tokens(count: int) -> list[str]:
    tokens: list[str] = []
    for n in itertools.count(1):
        tokens.extend(_split_tokens(SECTION.format(n=n)))
        if len(tokens) >= count:
            return tokens[:count]
    raise AssertionError("unreachable")


def find_chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SystemExit("bench-ui needs Chromium: /usr/bin/chromium or CHROMIUM_PATH")


def start_server(fake: FakeOpenAI, db_path: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        # As in the browser tests: DEBUG off would redirect to HTTPS and mark
        # the refresh cookie Secure. The figure is the browser's, not the server's.
        "DJANGO_DEBUG": "1",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": "bench-key",
        "OPENAI_MODEL": "gpt-fake-bench",
        "ALLOW_SIGNUP": "1",
        "THROTTLE_REGISTER": "1000/min",
        "THROTTLE_REFRESH": "1000/min",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    py = sys.executable
    subprocess.run(
        [py, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    command = [
        py,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "chatproject.asgi:application",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"server did not become healthy:\n{log_path.read_text()}")


def task_seconds(cdp) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


def measure(page, cdp, fake: FakeOpenAI, url: str, tokens: int, interval: float) -> float:
    """Main-thread seconds spent on one reply of ``tokens`` tokens, in a fresh chat."""
    page.goto(f"{url}/")
    box = page.get_by_role("textbox", name="Message")
    box.wait_for()
    fake.push(text(tokens=reply_tokens(tokens), interval=interval))
    page.wait_for_timeout(300)  # let the page settle: only the reply is measured
    box.fill(f"Write {tokens} tokens")
    before = task_seconds(cdp)
    page.get_by_role("button", name="Send").click()
    # Polled from here, a few times a second: Playwright's own DOM waits poll
    # the page on every frame, which would add their main-thread time to the figure.
    deadline = time.monotonic() + 120
    while page.evaluate("() => document.querySelector('button.stop') !== null"):
        if time.monotonic() > deadline:
            raise SystemExit(f"the {tokens}-token reply did not finish in 120 s")
        time.sleep(0.25)
    return task_seconds(cdp) - before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.ui", description=__doc__)
    parser.add_argument("--tokens", default="250,1000,2000", help="reply lengths (comma list)")
    parser.add_argument("--interval", type=float, default=0.005, help="seconds between tokens")
    parser.add_argument("--repeat", type=int, default=3, help="runs per length (median)")
    parser.add_argument("--viewport", default="1280x800", help="WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    lengths = [int(n) for n in args.tokens.split(",") if n]
    width, height = (int(v) for v in args.viewport.split("x"))

    from playwright.sync_api import sync_playwright

    fake = FakeOpenAI(default_turn=text("unscripted")).start()
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        server, url = start_server(fake, Path(tmp) / "db.sqlite3", Path(tmp) / "server.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=find_chromium(), args=CHROMIUM_ARGS
                )
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                page.set_default_timeout(30_000)
                username = f"bench-{uuid.uuid4().hex[:8]}"
                page.goto(f"{url}/signup")
                page.get_by_label("Username").fill(username)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Create account").click()
                page.get_by_role("textbox", name="Message").wait_for()
                cdp = context.new_cdp_session(page)
                cdp.send("Performance.enable")
                measure(page, cdp, fake, url, 50, args.interval)  # warm-up (JIT, chunks)
                print(
                    f"main-thread time per streamed token ({args.interval * 1000:g} ms/token, "
                    f"median of {args.repeat}, Chromium {browser.version}, {width}x{height})"
                )
                results: dict[int, float] = {}
                for tokens in lengths:
                    runs = [
                        measure(page, cdp, fake, url, tokens, args.interval)
                        for _ in range(args.repeat)
                    ]
                    results[tokens] = statistics.median(runs)
                    per_token_ms = results[tokens] / tokens * 1000
                    print(
                        f"  {tokens:>5} tokens: {per_token_ms:.3f} ms/token "
                        f"(main thread {results[tokens]:.2f} s; runs "
                        + ", ".join(f"{r:.2f}" for r in runs)
                        + " s)",
                        flush=True,
                    )
                if len(results) > 1:
                    first, last = lengths[0], lengths[-1]
                    ratio = (results[last] / last) / (results[first] / first)
                    print(f"  per-token ratio {last} / {first} tokens: {ratio:.2f}x")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
            fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
