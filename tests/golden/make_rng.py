#!/usr/bin/env python3
"""Golden values of CPython's Mersenne Twister for tests/test_rng.c.

Made with: python3 tests/golden/make_rng.py > tests/golden/rng.txt
One line per draw: seed, kind (u32 | random | uniform), exact value (float.hex for doubles).
"""
import random

SEEDS = [0, 1, 42, -42, 2**32 - 1, 2**32, -(2**32), 2**64 + 1, 10**30, -(10**30),
         123456789012345678901234567890123456789012345678901234567890, 3**1000]

for s in SEEDS:
    r = random.Random(s)
    for _ in range(3):
        print(s, "u32", r.getrandbits(32))
    r = random.Random(s)
    for i in range(700):  # past one 624-word refill
        v = r.random()
        if i < 8 or i % 97 == 0 or i >= 690:
            print(s, "random", v.hex())
    r = random.Random(s)
    for _ in range(4):
        print(s, "uniform", r.uniform(-100.0, 100.0).hex())
