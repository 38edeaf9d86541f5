#!/bin/bash
# The structure-hypotheses figures: the same commands with the binary built before the hypotheses
# and the averaging existed (commit 679722f) and with the current one.
#   BEFORE=<oneproxy built at 679722f> AFTER=target/release/oneproxy bash docs/results/structure-hypotheses/run.sh
# Writes the full JSON outputs to $OUT/{before,after}/ (default: a new temporary folder; about
# 14 MB), their timings to times.txt beside this script, and the small summary.json beside this
# script (summarize.py).
set -e
cd "$(dirname "$0")/../../.."
ROOT=$PWD
HERE_DIR=$ROOT/docs/results/structure-hypotheses
OUT=${OUT:-$(mktemp -d)}
DEVS=1080ti_1,1080ti_256,1080ti_32,2080ti_1,2080ti_256,2080ti_32,essential_ph_1,eyeriss,fpga,gold_6226,gold_6240,pixel2,pixel3,raspi4,samsung_a50,samsung_s7,silver_4114,silver_4210r,titan_rtx_1,titan_rtx_256,titan_rtx_32,titanx_1,titanx_256,titanx_32,titanxp_1,titanxp_256,titanxp_32,edgegpu,edgetpu
FULL=$(echo $DEVS | tr , '\n' | grep -v -E '^(edgegpu|edgetpu)$' | paste -sd,)
P=1080ti_1,1080ti_32,1080ti_256,silver_4114,silver_4210r,samsung_a50,pixel3,essential_ph_1,samsung_s7,titanx_1,titanx_32,titanx_256,gold_6240
T=titan_rtx_256,gold_6226,fpga,pixel2,raspi4,eyeriss
FP=1080ti_1,1080ti_32,1080ti_64,silver_4114,silver_4210r,samsung_a50,pixel3,essential_ph_1,samsung_s7,titanx_1,titanx_32,titanx_64,gold_6240
FT=titan_rtx_64,gold_6226,fpga,pixel2,raspi4,eyeriss
OP=2080ti_1,2080ti_32,2080ti_64,titan_xp_1,titan_xp_32,titan_xp_64
OT=titan_rtx_1,titan_rtx_32,titan_rtx_64,v100_1,v100_32,v100_64
HERE=$ROOT/crates/oneproxy/data/examples/nb201_here.csv
for b in before after; do
  O=$OUT/$b; mkdir -p $O; rm -f $O/times.txt
  if [ $b = before ]; then X=$BEFORE; else X=$AFTER; fi
  for K in 5 10 20 60; do /usr/bin/time -f "$b lodo K=$K %e s" -a -o $O/times.txt $X evaluate adapt --targets $DEVS --pool $DEVS --samples $K --trials 10 --json > $O/lodo-k$K.json; done
  /usr/bin/time -f "$b full27 K=10 %e s" -a -o $O/times.txt $X evaluate adapt --targets $FULL --samples 10 --trials 10 --json > $O/full27-k10.json
  $X evaluate adapt --targets edgegpu,edgetpu --proxy auto --samples 20 --trials 10 --json > $O/edge-k20.json
  $X evaluate adapt --targets $T --pool $P --sample-set help10 --json > $O/help10.json
  $X evaluate adapt --targets $T --pool $P --trials 20 --seed 0 --json > $O/help-random10.json
  $X evaluate adapt --space fbnet --targets $FT --pool $FP --samples 10 --trials 10 --json > $O/fbnet.json
  $X evaluate adapt --space ofa-mbv3 --targets $OT --pool $OP --samples 10 --trials 10 --json > $O/ofa.json
  $X evaluate adapt --latency $HERE --targets here,here_pruned --pool $DEVS --samples 10 --trials 10 --json > $O/here.json
  $X evaluate adapt --targets $DEVS --pool $DEVS --sample-set plan --samples 10 --trials 5 --json > $O/lodo-plan10.json
done
cat $OUT/after/times.txt $OUT/before/times.txt > $HERE_DIR/times.txt
python3 $HERE_DIR/summarize.py $HERE_DIR/summary.json $OUT/before $OUT/after
echo "full outputs in $OUT; summary in $HERE_DIR/summary.json" >&2
