"""Build targets: how MNN and the runner are configured for each (host, aarch64)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

# Everything but the CPU backend is off: fewer files to build, nothing downloaded at configure time.
COMMON_FLAGS = {
    "CMAKE_BUILD_TYPE": "Release",
    "MNN_BUILD_CONVERTER": "OFF",
    "MNN_BUILD_TOOLS": "OFF",
    "MNN_BUILD_TEST": "OFF",
    "MNN_BUILD_BENCHMARK": "OFF",
    "MNN_BUILD_DEMO": "OFF",
    "MNN_BUILD_TRAIN": "OFF",
    "MNN_BUILD_LLM": "OFF",
    "MNN_BUILD_OPENCV": "OFF",
    "MNN_BUILD_AUDIO": "OFF",
    "MNN_KLEIDIAI": "OFF",  # ON downloads KleidiAI during configure
    "MNN_OPENCL": "OFF",
    "MNN_VULKAN": "OFF",
    "MNN_METAL": "OFF",
    "MNN_CUDA": "OFF",
    "MNN_OPENMP": "OFF",
    "MNN_USE_THREAD_POOL": "ON",
    "MNN_SEP_BUILD": "OFF",
    "MNN_PORTABLE_BUILD": "ON",
}

# Baseline and candidate libraries differ in where the linker puts each function, and a tight loop's speed depends on
# that (measured on this machine: MNN's own float->int32 Cast loop 13.4 us vs 7.7 us for byte-identical code at two
# addresses, the slower one straddling a 64-byte line). Aligning loops and functions to 64 bytes in both builds
# takes placement out of the speedup.
PLACEMENT_FLAGS = "-falign-functions=64 -falign-loops=64"
RUNTIME_FLAGS = {"CMAKE_C_FLAGS": PLACEMENT_FLAGS, "CMAKE_CXX_FLAGS": PLACEMENT_FLAGS}


@dataclass(frozen=True)
class Target:
    name: str
    cmake_flags: dict[str, str]
    compiler: str  # C++ compiler used for the runner
    static: bool = False  # static runner: one file to push, runs on Android as it is
    emulator: tuple[str, ...] = ()  # how to run its executables here, if not natively
    description: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def missing_tools(self) -> list[str]:
        tools = ["cmake", "ninja", self.compiler, *self.emulator[:1]]
        return [t for t in tools if shutil.which(t) is None]


def fast_linker_flags() -> dict[str, str]:
    """GNU gold where the toolchain has it: it links libMNN.so in 0.1 s where ld.bfd takes 0.5 s, and each candidate
    relinks it. The pristine library is linked the same way, so both sides of a timing share the linker."""
    if not shutil.which("ld.gold") or os.environ.get("MKB_LINKER") == "bfd":
        return {}
    return {"CMAKE_SHARED_LINKER_FLAGS": "-fuse-ld=gold", "CMAKE_EXE_LINKER_FLAGS": "-fuse-ld=gold"}


def host_target() -> Target:
    linker = fast_linker_flags()
    # MNN's assembly carries no .note.GNU-stack: without this its library asks for an executable stack, which glibc
    # grants the whole runner process (where a kernel could write code and run it)
    linker["CMAKE_SHARED_LINKER_FLAGS"] = (linker.get("CMAKE_SHARED_LINKER_FLAGS", "") + " -Wl,-z,noexecstack").strip()
    return Target(
        name="host",
        cmake_flags={**COMMON_FLAGS, **RUNTIME_FLAGS, **linker, "MNN_BUILD_SHARED_LIBS": "ON", "MNN_AVX512": "OFF"},
        compiler=os.environ.get("CXX", "g++"),
        description="this machine (x86-64 SSE/AVX2 or native arm64)",
    )


def aarch64_target() -> Target:
    ndk = os.environ.get("ANDROID_NDK_HOME")
    flags = {
        **COMMON_FLAGS,
        **RUNTIME_FLAGS,
        "MNN_USE_SSE": "OFF",
        "MNN_ARM82": "ON",
        "MNN_BUILD_SHARED_LIBS": "OFF",
    }
    if ndk:
        flags |= {
            "CMAKE_TOOLCHAIN_FILE": f"{ndk}/build/cmake/android.toolchain.cmake",
            "ANDROID_ABI": "arm64-v8a",
            "ANDROID_PLATFORM": f"android-{os.environ.get('MKB_ANDROID_API', '21')}",
            "ANDROID_STL": "c++_static",
        }
        compiler = f"{ndk}/toolchains/llvm/prebuilt/linux-x86_64/bin/clang++"
        return Target("aarch64", flags, compiler, static=True, description=f"Android arm64 (NDK {ndk})")
    flags |= {
        "CMAKE_SYSTEM_NAME": "Linux",
        "CMAKE_SYSTEM_PROCESSOR": "aarch64",
        "CMAKE_C_COMPILER": "aarch64-linux-gnu-gcc",
        "CMAKE_CXX_COMPILER": "aarch64-linux-gnu-g++",
    }
    return Target(
        "aarch64",
        flags,
        "aarch64-linux-gnu-g++",
        static=True,
        emulator=("qemu-aarch64",),
        description="aarch64 Linux, static (Debian cross compiler); runs on phones and under qemu",
    )


def converter_target() -> Target:
    """MNN's model converter, built from source for this machine: combiner candidates are compiled into it.
    Only the `MNNConvert` target of this configuration is ever built."""
    host = host_target()
    plain = {k: v for k, v in host.cmake_flags.items() if k not in RUNTIME_FLAGS and k not in fast_linker_flags()}  # not timed
    return Target(
        name="converter",
        cmake_flags={**plain, "MNN_BUILD_CONVERTER": "ON", "MNN_BUILD_PROTOBUFFER": "ON", "MNN_BUILD_TORCH": "OFF"},
        compiler=host.compiler,
        description="MNN's converter (MNNConvert) for this machine",
    )


def get_target(name: str) -> Target:
    if name == "host":
        return host_target()
    if name == "converter":
        return converter_target()
    if name == "aarch64":
        return aarch64_target()
    from mkb_tui.errors import ConfigError

    raise ConfigError(f"unknown build target {name!r} (host, aarch64, converter)")
