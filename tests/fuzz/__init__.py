"""Property-based tests: generated and mutated files under review never crash, hang or switch the gate off."""
