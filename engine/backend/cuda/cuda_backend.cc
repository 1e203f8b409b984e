#include "engine/backend/cuda/cuda_backend.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/backend/cuda/cuda_backend_impl.h"
#include "engine/backend/device_info.h"
#include "kernels/cuda/elementwise.h"

namespace ghost {
namespace cuda_backend {

Lane& CudaBackend::ThisLane() {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Lane>& lane = lanes_[std::this_thread::get_id()];
  if (lane == nullptr) lane = std::make_unique<Lane>();
  return *lane;
}

Lane* CudaBackend::Begin() {
  Lane& lane = ThisLane();
  if (!lane.error.ok()) return nullptr;
  if (absl::Status s = kc::SetDevice(device_); !s.ok()) {
    lane.Record(s);
    return nullptr;
  }
  if (lane.stream.handle() == nullptr) {
    absl::StatusOr<kc::Stream> stream = kc::Stream::Create();
    if (!stream.ok()) {
      lane.Record(stream.status());
      return nullptr;
    }
    absl::StatusOr<kc::BlasHandle> blas = kc::BlasHandle::Create(stream->handle());
    if (!blas.ok()) {
      lane.Record(blas.status());
      return nullptr;
    }
    absl::StatusOr<kc::PinnedBuffer> counter =
        kc::PinnedBuffer::Allocate(sizeof(unsigned long long));
    if (!counter.ok()) {
      lane.Record(counter.status());
      return nullptr;
    }
    lane.stream = *std::move(stream);
    lane.blas = *std::move(blas);
    lane.host_counter = *std::move(counter);
  }
  return &lane;
}

absl::Status CudaBackend::Finish(Lane& lane) {
  if (lane.stream.handle() != nullptr) lane.Record(lane.stream.Synchronize());
  return std::exchange(lane.error, absl::OkStatus());
}

std::unique_ptr<Activation> CudaBackend::NewActivation() {
  return std::make_unique<CudaActivation>();
}

absl::StatusOr<absl::Span<const float>> CudaBackend::HostRows(const Activation& a) {
  Lane& lane = ThisLane();
  const std::size_t count = a.rows() * a.cols();
  lane.host_rows.resize(count);
  if (Lane* ready = Begin(); ready != nullptr) {
    ready->Record(
        kc::CopyToHost(lane.host_rows.data(), Dev(a).data(), count * sizeof(float), lane.handle()));
  }
  if (absl::Status s = Finish(lane); !s.ok()) return s;
  return absl::MakeConstSpan(lane.host_rows);
}

void CudaBackend::Embed(const WeightMatrix& table, absl::Span<const std::int32_t> tokens,
                        Activation& out) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(Dev(out).Resize(tokens.size(), table.cols));
  lane->Record(kc::Reserve(lane->tokens, tokens.size() * sizeof(std::int32_t)));
  if (!lane->error.ok()) return;
  lane->Record(kc::CopyToDevice(lane->tokens.data(), tokens.data(),
                                tokens.size() * sizeof(std::int32_t), lane->handle()));
  lane->Record(kc::Embed(Weights(table), lane->tokens.as<std::int32_t>(), tokens.size(),
                         Dev(out).data(), lane->handle()));
}

void CudaBackend::RmsNorm(const Activation& x, const WeightVector& weight, float eps,
                          Activation& out) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(Dev(out).Resize(x.rows(), x.cols()));
  if (!lane->error.ok()) return;
  lane->Record(kc::RmsNorm(Dev(x).data(), nullptr, x.rows(), x.cols(), weight.data, eps,
                           Dev(out).data(), lane->handle()));
}

void CudaBackend::AddRmsNorm(Activation& x, const Activation& residual, const WeightVector& weight,
                             float eps, Activation& out) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(Dev(out).Resize(x.rows(), x.cols()));
  if (!lane->error.ok()) return;
  lane->Record(kc::AddRmsNorm(Dev(x).data(), Dev(residual).data(), nullptr, x.rows(), x.cols(),
                              weight.data, eps, Dev(out).data(), lane->handle()));
}

void CudaBackend::AddBias(Activation& y, const WeightVector& bias) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(kc::AddBias(Dev(y).data(), bias.data, y.rows(), y.cols(), lane->handle()));
}

void CudaBackend::SiluMul(Activation& gate, const Activation& up) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(
      kc::SiluMul(Dev(gate).data(), Dev(up).data(), gate.rows() * gate.cols(), lane->handle()));
}

std::size_t CudaBackend::SiluGate(Activation& gate, float threshold) {
  Lane* lane = Begin();
  if (lane == nullptr) return 0;
  lane->Record(kc::Reserve(lane->counter, sizeof(unsigned long long)));
  if (!lane->error.ok()) return 0;
  auto* counter = lane->counter.as<unsigned long long>();
  lane->Record(kc::ZeroOnDevice(counter, sizeof(unsigned long long), lane->handle()));
  lane->Record(kc::SiluGate(Dev(gate).data(), gate.rows() * gate.cols(), threshold, counter,
                            lane->handle()));
  lane->Record(kc::CopyToHost(lane->host_counter.data(), counter, sizeof(unsigned long long),
                              lane->handle()));
  lane->Record(lane->stream.Synchronize());
  if (!lane->error.ok()) return 0;
  return static_cast<std::size_t>(*lane->host_counter.as<unsigned long long>());
}

void CudaBackend::Multiply(Activation& a, const Activation& b) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(kc::Multiply(Dev(a).data(), Dev(b).data(), a.rows() * a.cols(), lane->handle()));
}

}  // namespace cuda_backend

absl::StatusOr<std::shared_ptr<Backend>> NewCudaBackend(int device_index) {
  const auto unusable = [device_index](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("device cuda:", device_index, ": ", why,
                     "; this model cannot load on CUDA (load it with device cpu)"));
  };
  absl::StatusOr<int> count = kernels::cuda::DeviceCount();
  if (!count.ok()) {
    return unusable(absl::StrCat("no usable CUDA device (", count.status().message(), ")"));
  }
  if (device_index < 0 || device_index >= *count) {
    return unusable(absl::StrCat("no such device: this machine has ", *count, " CUDA device(s)"));
  }
  if (absl::Status s = kernels::cuda::SetDevice(device_index); !s.ok()) {
    return unusable(s.message());
  }
  // Creating a stream initialises the device's context: a broken device fails here, at load.
  if (absl::StatusOr<kernels::cuda::Stream> probe = kernels::cuda::Stream::Create(); !probe.ok()) {
    return unusable(absl::StrCat("CUDA initialisation failed (", probe.status().message(), ")"));
  }
  return std::make_shared<cuda_backend::CudaBackend>(device_index);
}

std::string CudaRuntimeLabel() {
  const std::string version = kernels::cuda::RuntimeVersion();
  return version.empty() ? "none" : version;
}

std::string CudaDeviceLabel() {
  absl::StatusOr<int> count = kernels::cuda::DeviceCount();
  if (!count.ok() || *count == 0) return "none";
  absl::StatusOr<kernels::cuda::DeviceProperties> props = kernels::cuda::GetDeviceProperties(0);
  if (!props.ok()) return "none";
  return absl::StrCat(props->name, " (sm_", props->compute_major, props->compute_minor, ")");
}

}  // namespace ghost
