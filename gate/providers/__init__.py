"""How a case reaches a model or an app: providers behind one small protocol."""
