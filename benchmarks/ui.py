"""What the browser UI costs on top of the tutor: page load in chromium, and time to first token and to the
whole answer through the UI (gradio_client, streaming) against the same questions asked in-process.

    .venv/bin/python benchmarks/ui.py [--questions 5] [--loads 5] [--out docs/results/ui.json]

Runs the two phases one after the other (one llama.cpp server at a time: two would share 2 cores).
Needs chromium (/usr/bin/chromium) and the index in the default data dir (`tutor ingest`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from _common import ROOT, machine, median

from evals.retrieval import load_dev

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def direct(questions: list[str]) -> list[dict]:
    from tutor.app import TutorApp
    from tutor.settings import Settings

    out = []
    with TutorApp(Settings()) as app:
        app.start_llm()
        app.tutor.ask("warm-up: what is CoWoS?")
        for q in questions:
            t0 = time.perf_counter()
            first = []
            app.tutor.ask(q, on_event=lambda k, p: first.append(time.perf_counter()) if k == "token" and not first else None)
            out.append({"question": q, "ttft_s": first[0] - t0 if first else None, "total_s": time.perf_counter() - t0})
    return out


def start_ui(port: int) -> subprocess.Popen:
    env = {**os.environ, "TUTOR_UI_PORT": str(port)}
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "tutor"), "ui"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(1200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2).close()
            return proc
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise SystemExit("tutor ui did not start")


def through_ui(port: int, questions: list[str]) -> list[dict]:
    from gradio_client import Client

    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    client.predict("warm-up: what is CoWoS?", "All layers", api_name="/respond")
    out = []
    for q in questions:
        c = Client(f"http://127.0.0.1:{port}/", verbose=False)  # a fresh session per question
        t0 = time.perf_counter()
        job = c.submit(q, "All layers", api_name="/respond")
        first = None
        for update in job:
            last = update[0][-1] if update and update[0] else None
            text = last["content"] if last else ""
            text = "".join(p.get("text", "") for p in text) if isinstance(text, list) else str(text)
            if first is None and last and last["role"] == "assistant" and "tutor-status" not in text:
                first = time.perf_counter()
        out.append({"question": q, "ttft_s": (first or time.perf_counter()) - t0, "total_s": time.perf_counter() - t0})
    return out


def page_loads(port: int, n: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        for _ in range(n):
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            t0 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#stack-col .layer-btn", timeout=60_000)
            page.wait_for_selector("#question textarea", timeout=60_000)
            times.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=5)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "ui.json")
    args = ap.parse_args()
    questions = [it.question for it in load_dev()[: args.questions]]
    d = direct(questions)
    from tutor.llm.local import free_port

    port = free_port()
    proc = start_ui(port)
    try:
        loads = page_loads(port, args.loads)
        u = through_ui(port, questions)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    res = {
        "machine": machine(), "questions": len(questions),
        "page_load_s": {"median": round(median(loads), 2), "runs": [round(x, 2) for x in loads]},
        "direct": {"ttft_median_s": round(median([x["ttft_s"] for x in d if x["ttft_s"]]), 2),
                   "total_median_s": round(median([x["total_s"] for x in d]), 2)},
        "ui": {"ttft_median_s": round(median([x["ttft_s"] for x in u]), 2),
               "total_median_s": round(median([x["total_s"] for x in u]), 2)},
        "per_question": [{"question": q, "direct": a, "ui": b} for q, a, b in zip(questions, d, u, strict=True)],
    }
    res["ui_over_direct_total"] = round(res["ui"]["total_median_s"] / res["direct"]["total_median_s"], 3)
    res["ui_over_direct_ttft"] = round(res["ui"]["ttft_median_s"] / res["direct"]["ttft_median_s"], 3)
    args.out.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != "per_question"}, indent=1))


if __name__ == "__main__":
    main()
