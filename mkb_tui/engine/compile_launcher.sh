#!/bin/sh
# Compiler launcher for MNN builds. The candidate's files (the MKB* slot files, and MKB_CANDIDATE_FILES: a geometry
# candidate's) are always compiled for real, so a build can never answer for an untrusted kernel from a cache entry;
# MNN's own files, and the dispatcher the harness generates from the slot alone (MKBDispatch.cpp: one text per task,
# so a task seen before costs no compile), go through ccache. The files the judge reads (MKB_JUDGED_SOURCES, colon-separated) are compiled with
# -save-temps=obj: the build leaves the translation unit exactly as its preprocessor produced it (.ii), which the
# judge checks instead of the text the model wrote. In a workspace (MKB_*_SANDBOX set by the harness) every compiler
# runs contained: the candidate's and the judged files in the strict sandbox with tight limits, MNN's through ccache's
# prefix command, so that ccache itself (and its cache) stays outside while the compiler it starts runs inside.
candidate=
judged=
for arg in "$@"; do
  case "$arg" in
    *MKBCandidate.cpp|*MKBCombiner.cpp) candidate=1 ;;
  esac
  if [ -n "${MKB_CANDIDATE_FILES:-}" ] && [ -n "$arg" ]; then
    case ":$MKB_CANDIDATE_FILES:" in
      *":$arg:"*) candidate=1 ;;
    esac
  fi
  if [ -n "${MKB_JUDGED_SOURCES:-}" ] && [ -n "$arg" ]; then
    case ":$MKB_JUDGED_SOURCES:" in
      *":$arg:"*) judged=1 ;;
    esac
  fi
done
if [ -n "$judged" ]; then
  candidate=1
  set -- "$@" -save-temps=obj
fi
# a CPU candidate's file: MNN's backend header first, precompiled by the harness (engine/prelude.py)
if [ -n "${MKB_CANDIDATE_PRELUDE:-}" ] && [ -n "$candidate" ]; then
  for arg in "$@"; do
    case "$arg" in
      *MKBCandidate.cpp) set -- "$@" -include "$MKB_CANDIDATE_PRELUDE"; break ;;
    esac
  done
fi
if [ -n "$candidate" ]; then
  if [ -n "${MKB_CANDIDATE_SANDBOX:-}" ]; then
    exec "$MKB_CANDIDATE_SANDBOX" "$@"
  fi
  if [ -z "${MKB_UNCONTAINED:-}" ]; then
    echo "mkb: error: a candidate's file outside a workspace build (no compile sandbox): refused" >&2
    exit 1
  fi
  exec "$@"
fi
if [ -n "${MKB_COMPILE_SANDBOX:-}" ]; then
  CCACHE_PREFIX="$MKB_COMPILE_SANDBOX"
  CCACHE_PREFIX_CPP="$MKB_COMPILE_SANDBOX"
  export CCACHE_PREFIX CCACHE_PREFIX_CPP
fi
exec ccache "$@"
