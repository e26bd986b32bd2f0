#!/bin/sh
wc -c "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/size.json"
