#!/usr/bin/env python3
"""Hand histories exported by the server replay in pokerkit to the same final stacks.

Starts `showdown serve` (the binary given) on a fresh SQLite file, creates
AI-only tables in `auto` pace (bots of every kind, with and without antes),
lets them play, downloads every finished hand's PHH through the admin API
(`GET /api/tables/{id}/hands`, full cards with the API key), replays each one
strictly in pokerkit and compares the finishing stacks. The exclusions are
those of differential.py (where pokerkit departs from the written rules).

Usage: server_hands.py SHOWDOWN_BINARY [--hands N] [--port P]   (from the repository root)
Exit status 1 on any disagreement or if fewer than N hands were compared.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from differential import Tally  # noqa: E402

API_KEY = 'pokerkit-check'
TABLES = [
    # seats, small blind, big blind, ante, agents
    (6, 5, 10, 0, ['bot:random', 'bot:tight-aggressive', 'bot:calling-station'] * 2),
    (9, 10, 20, 5, ['bot:random'] * 5 + ['bot:tight-aggressive'] * 4),
    (2, 1, 2, 0, ['bot:random', 'bot:calling-station']),
    (4, 25, 50, 10, ['bot:random', 'bot:random', 'bot:tight-aggressive', 'bot:calling-station']),
]


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header('content-type', 'application/json')
    request.add_header('x-api-key', API_KEY)
    if token:
        request.add_header('authorization', f'Bearer {token}')
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('binary')
    parser.add_argument('--hands', type=int, default=400, help='hands to compare at least')
    parser.add_argument('--port', type=int, default=18734)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix='showdown-server-phh-')
    base = f'http://127.0.0.1:{args.port}'
    server = subprocess.Popen(
        [args.binary, 'serve', '--bind', f'127.0.0.1:{args.port}',
         '--database-url', f'sqlite://{workdir}/showdown.db', '--api-key', API_KEY],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        first = server.stdout.readline()
        if 'Showdown is running' not in first:
            print(f'server did not start: {first!r}')
            return 1
        tables = []
        for seats, sb, bb, ante, agents in TABLES:
            ai = [{'seat': s, 'agent': a, 'stack': bb * (40 + 37 * s)} for s, a in enumerate(agents)]
            body = {'seats': seats, 'small_blind': sb, 'big_blind': bb, 'ante': ante, 'pace': 'auto',
                    'max_buy_in': bb * 400, 'ai_seats': ai}
            tables.append(call(base, 'POST', '/api/tables', body)['id'])
        per_table = args.hands // len(tables) + 1
        deadline = time.time() + 300
        while True:
            counts = [call(base, 'GET', f'/api/tables/{t}')['table']['hand'] for t in tables]
            if min(counts) > per_table + 1 or time.time() > deadline:
                break
            time.sleep(0.5)
        tally = Tally('server')
        for table in tables:
            hands = call(base, 'GET', f'/api/tables/{table}/hands?limit=500')['hands']
            for hand in hands:
                path = os.path.join(workdir, f'{table}-{hand["hand"]}.phh')
                with open(path, 'w') as f:
                    f.write(hand['phh'])
                tally.replay_file(path)
        compared, failures = tally.compared, tally.failures
        print(f'server -> pokerkit: {compared} hands compared, {len(failures)} disagreements, '
              f'{tally.skipped} excluded, {tally.moot} moot checks supplied')
        for failure in failures[:20]:
            print('  ' + failure)
        ok = not failures and compared >= args.hands
        print(f'pokerkit (server hands): {compared - len(failures)} passed, {len(failures)} failed')
        return 0 if ok else 1
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


if __name__ == '__main__':
    sys.exit(main())
