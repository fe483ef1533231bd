"""The agent: LLM client, embedded vLLM manager, planner, LangGraph loop, citations.

Entry point: ``Agent(kb, chat_model, tools, settings).stream_answer(...)``
(:mod:`agent.loop`); events in :mod:`agent.events`. Submodules are imported
lazily by callers (``agent.loop`` pulls in LangGraph).
"""
