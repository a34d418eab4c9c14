"""The `cost` check: the monthly cost of the traffic profiles, its change and the budgets."""
