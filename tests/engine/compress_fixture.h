// The compressor run as engine tests use it, on tiny random models.
#ifndef GHOST_TESTS_ENGINE_COMPRESS_FIXTURE_H_
#define GHOST_TESTS_ENGINE_COMPRESS_FIXTURE_H_

#include <cstddef>
#include <string>

#include "engine/compressor/model_compressor.h"

namespace ghost::testing {

// Runs `job` (source, output, scheme and options as the caller set them) with a calibration text
// of an English pangram repeated to `calibration_bytes`, never cancelled. A failure is a test
// failure (the caller's load of the output then fails too). Returns job.output_dir.
std::string CompressForTest(compress::CompressJobSpec job, std::size_t calibration_bytes = 2000);

}  // namespace ghost::testing

#endif  // GHOST_TESTS_ENGINE_COMPRESS_FIXTURE_H_
