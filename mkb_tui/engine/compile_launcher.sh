#!/bin/sh
# Compiler launcher for MNN builds: ccache for MNN's own files; the candidate's files are always compiled for real,
# so a build can never answer for an untrusted kernel from a cache entry.
for arg in "$@"; do
  case "$arg" in
    *MKBCandidate.cpp|*MKBDispatch.cpp|*MKBCombiner.cpp) exec "$@" ;;
  esac
done
exec ccache "$@"
