"""Reference risk model (keel.risk) tests: SPEC §6 figures by hand, vectorised vs scalar."""
