#!/usr/bin/env bash
# `make demo`: the main job on embedded defaults.
#   1. ingest the sample contract (PDF + DOCX, generated from samples/) or $DEMO_DOCS
#   2. list documents, run a hybrid search that shows pages
#   3. ask a question: the local vLLM CPU server is started if needed, the
#      answer streams with verified citations (document, page, quote)
#   4. a playbook risk review of the first document
# DEMO_NO_LLM=1 runs every step without starting the LLM: `ask --no-start`
# answers from the retrieved evidence only (tests/e2e/test_demo.py uses it).
# The demo stops, when it ends (or is interrupted), the LLM it started;
# DEMO_KEEP_LLM=1 keeps it running, and the last line says so.
set -euo pipefail
cd "$(dirname "$0")/.."
KB=${1:-dossier-data}; shift || true
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 VLLM_NO_USAGE_STATS=1
D=".venv/bin/dossier"
if [ $# -gt 0 ]; then
  DOCS=("$@")
else
  [ -f samples/master-services-agreement.pdf ] && [ -f samples/master-services-agreement.docx ] \
    || .venv/bin/python samples/make_samples.py
  DOCS=(samples/master-services-agreement.pdf samples/master-services-agreement.docx)
fi
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
llm_field() {  # state | pid | memory_mb of the machine's embedded LLM
  $D llm status --kb "$KB" --json 2>/dev/null | tail -n 1 \
    | .venv/bin/python -c "import json,sys; print(json.load(sys.stdin).get('$1'))" 2>/dev/null || echo unknown
}
LLM_BEFORE=$(llm_field state)
finish() {
  [ "$(llm_field state)" = running ] || return 0
  local pid mem
  pid=$(llm_field pid); mem=$(llm_field memory_mb)
  if [ "$LLM_BEFORE" != running ] && [ "${DEMO_KEEP_LLM:-0}" != 1 ]; then
    $D llm stop --kb "$KB" >/dev/null
    printf '\nStopped the embedded LLM the demo started (pid %s, %s MB).\n' "$pid" "$mem"
  else
    printf '\nThe embedded LLM is still running (pid %s, %s MB); stop it with: %s llm stop --kb %s\n' \
      "$pid" "$mem" "$D" "$KB"
  fi
}
trap finish EXIT
trap 'exit 130' INT TERM

step "dossier ingest ${DOCS[*]} --kb $KB"
$D ingest "${DOCS[@]}" --kb "$KB" || echo "(some files failed; see the table above)"

step "dossier documents --kb $KB"
$D documents --kb "$KB"

step "dossier search \"Which law governs the agreement?\" --k 3"
$D search "Which law governs the agreement?" --k 3 --kb "$KB"

if $D ask --help >/dev/null 2>&1; then
  ASK_FLAGS=()
  if [ "${DEMO_NO_LLM:-0}" = 1 ]; then
    ASK_FLAGS=(--no-start)
    step "dossier ask --no-start (DEMO_NO_LLM=1: evidence only, no LLM started)"
  else
    step "dossier ask (starts the local vLLM server on first use: ~2-5 min cold)"
  fi
  $D ask "Which law governs the agreement, and can the customer terminate for convenience?" \
    --kb "$KB" "${ASK_FLAGS[@]}"
fi

if $D review --help >/dev/null 2>&1; then
  FIRST=$($D documents --kb "$KB" --json | tail -n 1 | .venv/bin/python -c 'import json,sys; d=json.load(sys.stdin); print(d[-1]["id"] if d else "")')
  if [ -n "$FIRST" ]; then
    step "dossier review $FIRST"
    $D review "$FIRST" --kb "$KB" --markdown
  fi
fi
