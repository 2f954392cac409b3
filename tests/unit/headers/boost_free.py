#!/usr/bin/env python3
"""Fails when an installed header pulls in Boost, which is a private dependency of
lib/ only (a consumer of weft_dep or weft.pc has no Boost flags).

Usage: boost_free.py INCLUDE_DIR COMPILER... -- FLAGS...

Preprocesses every header under INCLUDE_DIR/weft alone with -M (the list of every
file it includes) and fails naming each header whose list has a path with boost/ in it.
"""
import pathlib
import subprocess
import sys


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 2 or '--' not in args:
        print(__doc__, file=sys.stderr)
        return 2
    include_dir = pathlib.Path(args[0])
    split = args.index('--')
    compiler, flags = args[1:split], args[split + 1:]
    headers = sorted((include_dir / 'weft').rglob('*.hpp'))
    if not headers:
        print(f'no headers under {include_dir}/weft', file=sys.stderr)
        return 1
    bad = 0
    for header in headers:
        cmd = compiler + flags + ['-I', str(include_dir), '-M', '-x', 'c++', str(header)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            print(f'FAIL {header}: {" ".join(cmd)} failed:\n{run.stderr}')
            bad += 1
            continue
        deps = run.stdout.replace('\\\n', ' ').split()
        boost = sorted({d for d in deps if '/boost/' in d or d.startswith('boost/')})
        if boost:
            print(f'FAIL {header.relative_to(include_dir)} includes Boost: {boost[0]}'
                  + (f' (and {len(boost) - 1} more)' if len(boost) > 1 else ''))
            bad += 1
    print(f'{len(headers) - bad} of {len(headers)} headers are free of Boost')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
