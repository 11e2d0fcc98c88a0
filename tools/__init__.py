"""Project tools that are not part of the keel package (the solc shim, static analysis)."""
