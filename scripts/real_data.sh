#!/usr/bin/env bash
# The real-data runs behind the numbers in README.md. Each step is skipped when its output
# exists, so the script resumes. Usage: scripts/real_data.sh [OUT] [STEP...]
# Needs ../shared/data beside the repository (or DATA=...).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs}; shift || true
DATA=${DATA:-../shared/data}
ELA=${ELA:-.venv/bin/ela}
STEPS=${*:-"msr bandai2 emotion attack-msr"}
EMO_ONLY="style=angry,happy,sad,normal"
SMALL_GCN='channels=[32,64,64,128,128]'

train() {  # train RUN_NAME ARGS...
  local run=$OUT/$1; shift
  [ -f "$run/metrics.json" ] && { echo "skip $run"; return; }
  echo "== $run"; /usr/bin/time -f "%e s" "$ELA" train --out "$run" "$@"
}

attack() {  # attack OUT_NAME ARGS...
  local out=$OUT/$1; shift
  [ -f "$out/summary.json" ] && { echo "skip $out"; return; }
  echo "== $out"; "$ELA" attack --out "$out" "$@"
}

for step in $STEPS; do
  case $step in
    msr)
      M="--data $DATA/msr_action3d --format msr --label action --augment rotate:15"
      train msr_hcn --model hcn $M --frames 32 --epochs 120
      train msr_sgn --model sgn $M --frames 20 --epochs 80
      train msr_2s-agcn --model 2s-agcn $M --frames 32 --epochs 60 --cfg "$SMALL_GCN" ;;
    bandai2)
      B="--data $DATA/bandai2 --format bandai --label content --split holdout --augment rotate:15"
      train bandai2_hcn --model hcn $B --frames 32 --epochs 60
      train bandai2_sgn --model sgn $B --frames 20 --epochs 60
      train bandai2_2s-agcn --model 2s-agcn $B --frames 32 --epochs 40 --cfg "$SMALL_GCN" ;;
    emotion)
      # E for the attacks: S-STGCN on Bandai-1 mapped to gait16, 4 styles, windows by clip.
      E="--data $DATA/bandai1 --format bandai --layout gait16 --only $EMO_ONLY --label style"
      train emotion_sstgcn --model sstgcn $E --window 48 --frames 48 --split holdout \
        --epochs 30 --cfg 'channels=[32,32,64,64,128]' ;;
    emotion-cv)
      E="--data $DATA/bandai1 --format bandai --layout gait16 --only $EMO_ONLY --label style"
      for m in sstgcn 2s-sstgcn stgcn lstm cnn smacn proxemo; do
        cfg=()
        case $m in
          sstgcn|2s-sstgcn) cfg=(--cfg 'channels=[32,32,64,64,128]') ;;
          stgcn) cfg=(--cfg "$SMALL_GCN") ;;
          proxemo) cfg=(--cfg image_size=128) ;;
          lstm) cfg=(--cfg hidden=128) ;;
        esac
        train "emotion4_cv_$m" --model "$m" $E --window 48 --frames 48 --split emotion5 \
          --epochs 25 "${cfg[@]}"
      done ;;
    attack-msr)
      for m in hcn sgn 2s-agcn; do
        R=$OUT/msr_$m; [ -f "$R/metrics.json" ] || continue
        A="$R --data $DATA/msr_action3d --format msr --emotion $OUT/emotion_sstgcn --samples 48"
        attack "attack_msr_${m}_ela" $A --method ela --gamma 1
        attack "attack_msr_${m}_cw" $A --method cw
        attack "attack_msr_${m}_smart" $A --method smart
      done ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
