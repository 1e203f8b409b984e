// RAII owners of CUDA resources, as plain C++: device memory, pinned host memory, streams, events
// and cuBLAS handles. No CUDA header reaches callers: a stream is passed around as a
// StreamHandle, an opaque pointer that is the runtime's own stream type (cudaStream_t is
// `struct CUstream_st*`). Every call that can fail returns absl::Status naming the CUDA call and
// its file:line; nothing here aborts. Built only with nvcc (kernels/CMakeLists.txt).
#ifndef GHOST_KERNELS_CUDA_CUDA_MEMORY_H_
#define GHOST_KERNELS_CUDA_CUDA_MEMORY_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct CUstream_st;
struct CUevent_st;
struct cublasContext;

namespace ghost::kernels::cuda {

// A stream (nullptr: the legacy default stream). Ops on one stream run in issue order.
using StreamHandle = CUstream_st*;

// What CUDA offers on this machine, for build information and errors.
struct DeviceProperties {
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  std::size_t total_memory = 0;
  int multiprocessors = 0;
};

// The number of devices; UNAVAILABLE (naming the runtime's error) without a driver or GPU, and
// FAILED_PRECONDITION when the driver reports none.
absl::StatusOr<int> DeviceCount();
// Makes `device` current for the calling thread (cudaSetDevice); errors name the device.
absl::Status SetDevice(int device);
absl::StatusOr<DeviceProperties> GetDeviceProperties(int device);
// "13.0" style versions of the runtime linked in and of the installed driver ("" without one).
std::string RuntimeVersion();
std::string DriverVersion();

// Device memory (cudaMalloc), freed on destruction. Move-only; an empty buffer holds nothing.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // RESOURCE_EXHAUSTED when the device cannot hold `bytes`; 0 bytes gives an empty buffer.
  static absl::StatusOr<DeviceBuffer> Allocate(std::size_t bytes);
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  ~DeviceBuffer();

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Grows a buffer to at least `bytes` (contents not kept); keeps it when large enough.
absl::Status Reserve(DeviceBuffer& buffer, std::size_t bytes);

// Page-locked host memory (cudaMallocHost): the source of asynchronous host->device copies.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  static absl::StatusOr<PinnedBuffer> Allocate(std::size_t bytes);
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  ~PinnedBuffer();

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

absl::Status Reserve(PinnedBuffer& buffer, std::size_t bytes);

// A non-blocking stream (it does not synchronize with the legacy default stream).
class Stream {
 public:
  Stream() = default;
  static absl::StatusOr<Stream> Create();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  ~Stream();

  StreamHandle handle() const { return stream_; }
  // Waits for everything issued so far; reports any error of it.
  absl::Status Synchronize() const;

 private:
  StreamHandle stream_ = nullptr;
};

// An event without timing unless asked (cudaEventDisableTiming is cheaper to record and wait).
class Event {
 public:
  Event() = default;
  static absl::StatusOr<Event> Create(bool timing = false);
  // Without timing, and a host thread in Synchronize() sleeps instead of spinning: for a worker
  // that waits on one event for as long as a layer computes.
  static absl::StatusOr<Event> CreateBlocking();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  ~Event();

  absl::Status Record(StreamHandle stream) const;
  // Makes `stream` wait on the device for this event's last record; the host does not wait.
  absl::Status MakeStreamWait(StreamHandle stream) const;
  absl::Status Synchronize() const;
  // Milliseconds between `start`'s and this event's records (both timing events, completed).
  absl::StatusOr<float> MillisecondsSince(const Event& start) const;

 private:
  CUevent_st* event_ = nullptr;
};

// A cuBLAS handle bound to one stream, in the default math mode: fp32 products stay fp32 (TF32
// only where asked for, which we never do), so that they match the CPU's.
class BlasHandle {
 public:
  BlasHandle() = default;
  static absl::StatusOr<BlasHandle> Create(StreamHandle stream);
  BlasHandle(BlasHandle&& other) noexcept;
  BlasHandle& operator=(BlasHandle&& other) noexcept;
  ~BlasHandle();

  cublasContext* get() const { return handle_; }

 private:
  cublasContext* handle_ = nullptr;
};

// Asynchronous copies on `stream`. A pageable host source may be reused as soon as the call
// returns; a host destination is valid only after the stream is synchronized.
absl::Status CopyToDevice(void* device, const void* host, std::size_t bytes, StreamHandle stream);
absl::Status CopyToHost(void* host, const void* device, std::size_t bytes, StreamHandle stream);
absl::Status CopyOnDevice(void* to, const void* from, std::size_t bytes, StreamHandle stream);
absl::Status ZeroOnDevice(void* device, std::size_t bytes, StreamHandle stream);
// The first asynchronous error on the device (a kernel fault), if any; does not wait.
absl::Status PeekAsyncError();

}  // namespace ghost::kernels::cuda

#endif  // GHOST_KERNELS_CUDA_CUDA_MEMORY_H_
