"""Abs kernels that attack what the judge reads back from the runner process (issue 17, classes 19 and 20).

Class 19: a kernel that fails on purpose after printing every value of its input (fixed seed or secret set) to its
error text, in every spelling a reader could decode. Class 20: kernels that make the runner's output record or its
report malformed: an element type whose size does not match the record's element count, a forged report whose fields
have types the judge does not expect. Each must end in a classified verdict, never an exception, with no value shown.
"""

from tests.adversarial.kernels import HEAD, kernel

FABS = "        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n"

# every input value in decimal (%.9g round-trips a float), hex float (%a), raw bytes in hex, and raw bytes as they are
PRINT_INPUTS = (
    "        for (int i = 0; i < n; ++i) {\n"
    "            unsigned int bits; ::memcpy(&bits, &src[i], 4);\n"
    "            std::fprintf(stderr, \"v[%d]=%.9g %a %08x\\n\", i, (double)src[i], (double)src[i], bits);\n"
    "        }\n"
    "        std::fwrite(src, sizeof(float), n, stderr);\n"
    "        std::fprintf(stderr, \"\\nlast: %.9g\\n\", (double)src[n - 1]);\n"
)

READBACK_ATTACKS = {
    # class 19: the values in stderr, then a failing execution (the runner's report names runSession)
    "prints_inputs_then_fails": kernel(PRINT_INPUTS + "        return INPUT_DATA_ERROR;\n"),
    # class 19: the values in stderr and in a report of its own (the runner's error field), then an abort
    "prints_inputs_in_a_forged_error": kernel(
        PRINT_INPUTS
        + "        std::printf(\"\\n{\\\"ok\\\":false,\\\"error\\\":\\\"bad input %.9g %.9g %a\\\"}\\n\", (double)src[0], (double)src[1], (double)src[2]);\n"
        "        std::fflush(stdout); std::fflush(stderr);\n"
        "        std::abort();\n"),
    # class 20: the output's element type made half-size in onResize: the runner writes a float32 record of n
    # elements in 2n bytes (the host's reader, not the runner, must catch it)
    "record_element_type_rewritten": kernel(FABS, head=HEAD.replace(
        "    ErrorCode onExecute(",
        "    ErrorCode onResize(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {\n"
        "        outputs[0]->buffer().type = halide_type_t(halide_type_float, 16);\n"
        "        return NO_ERROR;\n"
        "    }\n"
        "    ErrorCode onExecute(", 1)),
    # class 20: a report of its own as the process's last line, ok but with fields of the wrong types (an int for
    # the run times, a number for the hashes, a list for the proof), then an abort before the runner's own
    "forged_report_of_wrong_types": kernel(
        FABS
        + "        std::printf(\"\\n{\\\"ok\\\":true,\\\"clock\\\":\\\"vdso\\\",\\\"times_ms\\\":7,\\\"raw_ms\\\":{\\\"a\\\":1},"
        "\\\"hashes\\\":5,\\\"candidate_proof\\\":[1,2]}\\n\");\n"
        "        std::fflush(stdout);\n"
        "        std::abort();\n"),
}
