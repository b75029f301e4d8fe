#!/usr/bin/env python3
"""Independent implementation of the documented deck shuffle (game-core/src/deck.rs):
ChaCha20 keyed with the seed (u64 little-endian + 24 zero bytes), 64-bit block
counter from 0, stream 0, output words in block order; Fisher-Yates from the
last card down with Lemire's multiply-and-reject draw. Prints the deck order.

Usage: deck_order.py SEED
"""
import struct
import sys

MASK = 0xFFFFFFFF


def rotl(v, c):
    return ((v << c) & MASK) | (v >> (32 - c))


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK; s[b] = rotl(s[b] ^ s[c], 7)


def chacha20_words(key):
    constants = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    k = list(struct.unpack('<8I', key))
    counter = 0
    while True:
        state = constants + k + [counter & MASK, counter >> 32, 0, 0]
        s = state[:]
        for _ in range(10):
            quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13)
            quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15)
            quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12)
            quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14)
        for i in range(16):
            yield (s[i] + state[i]) & MASK
        counter += 1


def deck(seed):
    words = chacha20_words(struct.pack('<Q', seed) + bytes(24))
    cards = [r + s for r in '23456789TJQKA' for s in 'cdhs']
    for i in range(51, 0, -1):
        n = i + 1
        m = next(words) * n
        if (m & MASK) < n:
            threshold = (1 << 32) % n
            while (m & MASK) < threshold:
                m = next(words) * n
        j = m >> 32
        cards[i], cards[j] = cards[j], cards[i]
    return cards


if __name__ == '__main__':
    print(' '.join(deck(int(sys.argv[1]))))
