#!/usr/bin/env bash
# Runs the README's example commands as written, where that needs no GPU and no real weights:
# `lavr plan` lines run as they are; the render lines run with the real model, portrait and speech
# replaced by the tiny model and the sample inputs (at 64*64, one clip); every option of every lavr
# command line (convert, render, sbatch) must be one its `--help` lists; the layout table must say
# what `lavr plan` picks. Usage: readme_examples.sh LAVR README TINY_MODEL INPUTS_DIR TMP_DIR
set -u
lavr=$1 readme=$2 tiny=$3 inputs=$4 tmp=$5
mpirun_cmd=${LAVR_MPIRUN:-mpirun --oversubscribe}
rm -rf "$tmp" && mkdir -p "$tmp" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# the command lines of the README's sh blocks, continuation lines joined, comments dropped
commands=$(awk '
  /^```sh/ { inblock = 1; next }
  /^```/   { inblock = 0; next }
  inblock {
    line = $0; sub(/[ \t]+#.*$/, "", line); sub(/^#.*$/, "", line)
    if (line ~ /\\$/) { sub(/\\$/, "", line); acc = acc line; next }
    acc = acc line; if (acc ~ /[^ ]/) print acc; acc = ""
  }' "$readme")
[ -n "$commands" ] || { echo "FAIL: no commands found in $readme"; exit 1; }

# options of a command line against the command's --help (the usage lists every option)
check_options() { # CMD LINE
  local help opt
  help=$("$lavr" "$1" --help 2>&1) || { bad "lavr $1 --help failed"; return; }
  for opt in $(grep -o -- ' --[a-z0-9-]*' <<<"$2" | tr -d ' ' | sort -u); do
    grep -q -- "$opt[ =]" <<<"$help" || grep -q -- "$opt\$" <<<"$help" || bad "'$opt' in README's 'lavr $1' line is not in 'lavr $1 --help'"
  done
}

nrun=0 nchecked=0
while IFS= read -r line; do
  case "$line" in
    "bash scripts/"*|"pip "*|"huggingface-cli "*) continue ;; # set-up, the suite itself, downloads
  esac
  if [[ "$line" == *"lavr plan "* ]]; then
    cmd=${line//.\/build\/lavr/$lavr}
    out=$(eval "$cmd" 2>&1 </dev/null) || { bad "README line failed: $line"; echo "$out"; continue; }
    grep -q "fastest that fits" <<<"$out" || bad "README line finds no layout: $line"
    nrun=$((nrun + 1))
  elif [[ "$line" == *"lavr convert "* ]]; then
    check_options convert "$line"; nchecked=$((nchecked + 1))
  elif [[ "$line" == "sbatch slurm/render-1node.sbatch"* ]]; then
    check_options render "$line"; nchecked=$((nchecked + 1))
    [ -f "$(dirname "$readme")/slurm/render-1node.sbatch" ] || bad "slurm/render-1node.sbatch is missing"
  elif [[ "$line" == "mpirun "*"lavr render "* ]]; then
    check_options render "$line"; nchecked=$((nchecked + 1))
    # the same line on the tiny model and the sample inputs
    out_file=$tmp/render$nrun.mp4
    cmd=${line//.\/build\/lavr/$lavr}
    cmd=${cmd/mpirun/$mpirun_cmd}
    cmd=${cmd//liveavatar.h5/$tiny}
    cmd=${cmd//face.jpg/$inputs/portrait.png}
    cmd=${cmd//speech.wav/$inputs/speech.wav}
    cmd=${cmd//out.mp4/$out_file}
    log=$(eval "$cmd --size 64*64 --num-clip 1" 2>&1 </dev/null) || { bad "README line failed on the tiny model: $line"; echo "$log" | tail -5; continue; }
    ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$out_file" | tr '\n' ' ' | grep -q "h264 aac" ||
      bad "README line did not write an H.264 + AAC MP4: $line"
    nrun=$((nrun + 1))
  elif [[ "$line" == *lavr* ]]; then
    bad "README command line not covered by this test: $line"
  fi
done <<<"$commands"

# the layout table: each cell says what `lavr plan --gpus N --gpu-mem M` picks in bf16 and, where it
# names one, with --fp8 ("does not fit": neither finds a layout); -np must be the layout's rank count
pick() { # GPUS MEM [--fp8] -> the layout without its default keys, or nothing
  "$lavr" plan --gpus "$1" --gpu-mem "$2" ${3:---bf16} | sed -n 's/^fastest that fits: \([^ ]*\) .*/\1/p' |
    sed 's/,tp=1//; s/,pp=1//; s/,aux=1//'
}
ranks() { # LAYOUT -> S*T*P + 1
  local s=1 t=1 p=1 kv
  for kv in ${1//,/ }; do case $kv in steps=*) s=${kv#*=} ;; tp=*) t=${kv#*=} ;; pp=*) p=${kv#*=} ;; esac; done
  echo $((s * t * p + 1))
}
row_re='^\| ([0-9]+) \| (.*) \|$'
mems=(24GB 48GB 80GB 141GB)
while IFS= read -r row; do
  [[ "$row" =~ $row_re ]] || continue
  gpus=${BASH_REMATCH[1]}
  IFS='|' read -r -a cells <<<"${BASH_REMATCH[2]}"
  for i in 0 1 2 3; do
    cell=${cells[$i]} want_bf16="" want_fp8="-" np=""
    IFS=';' read -r -a parts <<<"$cell"
    for part in "${parts[@]}"; do
      layout=$(grep -o 'steps=[a-z0-9=,+]*' <<<"$part")
      np=$(sed -n 's/.*(-np \([0-9]*\)).*/\1/p' <<<"$part")
      [ -n "$np" ] && [ "$np" != "$(ranks "$layout")" ] && bad "table: $gpus GPUs x ${mems[$i]}: $layout needs -np $(ranks "$layout"), not $np"
      if [[ "$part" == *"--fp8"* ]]; then want_fp8=$layout; elif [ -n "$layout" ]; then want_bf16=$layout; fi
    done
    [[ "$cell" == *"does not fit"* ]] && want_fp8=""
    got=$(pick "$gpus" "${mems[$i]}")
    [ "$got" = "$want_bf16" ] || bad "table: $gpus GPUs x ${mems[$i]}: lavr plan picks '${got:-nothing}', the README says '$cell'"
    if [ "$want_fp8" != "-" ]; then
      got=$(pick "$gpus" "${mems[$i]}" --fp8)
      [ "$got" = "$want_fp8" ] || bad "table: $gpus GPUs x ${mems[$i]} --fp8: lavr plan picks '${got:-nothing}', the README says '$cell'"
    fi
  done
  nrun=$((nrun + 1))
done < <(sed -n '/^## Which layout for my GPUs/,/^## [A-Z]/p' "$readme" | sed 1d)

echo "README examples: $nrun run, $nchecked checked against --help"
[ "$fail" = 0 ] && echo "readme-examples-ok"
exit $fail
