"""mkb-tui: MobileKernelBench, the MoKA agent and a terminal bench for LLM-written MNN kernels."""

__version__ = "0.1.0"
