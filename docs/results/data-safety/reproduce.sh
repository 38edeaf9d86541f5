#!/usr/bin/env bash
# Each data-loss reproducer of the "nothing lost, round two" review, run against one oneproxy
# binary in a fresh folder: prints the exit code and what is left on disk.
# Usage: bash docs/results/data-safety/reproduce.sh path/to/oneproxy
set -u
B="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
FIX="$(cd "$(dirname "$0")/../../.." && pwd)/crates/oneproxy-cli/tests/fixtures"
CELL='|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'
case_dir() { d=$(mktemp -d); cd "$d"; }
show() { printf '%-58s exit %-3s %s\n' "$1" "$2" "$3"; }

# 1. A received report folder whose marker lists files outside it.
case_dir; echo precious > victim.txt; echo precious > abs.txt; mkdir rep; echo '{}' > rep/report.json
printf '{"written_by":"oneproxy","version":"0.1.0","files":["report.json","../victim.txt","%s"]}' "$PWD/abs.txt" > rep/.oneproxy-report.json
"$B" nas --target pixel3 --oracle table --max-measurements 8 --measurements p.csv --out rep >/dev/null 2>&1; rc=$?
show "marker lists ../victim.txt and an absolute path" $rc "victim.txt: $(test -e victim.txt && echo kept || echo DELETED), abs.txt: $(test -e abs.txt && echo kept || echo DELETED)"

# 2. Outputs onto inputs.
case_dir; cp "$FIX/board_samples.csv" s.csv; sum0=$(sha256sum < s.csv)
"$B" adapt --proxy pixel3 --samples s.csv --out s.csv >/dev/null 2>&1; rc=$?
show "adapt --samples s.csv --out s.csv" $rc "s.csv: $([ "$(sha256sum < s.csv)" = "$sum0" ] && echo intact || echo REPLACED)"
case_dir; cp "$FIX/board_samples.csv" s.csv; "$B" adapt --proxy pixel3 --samples s.csv --out pred.json >/dev/null 2>&1
"$B" predict --predictor pred.json --archs s.csv --out s.csv >/dev/null 2>&1; rc=$?
show "predict --archs s.csv --out s.csv" $rc "s.csv: $([ "$(sha256sum < s.csv)" = "$sum0" ] && echo intact || echo REPLACED)"
case_dir; cp "$FIX/board_samples.csv" my.csv
"$B" plan --budget 5 --latency my.csv --proxy pixel3 --out my.csv >/dev/null 2>&1; rc=$?
show "plan --latency my.csv --out my.csv" $rc "my.csv: $(($(wc -l < my.csv) - 1)) measured rows (12 before)"
case_dir; cp "$FIX/board_samples.csv" my.csv
"$B" search --latency my.csv --device pixel3 --out-csv my.csv >/dev/null 2>&1; rc=$?
show "search --latency my.csv --out-csv my.csv" $rc "my.csv: $([ "$(sha256sum < my.csv)" = "$sum0" ] && echo intact || echo REPLACED)"

# 3. --out over a file oneproxy did not write, and over its own.
case_dir; echo "my notes" > notes.csv
"$B" plan --budget 3 --proxy pixel3 --out notes.csv >/dev/null 2>&1; rc=$?
show "plan --out notes.csv (a user's file)" $rc "notes.csv: $(grep -q 'my notes' notes.csv && echo kept || echo REPLACED)"
"$B" plan --budget 3 --proxy pixel3 --out notes.csv --force >/dev/null 2>&1; rc=$?
show "  the same with --force" $rc "notes.csv: $(grep -q 'my notes' notes.csv && echo kept || echo replaced)"
"$B" plan --budget 4 --proxy pixel3 --out notes.csv >/dev/null 2>&1; rc=$?
show "  again, onto its own output, without --force" $rc "notes.csv: $(($(wc -l < notes.csv) - 1)) rows"
case_dir; echo "my figure" > fig.svg
"$B" search --device pixel3 --plot fig.svg >/dev/null 2>&1; rc=$?
show "search --plot fig.svg (a user's file)" $rc "fig.svg: $(grep -q 'my figure' fig.svg && echo kept || echo REPLACED)"
case_dir; mkdir models; echo mine > models/models.csv
"$B" nas --target board --manual --export-dir models --measurements b.csv >/dev/null 2>&1; rc=$?
show "nas --manual --export-dir with a user's models.csv" $rc "models.csv: $(grep -qx mine models/models.csv && echo kept || echo REPLACED)"

# 6. Inputs that are not regular files (5 s limit: the old binary reads /dev/zero forever).
case_dir; mkfifo pipe.csv
timeout 5 "$B" devices --latency /dev/zero >/dev/null 2>&1; rc=$?
show "devices --latency /dev/zero" $rc "$([ $rc = 124 ] && echo 'killed after 5 s (still reading)' || echo 'refused at once')"
timeout 5 "$B" devices --latency pipe.csv >/dev/null 2>&1; rc=$?
show "devices --latency a FIFO" $rc "$([ $rc = 124 ] && echo 'killed after 5 s (blocked)' || echo 'refused at once')"

# 9. measure --resume with other settings; the number format.
case_dir
"$B" measure --space nb201 --arch "$CELL" --runner-cmd 'echo latency_ms: 0.0000004; : {model}' --warmup 0 --runs 1 --device-name board --out m.csv >/dev/null 2>&1
show "measure, a runner answering 4e-7 ms" $? "m.csv cell: $(tail -1 m.csv | cut -d, -f2)"
"$B" measure --space nb201 --sample 2 --runner-cmd 'echo latency_ms: 5; : {model}' --warmup 0 --runs 1 --batch 64 --device-name board --resume --out m.csv >/dev/null 2>&1; rc=$?
show "measure --resume at --batch 64 (first run at 1)" $rc "m.csv: $(($(wc -l < m.csv) - 1)) rows"

# 10. A device name that is a path.
case_dir; mkdir inner; cd inner
"$B" nas --target ../evil --manual >/dev/null 2>&1; rc=$?
show "nas --target ../evil --manual" $rc "../evil.csv: $(test -e ../evil.csv && echo WRITTEN || echo 'not written')"
