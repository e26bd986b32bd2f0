#!/bin/bash
set -euo pipefail
if [[ -f "$INPUT_FILE_PATH" ]]; then
  echo ok
fi
