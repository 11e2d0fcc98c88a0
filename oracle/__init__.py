"""Keel oracle relayer: reads prices, estimates vol, signs k-of-n reports and pushes them on chain."""
