"""Answering a question: the agent loop, its tools (search, the safe calculator), prompts, citations
attached and checked in code, Socratic turns and suggested next questions."""
