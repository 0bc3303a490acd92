"""Challenges: the built-in proof-of-work (ALTCHA), CAPTCHA providers, signed clearances,
single-use proofs and the solve ledger that turns repeated solving into a block."""
