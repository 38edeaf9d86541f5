#!/usr/bin/env python3
"""A fake ONNX-to-TFLite converter with onnx2tf's command line (`-i MODEL -o OUTDIR`) and
outputs (`<name>_float32.tflite` and `<name>_float16.tflite`): it copies the model's bytes,
so that no TensorFlow is needed. FAKE_CONVERT_FAIL makes it fail as on an unsupported model.
"""
import argparse
import os
import shutil
import sys

ap = argparse.ArgumentParser()
ap.add_argument("-i", required=True)
ap.add_argument("-o", required=True)
a = ap.parse_args()
print("Model optimizing started", flush=True)
if os.environ.get("FAKE_CONVERT_FAIL"):
    print("ERROR: The trace log is below.", file=sys.stderr)
    print("ValueError: Unsupported ONNX op: AveragePool with count_include_pad=0", file=sys.stderr)
    sys.exit(1)
name = os.path.splitext(os.path.basename(a.i))[0]
os.makedirs(a.o, exist_ok=True)
shutil.copyfile(a.i, os.path.join(a.o, f"{name}_float32.tflite"))
with open(os.path.join(a.o, f"{name}_float16.tflite"), "wb") as f:
    f.write(b"half")
print("Float32 tflite output complete!")
