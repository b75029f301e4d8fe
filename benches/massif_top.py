#!/usr/bin/env python3
"""Sums a massif heap snapshot by allocation site, naming each site by its
first frames in interesting crates (ours, tokio's channels and tasks, sqlx).

Usage: benches/massif_top.py massif.out [SNAPSHOT|peak] [FRAMES]
Used for BENCHMARKS.md, "Memory per active table".
"""
import re
import sys

INTERESTING = ('server::', 'game_core::', 'schema::', 'ai_players::', 'sqlx', 'tokio::sync',
               'broadcast', 'socketioxide', 'hyper::', 'new<tokio::runtime::task')


def main():
    path = sys.argv[1]
    which = sys.argv[2] if len(sys.argv) > 2 else 'peak'
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    lines = open(path).read().split('\n')
    snaps = []
    for i, line in enumerate(lines):
        if line.startswith('snapshot='):
            snaps.append((int(line.split('=')[1]), int(lines[i + 3].split('=')[1]), i, lines[i + 6]))
    print('detailed snapshots (number, heap bytes):',
          [(n, h) for n, h, _, t in snaps if t != 'heap_tree=empty'])
    if which == 'peak':
        snap = next(s for s in snaps if s[3] == 'heap_tree=peak')
    else:
        snap = next(s for s in snaps if s[0] == int(which))

    def parse(i):
        m = re.match(r'n(\d+): (\d+) (.*)', lines[i].strip())
        node = {'b': int(m.group(2)), 'd': m.group(3), 'c': []}
        i += 1
        for _ in range(int(m.group(1))):
            child, i = parse(i)
            node['c'].append(child)
        return node, i

    root, _ = parse(snap[2] + 7)
    sums = {}

    def walk(node, path):
        if not node['c']:
            frames = [re.sub(r'^0x[0-9A-F]+: ', '', p) for p in path]
            key = [f[:120] for f in frames if any(x in f for x in INTERESTING)][:depth]
            name = ' | '.join(key) or (frames[-1][:150] if frames else '?')
            sums[name] = sums.get(name, 0) + node['b']
            return
        for child in node['c']:
            walk(child, path + [child['d']])

    walk(root, [])
    total = root['b']
    print('snapshot', snap[0], 'heap bytes', total)
    for name, size in sorted(sums.items(), key=lambda x: -x[1])[:35]:
        print(f'{size:>10} {size / total * 100:5.1f}%  {name}')


if __name__ == '__main__':
    main()
