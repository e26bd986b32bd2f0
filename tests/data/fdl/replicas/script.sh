#!/bin/sh
python3 detect.py "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR"
