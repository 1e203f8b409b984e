#include "kernels/cuda/cuda_memory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/blas_library.h"
#include "kernels/cuda/cuda_status.h"

namespace ghost::kernels::cuda {
namespace {

std::string VersionText(int version) {
  if (version <= 0) return "";
  return absl::StrCat(version / 1000, ".", version % 1000 / 10);
}

}  // namespace

absl::StatusOr<int> DeviceCount() {
  int count = 0;
  GHOST_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count));
  if (count == 0) return absl::FailedPreconditionError("the CUDA driver reports no device");
  return count;
}

absl::Status SetDevice(int device) {
  const cudaError_t error = cudaSetDevice(device);
  if (error == cudaSuccess) return absl::OkStatus();
  const absl::Status status = internal::CudaStatus(error, "cudaSetDevice", __FILE__, __LINE__);
  return absl::Status(status.code(), absl::StrCat("CUDA device ", device, ": ", status.message()));
}

absl::StatusOr<DeviceProperties> GetDeviceProperties(int device) {
  cudaDeviceProp prop;
  GHOST_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, device));
  DeviceProperties out;
  out.name = prop.name;
  out.compute_major = prop.major;
  out.compute_minor = prop.minor;
  out.total_memory = prop.totalGlobalMem;
  out.multiprocessors = prop.multiProcessorCount;
  return out;
}

std::string RuntimeVersion() {
  int version = 0;
  if (cudaRuntimeGetVersion(&version) != cudaSuccess) return "";
  return VersionText(version);
}

std::string DriverVersion() {
  int version = 0;
  if (cudaDriverGetVersion(&version) != cudaSuccess) return "";
  return VersionText(version);
}

// ---- DeviceBuffer

absl::StatusOr<DeviceBuffer> DeviceBuffer::Allocate(std::size_t bytes) {
  DeviceBuffer buffer;
  if (bytes == 0) return buffer;
  GHOST_CUDA_RETURN_IF_ERROR(cudaMalloc(&buffer.data_, bytes));
  buffer.bytes_ = bytes;
  return buffer;
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

// cudaFree's error (a fault of an earlier kernel) is reported by the next checked call instead.
DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) cudaFree(data_);
}

absl::Status Reserve(DeviceBuffer& buffer, std::size_t bytes) {
  if (buffer.bytes() >= bytes) return absl::OkStatus();
  buffer = DeviceBuffer();  // free first: the old and new need not fit together
  absl::StatusOr<DeviceBuffer> grown = DeviceBuffer::Allocate(bytes);
  if (!grown.ok()) return grown.status();
  buffer = *std::move(grown);
  return absl::OkStatus();
}

// ---- PinnedBuffer

absl::StatusOr<PinnedBuffer> PinnedBuffer::Allocate(std::size_t bytes) {
  PinnedBuffer buffer;
  if (bytes == 0) return buffer;
  GHOST_CUDA_RETURN_IF_ERROR(cudaMallocHost(&buffer.data_, bytes));
  buffer.bytes_ = bytes;
  return buffer;
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFreeHost(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) cudaFreeHost(data_);
}

absl::Status Reserve(PinnedBuffer& buffer, std::size_t bytes) {
  if (buffer.bytes() >= bytes) return absl::OkStatus();
  buffer = PinnedBuffer();
  absl::StatusOr<PinnedBuffer> grown = PinnedBuffer::Allocate(bytes);
  if (!grown.ok()) return grown.status();
  buffer = *std::move(grown);
  return absl::OkStatus();
}

// ---- Stream

absl::StatusOr<Stream> Stream::Create() {
  Stream stream;
  GHOST_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream.stream_, cudaStreamNonBlocking));
  return stream;
}

Stream::Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    stream_ = std::exchange(other.stream_, nullptr);
  }
  return *this;
}

Stream::~Stream() {
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

absl::Status Stream::Synchronize() const {
  GHOST_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return absl::OkStatus();
}

// ---- Event

absl::StatusOr<Event> Event::Create(bool timing) {
  Event event;
  GHOST_CUDA_RETURN_IF_ERROR(
      cudaEventCreateWithFlags(&event.event_, timing ? cudaEventDefault : cudaEventDisableTiming));
  return event;
}

absl::StatusOr<Event> Event::CreateBlocking() {
  Event event;
  GHOST_CUDA_RETURN_IF_ERROR(
      cudaEventCreateWithFlags(&event.event_, cudaEventDisableTiming | cudaEventBlockingSync));
  return event;
}

Event::Event(Event&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    if (event_ != nullptr) cudaEventDestroy(event_);
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

Event::~Event() {
  if (event_ != nullptr) cudaEventDestroy(event_);
}

absl::Status Event::Record(StreamHandle stream) const {
  GHOST_CUDA_RETURN_IF_ERROR(cudaEventRecord(event_, stream));
  return absl::OkStatus();
}

absl::Status Event::MakeStreamWait(StreamHandle stream) const {
  GHOST_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, event_, 0));
  return absl::OkStatus();
}

absl::Status Event::Synchronize() const {
  GHOST_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(event_));
  return absl::OkStatus();
}

absl::StatusOr<float> Event::MillisecondsSince(const Event& start) const {
  float ms = 0;
  GHOST_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start.event_, event_));
  return ms;
}

// ---- BlasHandle

absl::StatusOr<BlasHandle> BlasHandle::Create(StreamHandle stream) {
  absl::StatusOr<const internal::BlasLibrary*> blas = internal::Blas();
  if (!blas.ok()) return blas.status();
  BlasHandle handle;
  GHOST_CUBLAS_RETURN_IF_ERROR((*blas)->create(&handle.handle_));
  GHOST_CUBLAS_RETURN_IF_ERROR((*blas)->set_stream(handle.handle_, stream));
  GHOST_CUBLAS_RETURN_IF_ERROR((*blas)->set_math_mode(handle.handle_, CUBLAS_DEFAULT_MATH));
  return handle;
}

BlasHandle::BlasHandle(BlasHandle&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)) {}

BlasHandle& BlasHandle::operator=(BlasHandle&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) internal::BlasIfOpen()->destroy(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

BlasHandle::~BlasHandle() {
  if (handle_ != nullptr) internal::BlasIfOpen()->destroy(handle_);
}

// ---- Copies

absl::Status CopyToDevice(void* device, const void* host, std::size_t bytes, StreamHandle stream) {
  if (bytes == 0) return absl::OkStatus();
  GHOST_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream));
  return absl::OkStatus();
}

absl::Status CopyToHost(void* host, const void* device, std::size_t bytes, StreamHandle stream) {
  if (bytes == 0) return absl::OkStatus();
  GHOST_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream));
  return absl::OkStatus();
}

absl::Status CopyOnDevice(void* to, const void* from, std::size_t bytes, StreamHandle stream) {
  if (bytes == 0) return absl::OkStatus();
  GHOST_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, stream));
  return absl::OkStatus();
}

absl::Status ZeroOnDevice(void* device, std::size_t bytes, StreamHandle stream) {
  if (bytes == 0) return absl::OkStatus();
  GHOST_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(device, 0, bytes, stream));
  return absl::OkStatus();
}

absl::Status PeekAsyncError() {
  GHOST_CUDA_RETURN_IF_ERROR(cudaPeekAtLastError());
  return absl::OkStatus();
}

}  // namespace ghost::kernels::cuda
