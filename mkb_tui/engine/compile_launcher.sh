#!/bin/sh
# Compiler launcher for MNN builds: ccache for MNN's own files; the candidate's files are always compiled for real,
# so a build can never answer for an untrusted kernel from a cache entry. The files the judge reads
# (MKB_JUDGED_SOURCES, colon-separated) are compiled with -save-temps=obj: the build leaves the translation unit
# exactly as its preprocessor produced it (.ii), which the judge checks instead of the text the model wrote.
if [ -n "${MKB_JUDGED_SOURCES:-}" ]; then
  for arg in "$@"; do
    case ":$MKB_JUDGED_SOURCES:" in
      *":$arg:"*) [ -n "$arg" ] && exec "$@" -save-temps=obj ;;
    esac
  done
fi
for arg in "$@"; do
  case "$arg" in
    *MKBCandidate.cpp|*MKBDispatch.cpp|*MKBCombiner.cpp) exec "$@" ;;
  esac
done
exec ccache "$@"
