// The model directories and reference logits written by tools/reference/
// make_reference_models.py (a ctest fixture runs it into the build tree), shared by the engine
// and server tests that hold our logits against them.
#ifndef GHOST_TESTS_ENGINE_REFERENCE_DATA_H_
#define GHOST_TESTS_ENGINE_REFERENCE_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ghost::testing {

// The generated directories (the names make_reference_models.py writes).
const std::vector<std::string>& ReferenceModelNames();
// GHOST_REFERENCE_DIR/<name>.
std::string ReferenceModelDir(const std::string& name);

struct ReferenceRun {
  std::vector<std::int32_t> tokens;  // prompt, then the reference's greedy continuation
  int prompt_tokens = 0;
  int vocab_size = 0;
  std::string architecture;
  std::string dtype;           // "float32" or "bfloat16": the stored weights
  std::vector<double> logits;  // [tokens.size(), vocab_size], float64 forward
};

// Reads reference.json and reference_logits.bin; throws std::runtime_error when they are
// missing or inconsistent.
ReferenceRun ReadReferenceRun(const std::string& directory);

// The bound the logits must meet: 1e-4 for fp32 weights, 1e-2 for bf16.
double ReferenceTolerance(const std::string& dtype);

// max |ours - ref| / max |ref| over the given values: the error relative to the scale of the
// reference logits, so that values near zero do not dominate.
double MaxRelativeError(const float* ours, const double* ref, std::size_t count);

// log_softmax of one row of logits, in double.
std::vector<double> LogSoftmax(const double* logits, int vocab);

}  // namespace ghost::testing

#endif  // GHOST_TESTS_ENGINE_REFERENCE_DATA_H_
