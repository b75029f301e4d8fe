#!/usr/bin/env python3
"""Differential check of the game-core engine against pokerkit (the reference NLHE engine).

Forward:  hands played by the engine (random legal actions, 2-9 players, uneven
          stacks, frequent all-ins and min-raises) are exported as PHH, replayed
          action by action in pokerkit (strictly: every action must be legal for
          the player pokerkit expects), and the final stacks compared exactly.
Backward: hands played by pokerkit with random legal actions are dumped with
          HandHistory.dump, replayed by the engine (`phh-replay`), and the final
          stacks compared exactly.

Excluded from the comparisons, and counted, where pokerkit departs from the
written rules:
- the big blind is all-in for less than the full blind: WSOP L150 makes later
  players call the full big blind; pokerkit lets them call the short amount;
- heads-up with the small blind equal to the big blind: pokerkit picks the first
  player to act by blind size and lets the big blind act first preflop; the rule
  (T87) is that the button/small blind acts first;
- (pokerkit-played hands) a raise by a player who already acted, after only
  all-ins smaller than the big blind: pokerkit measures the reopening against the
  largest raise so far (zero before the first raise) instead of the big blind, so
  a short all-in for less than a big blind reopens the betting; T96a/TDA 47 say
  it does not;
- a pot split between tied hands when the hand has side pots: pokerkit merges the
  pots that are left with the same players after losing hands are killed and
  splits them once, so an odd chip can land elsewhere; T74 awards (and splits)
  each pot separately.
A check pokerkit asks for that changes nothing (the big blind's option when
every other player is all-in, which the engine skips) is supplied to pokerkit
and counted.

Usage: differential.py [--hands N] [--min-compared M] [--seed S]   (run from the repository root)
Exit status 1 on any disagreement.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import warnings

from pokerkit import Automation, HandHistory, NoLimitTexasHoldem
from pokerkit.notation import parse_action

warnings.simplefilter('error')  # a reused card is only a warning in pokerkit

STRICT_AUTOMATIONS = (
    Automation.ANTE_POSTING,
    Automation.BET_COLLECTION,
    Automation.BLIND_OR_STRADDLE_POSTING,
    Automation.RUNOUT_COUNT_SELECTION,
    Automation.HAND_KILLING,
    Automation.CHIPS_PUSHING,
    Automation.CHIPS_PULLING,
)


def excluded(antes, blinds, stacks):
    """True for the hands pokerkit plays against the written rules (see above)."""
    n = len(stacks)
    if n == 2 and blinds[0] == blinds[1]:
        return True
    bb_pos = 0 if n == 2 else 1
    ante = antes[bb_pos] if antes else 0
    return stacks[bb_pos] - min(ante, stacks[bb_pos]) < max(blinds)


def strict_replay(hh):
    """Replays a HandHistory's actions one by one; raises on anything pokerkit refuses."""
    state = NoLimitTexasHoldem.create_state(
        STRICT_AUTOMATIONS,
        True,
        tuple(hh.antes),
        tuple(hh.blinds_or_straddles),
        hh.min_bet,
        tuple(hh.starting_stacks),
        len(hh.starting_stacks),
    )
    moot = 0
    for action in hh.actions:
        if state.can_burn_card():
            state.burn_card('??')
        words = action.split()
        expected = state.actor_index
        if (expected is not None and state.checking_or_calling_amount == 0
                and not state.can_complete_bet_or_raise_to()
                and (words[0] == 'd' or words[1] not in ('f', 'cc', 'cbr')
                     or int(words[0][1:]) - 1 != expected)):
            state.check_or_call()
            moot += 1
        if words[0] != 'd' and words[1] in ('f', 'cc', 'cbr'):
            expected = state.actor_index
            if expected is None or int(words[0][1:]) - 1 != expected:
                raise ValueError(f'{action!r}: pokerkit expects p{None if expected is None else expected + 1} to act')
        parse_action(state, action)
    while state.status and state.actor_index is not None and state.checking_or_calling_amount == 0:
        state.check_or_call()
        moot += 1
    while state.status and state.can_burn_card():
        state.burn_card('??')
    if state.status:
        raise ValueError('pokerkit says the hand is not over after the last action')
    return list(state.stacks), moot, state


def split_side_pots(state):
    """True when a tie split a pot in a hand with several pots (see above)."""
    contributions = [0] * state.player_count
    folded = set()
    split = False
    for op in state.operations:
        name = type(op).__name__
        if name == 'BetCollection':
            contributions = [c + b for c, b in zip(contributions, op.bets)]
        elif name == 'Folding':
            folded.add(op.player_index)
        elif name == 'ChipsPushing' and sum(1 for a in op.amounts if a) > 1:
            split = True
    levels = {c for i, c in enumerate(contributions) if i not in folded and c}
    return split and len(levels) > 1


def forward(hands, seed, workdir):
    out = os.path.join(workdir, 'engine')
    subprocess.run(
        ['cargo', 'run', '--quiet', '--release', '-p', 'game-core', '--example', 'phh_random', '--',
         str(hands), str(seed), out],
        check=True,
    )
    tally = Tally('engine')
    for name in sorted(os.listdir(out)):
        tally.replay_file(os.path.join(out, name))
    print(f'engine -> pokerkit: {tally.moot} moot checks supplied to pokerkit')
    return tally.compared, tally.skipped, tally.failures


class Tally:
    """Replays PHH files strictly in pokerkit and counts agreements with the
    finishing stacks they record (`source` names who wrote them)."""

    def __init__(self, source):
        self.source = source
        self.compared = self.skipped = self.moot = 0
        self.failures = []

    def replay_file(self, path):
        with open(path, 'rb') as f:
            hh = HandHistory.load(f)
        if excluded(hh.antes, hh.blinds_or_straddles, hh.starting_stacks):
            self.skipped += 1
            return
        try:
            stacks, moot, state = strict_replay(hh)
        except (ValueError, UserWarning) as e:
            self.failures.append(f'{path}: pokerkit refused: {e}')
            return
        self.moot += moot
        if split_side_pots(state):
            self.skipped += 1
            return
        if stacks != list(hh.finishing_stacks):
            self.failures.append(f'{path}: {self.source} {hh.finishing_stacks} != pokerkit {stacks}')
        self.compared += 1


def random_pokerkit_hand(rng):
    n = rng.randint(2, 9)
    bb = rng.choice([2, 10, 100])
    sb = bb if rng.random() < 0.25 else bb // 2
    ante = bb // 2 if rng.random() < 0.33 else 0
    stacks = []
    for _ in range(n):
        kind = rng.randrange(4)
        if kind == 0:
            stacks.append(1 + rng.randrange(3 * bb))
        elif kind == 1:
            stacks.append(bb * (1 + rng.randrange(20)) + rng.randrange(bb))
        else:
            stacks.append(bb * (20 + rng.randrange(180)) + rng.randrange(bb))
    antes = [ante] * n
    blinds = [sb, bb] + [0] * (n - 2)
    game = NoLimitTexasHoldem(
        (
            Automation.ANTE_POSTING,
            Automation.BET_COLLECTION,
            Automation.BLIND_OR_STRADDLE_POSTING,
            Automation.CARD_BURNING,
            Automation.RUNOUT_COUNT_SELECTION,
            Automation.HOLE_DEALING,
            Automation.BOARD_DEALING,
            Automation.HOLE_CARDS_SHOWING_OR_MUCKING,
            Automation.HAND_KILLING,
            Automation.CHIPS_PUSHING,
            Automation.CHIPS_PULLING,
        ),
        True,
        tuple(antes),
        tuple(blinds),
        bb,
    )
    state = game(tuple(stacks), n)
    diverges = False
    # The written reopening rule, tracked alongside pokerkit: the bet level
    # each player last acted at, and the last full raise (at least the big blind).
    street, acted_at, full_raise = None, {}, bb
    while state.status:
        if state.street_index != street:
            street, acted_at, full_raise = state.street_index, {}, bb
        choices = []
        if state.can_fold():
            choices.append('f')
        if state.can_check_or_call():
            choices += ['cc', 'cc']
        if state.can_complete_bet_or_raise_to():
            choices += ['min', 'max', 'mid', 'mid']
        if not choices:
            break
        choice = rng.choice(choices)
        actor = state.actor_index
        level = max(state.bets)
        if choice == 'f':
            state.fold()
        elif choice == 'cc':
            state.check_or_call()
        else:
            if actor in acted_at and level - acted_at[actor] < full_raise:
                diverges = True
            lo = state.min_completion_betting_or_raising_to_amount
            hi = state.max_completion_betting_or_raising_to_amount
            amount = {'min': lo, 'max': hi}.get(choice) or rng.randint(lo, hi)
            state.complete_bet_or_raise_to(amount)
            if amount - level >= full_raise:
                full_raise, acted_at = amount - level, {}
        acted_at[actor] = max(state.bets) if state.bets else level
    return game, state, (antes, blinds, stacks), diverges


def backward(hands, seed, workdir):
    rng = random.Random(seed)
    out = os.path.join(workdir, 'pokerkit')
    os.makedirs(out)
    expected = {}
    skipped = 0
    for i in range(hands):
        game, state, (antes, blinds, stacks), diverges = random_pokerkit_hand(rng)
        if diverges or excluded(antes, blinds, stacks) or split_side_pots(state):
            skipped += 1
            continue
        path = os.path.join(out, f'{i:06}.phh')
        with open(path, 'wb') as f:
            HandHistory.from_game_state(game, state, ante_trimming_status=True).dump(f)
        expected[path] = list(state.stacks)
    subprocess.run(['cargo', 'build', '--quiet', '--release', '-p', 'game-core', '--bin', 'phh-replay'], check=True)
    target = os.environ.get('CARGO_TARGET_DIR', 'target')
    failures = []
    compared = 0
    paths = sorted(expected)
    for start in range(0, len(paths), 500):
        batch = paths[start:start + 500]
        run = subprocess.run([os.path.join(target, 'release', 'phh-replay'), *batch], capture_output=True, text=True)
        for line in run.stdout.splitlines():
            result = json.loads(line)
            if 'error' in result:
                failures.append(f"{result['file']}: engine refused: {result['error']}")
            elif result['finishing_stacks'] != expected[result['file']]:
                failures.append(f"{result['file']}: pokerkit {expected[result['file']]} != engine {result['finishing_stacks']}")
            compared += 1
    return compared, skipped, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hands', type=int, default=2500, help='hands generated per direction')
    parser.add_argument('--min-compared', type=int, default=2000,
                        help='fail unless at least this many hands are compared per direction')
    parser.add_argument('--seed', type=int, default=20261123)
    parser.add_argument('--keep', help='keep the generated PHH files in this folder')
    args = parser.parse_args()
    workdir = args.keep or tempfile.mkdtemp(prefix='showdown-pokerkit-')
    ok = True
    passed = failed = 0
    for name, run in (('engine -> pokerkit', forward), ('pokerkit -> engine', backward)):
        compared, skipped, failures = run(args.hands, args.seed, workdir)
        passed += compared - len(failures)
        failed += len(failures)
        print(f'{name}: {compared} hands compared, {len(failures)} disagreements, '
              f'{skipped} excluded (pokerkit departs from the written rules)')
        for failure in failures[:20]:
            print('  ' + failure)
        if failures or compared < args.min_compared:
            ok = False
    print('pokerkit differential: ' + ('PASS' if ok else 'FAIL'))
    print(f'pokerkit: {passed} passed, {failed} failed')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
