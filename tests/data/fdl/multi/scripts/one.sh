#!/bin/sh
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"
