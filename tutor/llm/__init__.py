"""The LLM behind the OpenAI protocol: `client` (the only module that imports `openai`) and the embedded
llama.cpp server (`local`, supervised through the `_serve` watchdog)."""
