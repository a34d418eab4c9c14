"""The resilience check: break the model provider on purpose and prove the service survives."""
