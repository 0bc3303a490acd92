#!/bin/sh
# Engine cost before and after a change, in the same run: `bench_guard.py --only engine` of two
# source trees, alternating, N times each (the machine's load hits both alike).
# Usage: bench/compare_engine.sh OLD_SRC NEW_SRC [N] [--quick]
# e.g.   git archive main src | tar -x -C /tmp/old && bench/compare_engine.sh /tmp/old/src src 3
set -eu
old=$1 new=$2 n=${3:-3} quick=${4:-}
here=$(dirname "$0")
python=${PYTHON:-.venv/bin/python}
i=0
while [ "$i" -lt "$n" ]; do
    for side in old new; do
        if [ "$side" = old ]; then src=$old; else src=$new; fi
        PYTHONPATH=$src "$python" "$here/bench_guard.py" --only engine --json $quick \
            | "$python" -c "import json, sys; r = json.load(sys.stdin); print('$side', *(f\"{k}={r[k]['engine_us_per_event']}us ratio={r[k]['ratio']}\" for k in ('engine', 'engine_readers')))"
    done
    i=$((i + 1))
done
