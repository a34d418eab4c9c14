"""How a case reaches a model or an app: providers behind one small protocol.

base (Request, Response, ProviderError, the Provider protocol), factory.build_provider (target specs),
openai / anthropic (model APIs), endpoint / command / pycall (app targets), cassette (Recorder,
ReplayProvider), cache.CachedProvider, fallback.FallbackProvider, executor.run_all (concurrency,
rate limit, retries).
"""
