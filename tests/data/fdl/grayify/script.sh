#!/bin/sh
FILE_NAME=`basename "$INPUT_FILE_PATH"`
OUTPUT_FILE="$TMP_OUTPUT_DIR/$FILE_NAME"
echo "SCRIPT: Invoked convert. File available in $INPUT_FILE_PATH"
convert "$INPUT_FILE_PATH" -type Grayscale -quality "$QUALITY" "$OUTPUT_FILE"
