"""The tutor with its embedded LLM: speed, prompt tokens, tool use and refusals; and a naive llama-index RAG.

    .venv/bin/python benchmarks/agent.py [--facts 10] [--out docs/results/agent.json]

Runs on the embedded defaults (Qwen2.5-Coder-1.5B-Instruct Q4_K_M on llama.cpp, 2 threads):
- start-up: assembling the packaged model (cached after the first run) and the server's time to ready;
- per answer: time to first token and total time, prompt tokens sent to the LLM (all calls of the answer);
- facts: in-corpus questions from evals/retrieval_dev.jsonl — is the gold quote among the passages the LLM
  saw (a grounding proxy until the RAGAS evals land), are citations verbatim, was it wrongly refused;
- calculations: evals/calc_dev.jsonl — did the model call the calculator, and was the result right;
- out of corpus: evals/refusal_heldout.jsonl (far and near kinds) — refused or not;
- baseline: llama-index out of the box (SentenceSplitter 1024/200, VectorStoreIndex, top-k 2, its default
  chat QA prompt) answering the same fact questions with the same LLM and embedder.
Prompt tokens are read from the server: each request is replayed once without streaming and with
max_tokens=1 (served from the prompt cache) to get `usage.prompt_tokens`, which streaming does not report.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from _common import ROOT, llamaindex_embedding, machine, median, memory_settings

from evals.retrieval import load_dev
from tutor.app import TutorApp
from tutor.llm.client import OpenAIChatModel


class Counting:
    """Wraps the tutor's ChatModel: forwards every call, then asks the server how long the prompt was."""

    def __init__(self, inner: OpenAIChatModel):
        self.inner = inner
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def complete(self, messages, **kw):
        out = self.inner.complete(messages, **kw)
        client = self.inner._get_client()
        extra = {"tools": kw["tools"]} if kw.get("tools") else {}
        probe = client.chat.completions.create(model=self.inner.model, messages=messages, max_tokens=1,
                                               temperature=0, **extra)
        self.prompt_tokens += probe.usage.prompt_tokens
        self.completion_tokens += out.completion_tokens or len(out.content.split())
        return out

    def describe(self):
        return self.inner.describe()


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "evals" / name).read_text().splitlines() if line.strip()]


def server_rss_peak_mb(app: TutorApp) -> float | None:
    """Peak resident memory (VmHWM) of the llama.cpp server process (the watchdog's child)."""
    pid = app.local_server().pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        status = Path(f"/proc/{children[0]}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        return round(kb / 1024, 1)
    except (OSError, IndexError, StopIteration, ValueError):
        return None


def run_one(app: TutorApp, counter: Counting, question: str, history=None) -> dict:
    counter.prompt_tokens = counter.completion_tokens = 0
    t0 = time.perf_counter()
    first = [None]

    def on_event(kind, payload):
        if kind == "token" and first[0] is None:
            first[0] = time.perf_counter() - t0

    reply = app.tutor.ask(question, history, on_event=on_event)
    return {"reply": reply, "ttft": first[0], "total": time.perf_counter() - t0,
            "prompt_tokens": counter.prompt_tokens, "completion_tokens": counter.completion_tokens}


def gold_in(texts: list[str], item) -> bool:
    """Whether the gold quote (or an alternative) is inside one of the passages shown to the LLM."""
    quotes = [item.quote, *item.alt_quotes]
    return any(" ".join(q.split()) in " ".join(t.split()) for q in quotes for t in texts)


def naive_llamaindex(app: TutorApp, items, llm: OpenAIChatModel) -> list[dict]:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.prompts.chat_prompts import CHAT_TEXT_QA_PROMPT

    corpus = app.settings.corpus_dir
    docs = [Document(text=(corpus / d).read_text(encoding="utf-8"), id_=d, metadata={"file_name": d})
            for d in sorted(p.name for p in corpus.glob("*.txt"))]
    index = VectorStoreIndex.from_documents(docs, embed_model=llamaindex_embedding(app.embedder))
    retriever = index.as_retriever()  # default similarity_top_k=2
    client = llm._get_client()
    rows = []
    for it in items:
        nodes = retriever.retrieve(it.question)
        context = "\n\n".join(n.node.get_content(metadata_mode="llm") for n in nodes)
        msgs = [{"role": m.role.value, "content": m.content}
                for m in CHAT_TEXT_QA_PROMPT.format_messages(context_str=context, query_str=it.question)]
        t0 = time.perf_counter()
        r = client.chat.completions.create(model=llm.model, messages=msgs, max_tokens=256, temperature=0)
        rows.append({"question": it.question, "prompt_tokens": r.usage.prompt_tokens, "total": time.perf_counter() - t0,
                     "gold_in_context": gold_in([n.node.get_content() for n in nodes], it)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--facts", type=int, default=10, help="how many fact questions (spread over the dev set)")
    ap.add_argument("--calcs", type=int, default=12)
    ap.add_argument("--refusals", type=int, default=12)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "agent.json"))
    args = ap.parse_args()

    settings = memory_settings(data_dir=ROOT / ".tutor")
    report: dict = {"machine": machine(), "model": "qwen2.5-coder-1.5b-instruct-q4_k_m (embedded llama.cpp)"}
    with TutorApp(settings) as app:
        app.ingest()
        t0 = time.perf_counter()
        app.model_file()
        report["model_file_ready_s"] = round(time.perf_counter() - t0, 2)
        report["server_start_s"] = round(app.start_llm(), 2)
        counter = Counting(app.llm)
        app._llm = counter
        chunks = {c.chunk_id: c for c in app.store.chunks()}

        dev = load_dev()
        step = max(1, len(dev) // args.facts)
        facts = dev[::step][: args.facts]
        fact_rows = []
        for it in facts:
            r = run_one(app, counter, it.question)
            rep = r["reply"]
            shown_texts = [chunks[cid].text for cid in _shown_chunk_ids(rep)]
            fact_rows.append({
                "question": it.question, "ttft": r["ttft"], "total": r["total"], "prompt_tokens": r["prompt_tokens"],
                "completion_tokens": r["completion_tokens"], "refused": rep.refused,
                "citations": len(rep.citations),
                "citations_valid": all(c.quote in chunks[c.chunk_id].text for c in rep.citations),
                "gold_in_context": gold_in(shown_texts, it),
                "answer": rep.answer,
            })
            print(json.dumps({k: v for k, v in fact_rows[-1].items() if k != "answer"}), flush=True)

        calc_rows = []
        for c in load("calc_dev.jsonl")[: args.calcs]:
            r = run_one(app, counter, c["question"])
            rep = r["reply"]
            calls = [t for t in rep.tool_calls if t.name == "calculator"]
            ok_calls = [t for t in calls if not t.result.startswith("Error")]

            def close(t):
                try:
                    return abs(float(t.result) - c["expected"]) <= c["tolerance"]
                except ValueError:
                    return False

            calc_rows.append({"question": c["question"], "called": bool(calls), "valid_call": bool(ok_calls),
                              "correct": any(close(t) for t in ok_calls), "expressions": [t.arguments for t in calls],
                              "ttft": r["ttft"], "total": r["total"], "prompt_tokens": r["prompt_tokens"]})
            print(json.dumps(calc_rows[-1]), flush=True)

        held = [x for x in load("refusal_heldout.jsonl") if not x["in_corpus"] and x["kind"] in ("far", "near")]
        refusal_rows = []
        for x in held[: args.refusals]:
            r = run_one(app, counter, x["question"])
            refusal_rows.append({"question": x["question"], "kind": x["kind"], "refused": r["reply"].refused,
                                 "total": r["total"], "answer": r["reply"].answer})
            print(json.dumps({k: v for k, v in refusal_rows[-1].items() if k != "answer"}), flush=True)

        report["server_peak_rss_mb"] = server_rss_peak_mb(app)
        app._llm = counter.inner
        baseline = naive_llamaindex(app, facts, counter.inner)

    report["tutor_process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    ours_tokens = [r["prompt_tokens"] for r in fact_rows]
    base_tokens = [r["prompt_tokens"] for r in baseline]
    report["facts"] = {
        "n": len(fact_rows),
        "ttft_median_s": round(median([r["ttft"] for r in fact_rows if r["ttft"]]), 2),
        "total_median_s": round(median([r["total"] for r in fact_rows]), 2),
        "prompt_tokens_median": median(ours_tokens),
        "completion_tokens_median": median([r["completion_tokens"] for r in fact_rows]),
        "gold_in_context": sum(r["gold_in_context"] for r in fact_rows) / len(fact_rows),
        "answered_with_citations": sum(bool(r["citations"]) and not r["refused"] for r in fact_rows) / len(fact_rows),
        "citations_valid": all(r["citations_valid"] for r in fact_rows),
        "wrongly_refused": sum(r["refused"] for r in fact_rows),
    }
    report["naive_llamaindex"] = {
        "n": len(baseline),
        "prompt_tokens_median": median(base_tokens),
        "total_median_s": round(median([r["total"] for r in baseline]), 2),
        "gold_in_context": sum(r["gold_in_context"] for r in baseline) / len(baseline),
    }
    report["prompt_token_ratio_ours_vs_naive"] = round(median(ours_tokens) / median(base_tokens), 2)
    report["calculations"] = {
        "n": len(calc_rows),
        "calculator_called": sum(r["called"] for r in calc_rows) / len(calc_rows),
        "valid_call": sum(r["valid_call"] for r in calc_rows) / len(calc_rows),
        "correct_result": sum(r["correct"] for r in calc_rows) / len(calc_rows),
        "total_median_s": round(median([r["total"] for r in calc_rows]), 2),
    }
    report["out_of_corpus"] = {
        kind: {"n": len(rows), "refused": sum(r["refused"] for r in rows) / max(len(rows), 1)}
        for kind in ("far", "near") for rows in [[r for r in refusal_rows if r["kind"] == kind]]
    }
    report["rows"] = {"facts": fact_rows, "calculations": calc_rows, "out_of_corpus": refusal_rows, "naive": baseline}
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=2))
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))


def _shown_chunk_ids(reply) -> list[str]:
    """The chunk ids of every passage the LLM was shown (from the search tool calls' summaries)."""
    import re

    ids = []
    for t in reply.tool_calls:
        if t.name == "search_corpus":
            ids += re.findall(r"chunk ([0-9a-f]{16})", t.result)
    return list(dict.fromkeys(ids))


if __name__ == "__main__":
    main()
