// ghostbench gpu: on CUDA device 0, in one run, the device-to-device copy bandwidth and the
// pinned host-to-device bandwidth (measured), the small-batch matvec kernels' weight GB/s and
// their ratio to the D2D bandwidth for bf16, ternary (2-bit and base-3) and the codebook at
// 4096x14336 and 14336x4096 and batch 1, 8 and 32, and decode tokens/s of a random
// Llama-3-8B-shape model (bf16 and ternary, batch 1 and 64) with its weight GB/s over D2D, at
// weight budgets of 100%, 50% and 25% of the decoder layers (the embedding and head stay
// resident; the layers past the budget stream from pinned host memory), with the achieved stream
// GB/s over the measured pinned H2D bandwidth and the overlap ratio.
// D2D bandwidth counts bytes read plus bytes written (what the memory moved). Weight copies are
// rotated past the L2 cache so that each call reads its weights from memory. Without a device it
// reports "no device" and exits 0.
#include "bench/gpu_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/subcommands.h"
#include "engine/common/status_macros.h"
#include "engine/compress/fp16.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/cuda_device.h"
#include "kernels/cuda/cuda_memory.h"
#include "kernels/cuda/matvec.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

namespace kc = kernels::cuda;

struct Options {
  bool json = false;
  bool quick = false;  // small shapes and buffers: a smoke run
};

// Milliseconds per call of `body` (issued on `stream`), timed with events over `calls` calls.
template <typename Body>
absl::StatusOr<double> TimeCalls(kc::StreamHandle stream, int calls, Body body) {
  absl::StatusOr<kc::Event> start = kc::Event::Create(/*timing=*/true);
  absl::StatusOr<kc::Event> stop = kc::Event::Create(/*timing=*/true);
  if (!start.ok()) return start.status();
  if (!stop.ok()) return stop.status();
  for (int i = 0; i < 2; ++i) {
    if (absl::Status s = body(i); !s.ok()) return s;  // warm-up
  }
  if (absl::Status s = start->Record(stream); !s.ok()) return s;
  for (int i = 0; i < calls; ++i) {
    if (absl::Status s = body(i); !s.ok()) return s;
  }
  if (absl::Status s = stop->Record(stream); !s.ok()) return s;
  if (absl::Status s = stop->Synchronize(); !s.ok()) return s;
  absl::StatusOr<float> ms = stop->MillisecondsSince(*start);
  if (!ms.ok()) return ms.status();
  return *ms / calls;
}

// Random weights of `format` ([rows, cols], block 64 for low-bit) in device memory, `copies` of
// them back to back.
struct DeviceMatrices {
  std::vector<kc::DeviceBuffer> buffers;
  std::vector<kc::DeviceWeights> weights;
  double bytes = 0;  // one copy's weight bytes (codes, scales, codebook)
};

absl::StatusOr<DeviceMatrices> MakeMatrices(WeightFormat format, std::size_t rows, std::size_t cols,
                                            int copies, std::mt19937& rng) {
  DeviceMatrices out;
  std::vector<std::uint8_t> data;
  std::vector<std::uint16_t> scales, codebook;
  kc::DeviceWeights w;
  w.format = format;
  w.rows = rows;
  w.cols = cols;
  if (format == WeightFormat::kBF16) {
    data.resize(rows * cols * 2);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (std::size_t i = 0; i < rows * cols; ++i) {
      const std::uint16_t bits = kernels::F32ToBf16(normal(rng));
      data[2 * i] = static_cast<std::uint8_t>(bits);
      data[2 * i + 1] = static_cast<std::uint8_t>(bits >> 8);
    }
  } else {
    w.block_size = 64;
    data.resize(rows * w.code_bytes_per_row());
    std::uniform_int_distribution<int> trit(0, 2), base3(0, 242), any(0, 255);
    for (auto& byte : data) {
      byte = static_cast<std::uint8_t>(format == WeightFormat::kTernaryBase3 ? base3(rng)
                                       : format == WeightFormat::kCodebook2Bit
                                           ? any(rng)
                                           : trit(rng) | trit(rng) << 2 | trit(rng) << 4 |
                                                 trit(rng) << 6);
    }
    scales.assign(rows * w.blocks_per_row(), compress::F32ToF16(0.01f));
    if (format == WeightFormat::kCodebook2Bit) {
      w.codebook_group_rows = rows;
      for (float e : {-1.5f, -0.5f, 0.5f, 1.5f}) codebook.push_back(compress::F32ToF16(e));
    }
  }
  out.bytes = static_cast<double>(data.size() + 2 * (scales.size() + codebook.size()));
  for (int c = 0; c < copies; ++c) {
    kc::DeviceWeights copy = w;
    for (auto* part :
         {static_cast<const void*>(data.data()), static_cast<const void*>(scales.data()),
          static_cast<const void*>(codebook.data())}) {
      const std::size_t bytes = part == data.data()     ? data.size()
                                : part == scales.data() ? scales.size() * 2
                                                        : codebook.size() * 2;
      absl::StatusOr<kc::DeviceBuffer> buffer = kc::DeviceBuffer::Allocate(bytes);
      if (!buffer.ok()) return buffer.status();
      if (absl::Status s = kc::CopyToDevice(buffer->data(), part, bytes, nullptr); !s.ok()) {
        return s;
      }
      if (part == data.data()) copy.data = buffer->data();
      if (part == scales.data()) copy.scales = buffer->as<std::uint16_t>();
      if (part == codebook.data()) copy.codebook = buffer->as<std::uint16_t>();
      out.buffers.push_back(*std::move(buffer));
    }
    out.weights.push_back(copy);
  }
  if (absl::Status s = kc::Stream().Synchronize(); !s.ok()) return s;
  return out;
}

absl::Status Run(const Options& options, nlohmann::json& out) {
  GHOST_RETURN_IF_ERROR(kc::SetDevice(0));
  absl::StatusOr<kc::DeviceProperties> props = kc::GetDeviceProperties(0);
  if (!props.ok()) return props.status();
  out["device"] = props->name;
  out["cuda_runtime"] = kc::RuntimeVersion();
  absl::StatusOr<kc::Stream> stream = kc::Stream::Create();
  if (!stream.ok()) return stream.status();
  const kc::StreamHandle handle = stream->handle();

  // Bandwidths.
  const std::size_t copy_bytes = options.quick ? (64u << 20) : (1u << 30);
  absl::StatusOr<kc::DeviceBuffer> from = kc::DeviceBuffer::Allocate(copy_bytes);
  absl::StatusOr<kc::DeviceBuffer> to = kc::DeviceBuffer::Allocate(copy_bytes);
  absl::StatusOr<kc::PinnedBuffer> pinned = kc::PinnedBuffer::Allocate(copy_bytes);
  if (!from.ok()) return from.status();
  if (!to.ok()) return to.status();
  if (!pinned.ok()) return pinned.status();
  absl::StatusOr<double> d2d_ms = TimeCalls(handle, 10, [&](int) {
    return kc::CopyOnDevice(to->data(), from->data(), copy_bytes, handle);
  });
  if (!d2d_ms.ok()) return d2d_ms.status();
  absl::StatusOr<double> h2d_ms = TimeCalls(handle, 10, [&](int) {
    return kc::CopyToDevice(to->data(), pinned->data(), copy_bytes, handle);
  });
  if (!h2d_ms.ok()) return h2d_ms.status();
  const double d2d_gbps = 2.0 * copy_bytes / (*d2d_ms * 1e-3) / 1e9;
  out["d2d_gbps"] = d2d_gbps;
  out["h2d_gbps"] = copy_bytes / (*h2d_ms * 1e-3) / 1e9;

  // Matvec.
  std::mt19937 rng(1);
  out["matvec"] = nlohmann::json::array();
  const std::vector<std::pair<std::size_t, std::size_t>> shapes =
      options.quick
          ? std::vector<std::pair<std::size_t, std::size_t>>{{256, 1024}, {1024, 256}}
          : std::vector<std::pair<std::size_t, std::size_t>>{{4096, 14336}, {14336, 4096}};
  const std::size_t rotate_bytes = options.quick ? (8u << 20) : (512u << 20);  // >> L2
  for (WeightFormat format : {WeightFormat::kBF16, WeightFormat::kTernary2Bit,
                              WeightFormat::kTernaryBase3, WeightFormat::kCodebook2Bit}) {
    for (const auto& [rows, cols] : shapes) {
      const double one = static_cast<double>(BytesPerRow(format, cols, 64)) * rows;
      const int copies = static_cast<int>(std::max(1.0, std::ceil(rotate_bytes / one)));
      absl::StatusOr<DeviceMatrices> matrices = MakeMatrices(format, rows, cols, copies, rng);
      if (!matrices.ok()) return matrices.status();
      for (std::size_t batch : {1, 8, 32}) {
        absl::StatusOr<kc::DeviceBuffer> x = kc::DeviceBuffer::Allocate(batch * cols * 4);
        absl::StatusOr<kc::DeviceBuffer> y = kc::DeviceBuffer::Allocate(batch * rows * 4);
        if (!x.ok()) return x.status();
        if (!y.ok()) return y.status();
        GHOST_RETURN_IF_ERROR(kc::ZeroOnDevice(x->data(), batch * cols * 4, handle));
        absl::StatusOr<double> ms = TimeCalls(handle, 4 * copies, [&](int i) {
          return kc::Matvec(x->as<float>(), batch, matrices->weights[i % copies], y->as<float>(),
                            handle);
        });
        if (!ms.ok()) return ms.status();
        const double gbps = matrices->bytes / (*ms * 1e-3) / 1e9;
        out["matvec"].push_back({{"format", WeightFormatName(format)},
                                 {"rows", rows},
                                 {"cols", cols},
                                 {"batch", batch},
                                 {"microseconds", *ms * 1e3},
                                 {"gbps", gbps},
                                 {"ratio_to_d2d", gbps / d2d_gbps}});
      }
    }
  }

  // Decode: resident, then with the layers past a 50% and a 25% weight budget streamed.
  out["decode"] = nlohmann::json::array();
  const double h2d_gbps = out["h2d_gbps"].get<double>();
  for (const char* format : {"bf16", "ternary-2bit"}) {
    absl::StatusOr<std::vector<GpuDecodeResult>> rows =
        RunGpuDecode(format, {100, 50, 25}, {1, 64}, options.quick ? 4 : 12, options.quick);
    if (!rows.ok()) return rows.status();
    for (const GpuDecodeResult& r : *rows) {
      nlohmann::json row = {{"format", r.format},
                            {"batch", r.batch},
                            {"weight_budget_percent", r.weight_budget_percent},
                            {"tokens_per_second", r.tokens_per_second},
                            {"step_seconds", r.step_seconds},
                            {"weight_bytes_per_step", r.weight_bytes_per_step},
                            {"gbps", r.gbps},
                            {"ratio_to_d2d", r.gbps / d2d_gbps}};
      if (r.streamed_layers > 0) {
        const auto resident = std::find_if(rows->begin(), rows->end(), [&r](const auto& o) {
          return o.batch == r.batch && o.weight_budget_percent == 100;
        });
        row["streamed_layers"] = r.streamed_layers;
        row["stream_bytes_per_step"] = r.stream_bytes_per_step;
        row["stream_gbps"] = r.stream_gbps;
        row["stream_ratio_to_h2d"] = r.stream_gbps / h2d_gbps;
        row["copy_seconds"] = r.copy_seconds;
        row["wait_seconds"] = r.wait_seconds;
        // The streamer's own figure, 1 - forward wait / copy time: the forward's host thread runs
        // ahead of the device, so its wait also covers device compute; a lower bound here.
        row["overlap_ratio"] =
            r.copy_seconds > 0 ? std::clamp(1.0 - r.wait_seconds / r.copy_seconds, 0.0, 1.0) : 1.0;
        // From step times: the share of the shorter of (resident step, the step's bytes at the
        // measured H2D bandwidth) that the streamed step hid: 1 when it takes the longer of
        // the two, 0 when it takes their sum.
        if (resident != rows->end()) {
          const double compute = resident->step_seconds;
          const double copy = r.stream_bytes_per_step / (h2d_gbps * 1e9);
          row["copy_bound"] = copy > compute;
          row["overlap_ratio_timing"] =
              std::clamp((compute + copy - r.step_seconds) / std::min(compute, copy), 0.0, 1.0);
        }
      }
      out["decode"].push_back(row);
    }
  }
  return absl::OkStatus();
}

}  // namespace

int RunGpu(int argc, char** argv) {
  Options options;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--quick") {
      options.quick = true;
    } else {
      std::fprintf(stderr, "usage: ghostbench gpu [--json] [--quick]\n");
      return 2;
    }
  }
  nlohmann::json out;
  if (kernels::CudaDeviceCount() == 0) {
    out["skipped"] = absl::StrCat(
        "no device: this machine has no usable CUDA device (compiled "
        "with CUDA: ",
        kernels::CudaCompiled() ? "yes" : "no", ")");
    std::printf("%s\n",
                options.json ? out.dump(2).c_str() : out["skipped"].get<std::string>().c_str());
    return 0;
  }
  if (absl::Status s = Run(options, out); !s.ok()) {
    std::fprintf(stderr, "ghostbench gpu: %s\n", s.ToString().c_str());
    return 1;
  }
  if (options.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%s: D2D %.0f GB/s (read + write), pinned H2D %.1f GB/s\n",
              out["device"].get<std::string>().c_str(), out["d2d_gbps"].get<double>(),
              out["h2d_gbps"].get<double>());
  std::printf("%-14s %-12s %5s %10s %8s %7s\n", "matvec", "rows x cols", "batch", "us", "GB/s",
              "/ D2D");
  for (const auto& r : out["matvec"]) {
    std::printf(
        "%-14s %5zux%-6zu %5zu %10.1f %8.0f %7.2f\n", r["format"].get<std::string>().c_str(),
        r["rows"].get<std::size_t>(), r["cols"].get<std::size_t>(), r["batch"].get<std::size_t>(),
        r["microseconds"].get<double>(), r["gbps"].get<double>(), r["ratio_to_d2d"].get<double>());
  }
  std::printf("%-14s %6s %5s %10s %8s %7s %12s %7s %8s\n", "decode (8B)", "budget", "batch",
              "tokens/s", "GB/s", "/ D2D", "stream GB/s", "/ H2D", "overlap");
  for (const auto& r : out["decode"]) {
    std::printf("%-14s %5d%% %5d %10.1f %8.0f %7.2f", r["format"].get<std::string>().c_str(),
                r["weight_budget_percent"].get<int>(), r["batch"].get<int>(),
                r["tokens_per_second"].get<double>(), r["gbps"].get<double>(),
                r["ratio_to_d2d"].get<double>());
    if (r.contains("stream_gbps")) {
      std::printf(" %12.1f %7.2f %8.2f", r["stream_gbps"].get<double>(),
                  r["stream_ratio_to_h2d"].get<double>(),
                  r.value("overlap_ratio_timing", r["overlap_ratio"].get<double>()));
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace ghost::bench
